import type { Command } from "../framework.js";
import { auditCommand } from "./audit.js";
import { checkSignatureCommand } from "./check-signature.js";
import { deployCommand } from "./deploy.js";
import { planned } from "./planned.js";
import { proveLivenessCommand } from "./prove-liveness.js";
import { verifyQuoteCommand } from "./verify-quote.js";

/** Every command, in the order `--help` lists them. One module per command under this folder. */
export const commands: Command[] = [
  planned("demo", "run the whole flow end to end on a simulated KMS and a local chain", "", 6),
  planned("pull", "fetch a KMS's bootstrap info and write one normalized JSON document", "(--kms URL | --certs-dir DIR | --file FILE) [--out FILE] [--json]", 4),
  planned("check-certs", "run the operator's checklist on a KMS certs dir", "--certs-dir DIR [--domain D] [--json]", 4),
  verifyQuoteCommand,
  planned("verify", "pull, check, verify the quote, the key binding and the event log", "(--kms URL | --certs-dir DIR | --file FILE) [--json]", 4),
  planned("simulate-kms", "run a simulated dstack KMS (HTTP API, real keys, forged quote)", "--port P --certs-dir DIR [--host 127.0.0.1] [--auto-bootstrap DOMAIN]", 4),
  deployCommand,
  planned("publish", "verify a KMS and register it on the registry contract", "--registry ADDR --rpc URL (--kms URL | --certs-dir DIR | --file FILE) [--dry-run] [--json]", 6),
  proveLivenessCommand,
  checkSignatureCommand,
  auditCommand,
];
