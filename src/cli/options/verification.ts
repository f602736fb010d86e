/**
 * The quote-verification options shared by `verify-quote`, `verify`, `publish` and `audit --reverify`:
 * collateral source, verification time, trust root and accepted TCB statuses.
 */
import { DEFAULT_ACCEPTED_STATUSES } from "../../dcap/types.js";
import type { OptionSpec } from "../framework.js";

/** `context` (e.g. " for --reverify") is appended to each description. */
export function verificationOptions(context = ""): Record<string, OptionSpec> {
  return {
    collateral: { type: "string", valueName: "FILE", description: `collateral JSON (dcap-qvl QuoteCollateralV3 layout)${context}` },
    pccs: { type: "string", valueName: "URL", description: `fetch collateral from a PCCS / Intel PCS base URL${context}` },
    at: { type: "string", valueName: "UNIX_SECONDS", description: `verification time (default: now)${context}` },
    "root-ca": {
      type: "string",
      valueName: "FILE",
      description: `trust this root CA (PEM or DER) instead of Intel's; result is NOT GENUINE${context}`,
    },
    accept: { type: "string", valueName: "STATUS,...", description: `accepted TCB statuses (default ${DEFAULT_ACCEPTED_STATUSES.join(",")})${context}` },
  };
}
