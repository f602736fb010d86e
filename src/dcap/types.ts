/**
 * The shared vocabulary of DCAP verification: collateral, TCB statuses, the check trail and the
 * verified result. The parser and verifier, the collateral sources, the test forge and the KMS code
 * all code against these.
 */
import type { Hex } from "../core/bytes.js";

/**
 * Quote collateral, the in-memory form of dcap-qvl's `QuoteCollateralV3` JSON.
 * `tcbInfo` / `qeIdentity` are the exact signed JSON texts; never re-serialise them.
 */
export interface Collateral {
  pckCrlIssuerChain: string;
  rootCaCrl: Uint8Array;
  pckCrl: Uint8Array;
  tcbInfoIssuerChain: string;
  tcbInfo: string;
  tcbInfoSignature: Uint8Array;
  qeIdentityIssuerChain: string;
  qeIdentity: string;
  qeIdentitySignature: Uint8Array;
  /** PEM, leaf first; when present it overrides the chain embedded in the quote. */
  pckCertificateChain?: string;
}

export const TCB_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

/** Default policy: statuses accepted without an explicit `--accept`. */
export const DEFAULT_ACCEPTED_STATUSES: readonly TcbStatus[] = ["UpToDate", "SWHardeningNeeded"];

/** One named verification step, in the order performed. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export type ReportType = "td10" | "td15" | "sgx";

/** The verified workload report, hex as `0x` lower case (JSON-ready). */
export interface ReportJson {
  type: ReportType;
  [field: string]: string | number | ReportType;
}

export interface PckInfoJson {
  fmspc: Hex;
  pceId: Hex;
  ca: "platform" | "processor";
  ppid?: Hex;
  cpuSvn?: Hex;
  pceSvn?: number;
  sgxType?: number;
}

/** One rule of the acceptance policy applied on top of Intel's verification. */
export interface PolicyRule {
  name: string;
  ok: boolean;
  detail: string;
}

/** Intel's verdict: the DCAP rules (signatures, chains, revocation, collateral validity, TCB status). */
export interface VerificationVerdict {
  /** every DCAP step passed (the TCB status is not Revoked) */
  ok: boolean;
  /** the TCB status; null when verification stopped before it was established ("Revoked" when it was revoked) */
  status: TcbStatus | null;
  advisoryIds: string[];
  /** the chain ended at the pinned Intel SGX Root CA (false under another root, or when no chain was checked) */
  genuine: boolean;
  /** the DCAP steps, without the policy step `report.policy` */
  checks: Check[];
}

/**
 * This verifier's acceptance policy on top of Intel's verdict: the accepted TCB statuses
 * (`tcb.status`) and the report rules (`enclave.debug`; `td.mr-service-td`,
 * `td.attributes.reserved`, `td.debug`, `td.sept-ve-disable`).
 */
export interface PolicyVerdict {
  /** every rule passed */
  ok: boolean;
  rules: PolicyRule[];
}

/**
 * Result of a successful verification: Intel's rules and the report rules passed. A TCB status
 * outside the accepted ones still returns a result, with `accepted: false` (`policy.ok: false`).
 */
export interface VerifiedQuote {
  status: Exclude<TcbStatus, "Revoked">;
  advisoryIds: string[];
  /** true only when the chain ended at the pinned Intel SGX Root CA. */
  genuine: boolean;
  warnings: string[];
  checks: Check[];
  report: ReportJson;
  pck: PckInfoJson;
  /** the TCB status is one of the accepted ones (`acceptStatuses`); the same as `policy.ok` */
  accepted: boolean;
  verification: VerificationVerdict;
  policy: PolicyVerdict;
  platformStatus: { status: TcbStatus; advisoryIds: string[] };
  qeStatus: { status: TcbStatus; advisoryIds: string[] };
  collateral: {
    tcbInfoIssueDate: string;
    tcbInfoNextUpdate: string;
    qeIdentityIssueDate: string;
    qeIdentityNextUpdate: string;
    pckCrlThisUpdate: string;
    pckCrlNextUpdate: string;
    rootCaCrlThisUpdate: string;
    rootCaCrlNextUpdate: string;
    /** The earliest of the four `nextUpdate`s: the collateral as a whole is valid until then. */
    earliestNextUpdate: string;
  };
}
