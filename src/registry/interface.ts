/**
 * The ABI the publishing, liveness, dapp-check and audit code uses: the contract engineer's
 * artifact-typed `kmsRegistryAbi` (functions, events and custom errors, so reverts are named).
 * These modules only rely on the fixed external interface of issue #5 plus AccessControl's `hasRole`.
 */
import { kmsRegistryAbi } from "./abi.js";

export const registryInterfaceAbi = kmsRegistryAbi;

/** The events the audit replays (and the allowlist / role events it ignores). */
export const registryEventsAbi = kmsRegistryAbi.filter((x) => x.type === "event");
