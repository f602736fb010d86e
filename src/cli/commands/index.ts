import type { Command } from "../framework.js";
import { auditCommand } from "./audit.js";
import { checkSignatureCommand } from "./check-signature.js";
import { demoCommand } from "./demo.js";
import { deployCommand } from "./deploy.js";
import { proveLivenessCommand } from "./prove-liveness.js";
import { publishCommand } from "./publish.js";
import { verifyQuoteCommand } from "./verify-quote.js";
import { checkCertsCommand, pullCommand, simulateKmsCommand, verifyCommand } from "./kms-commands.js";

/** Every command, in the order `--help` lists them. One module per command under this folder. */
export const commands: Command[] = [
  demoCommand,
  pullCommand,
  checkCertsCommand,
  verifyQuoteCommand,
  verifyCommand,
  simulateKmsCommand,
  deployCommand,
  publishCommand,
  proveLivenessCommand,
  checkSignatureCommand,
  auditCommand,
];
