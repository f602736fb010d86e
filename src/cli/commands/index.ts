/**
 * The command list: every command's name and one-line summary, in the order `--help` lists them, and a loader
 * of the module that implements it. Running one command loads only that command's module (and what it
 * imports), so a command's start-up cost is its own; this list is the one place in the source tree that
 * imports modules on demand.
 */
import type { Command, CommandSpec } from "../framework.js";

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandSpec>;
}

export const commands: readonly CommandEntry[] = [
  {
    name: "demo",
    summary: "run the whole flow end to end on a simulated KMS and a local chain",
    load: async () => (await import("./demo.js")).demoCommand,
  },
  {
    name: "pull",
    summary: "fetch a KMS's bootstrap info and write one normalized JSON document",
    load: async () => (await import("./pull.js")).pullCommand,
  },
  {
    name: "check-certs",
    summary: "run the operator's checklist on a KMS certs dir",
    load: async () => (await import("./check-certs.js")).checkCertsCommand,
  },
  {
    name: "verify-quote",
    summary: "verify a TDX/SGX quote, an SEV-SNP report or a Nitro document locally (or any dstack attestation carrying one)",
    load: async () => (await import("./verify-quote.js")).verifyQuoteCommand,
  },
  {
    name: "verify",
    summary: "pull, check, verify the quote, the key binding and the event log",
    load: async () => (await import("./verify.js")).verifyCommand,
  },
  {
    name: "simulate-kms",
    summary: "run a simulated dstack KMS (HTTP API, real keys, forged quote)",
    load: async () => (await import("./simulate-kms.js")).simulateKmsCommand,
  },
  {
    name: "deploy",
    summary: "deploy the KmsRegistry contract and write deployments/<chainId>.json",
    load: async () => (await import("./deploy.js")).deployCommand,
  },
  {
    name: "publish",
    summary: "verify a KMS and register it on the registry contract",
    load: async () => (await import("./publish.js")).publishCommand,
  },
  {
    name: "recheck",
    summary: "re-verify a registered KMS's quote on chain with newer Intel collateral (permissionless)",
    load: async () => (await import("./recheck.js")).recheckCommand,
  },
  {
    name: "prove-liveness",
    summary: "prove on chain that a live KMS holds its root key",
    load: async () => (await import("./prove-liveness.js")).proveLivenessCommand,
  },
  {
    name: "check-signature",
    summary: "check KMS-signed app keys, env keys and key chains off and on chain",
    load: async () => (await import("./check-signature.js")).checkSignatureCommand,
  },
  {
    name: "audit",
    summary: "rebuild the registry's history from events and re-check every quote",
    load: async () => (await import("./audit.js")).auditCommand,
  },
  {
    name: "check-dstack-kms",
    summary: "verify a dstack DstackKms contract's KMS record, its allow-lists and its history",
    load: async () => (await import("./check-dstack-kms.js")).checkDstackKmsCommand,
  },
  {
    name: "watch",
    summary: "follow the registry as blocks arrive and report findings (JSON lines, webhook)",
    load: async () => (await import("./watch.js")).watchCommand,
  },
  {
    name: "dashboard",
    summary: "serve a live web page of the registry for auditors (and the same data as JSON)",
    load: async () => (await import("./dashboard.js")).dashboardCommand,
  },
];

/** The command called `name`, its module loaded; undefined when there is none. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  const entry = commands.find((c) => c.name === name);
  return entry ? { name: entry.name, summary: entry.summary, ...(await entry.load()) } : undefined;
}
