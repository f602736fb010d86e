/**
 * What Intel's two signed JSON documents, TCB Info and QE Identity, have in common: their text is read
 * strictly (valid JSON, no duplicate key at any depth, every field of the expected type, a failure
 * naming the field's path), they share a header (id, version, issue date, next update, TCB evaluation
 * data number) that must be current at the verification time, and both grade enclaves (the QE, a
 * TDX module) by ISVSVN with the same kind of TCB level.
 */
import { hexToBytes } from "../core/bytes.js";
import { errorMessage, VerificationError, type ErrorCode } from "../core/errors.js";
import { isoSeconds, parseRfc3339 } from "../core/time.js";
import { findDuplicateKey } from "./strict-json.js";
import { TCB_STATUSES, type TcbStatus } from "./types.js";

/** Fields the two Intel-signed collateral documents (TCB Info, QE Identity) share. */
export interface CollateralDocument {
  id: string;
  version: number;
  /** unix seconds */
  issueDate: number;
  nextUpdate: number;
  issueDateText: string;
  nextUpdateText: string;
  tcbEvaluationDataNumber: number;
}

/** A TCB level of an enclave (the QE, a TDX module): its minimum ISVSVN and the status it gives. */
export interface EnclaveTcbLevel {
  isvSvn: number;
  tcbDate: string;
  status: TcbStatus;
  advisoryIds: string[];
}

export type JsonObject = Record<string, unknown>;

/**
 * Strict field readers for one document. Every failure is a `VerificationError` with the document's
 * code (`TCB_INFO_INVALID`, `QE_IDENTITY_INVALID`), the message `<name>: <path> <problem>` and the
 * path as `details.field`.
 */
export class DocumentReader {
  constructor(
    readonly code: ErrorCode,
    readonly name: string,
  ) {}
  fail(path: string, msg: string): never {
    throw new VerificationError(this.code, `${this.name}: ${path} ${msg}`, { details: { field: path } });
  }
  obj(v: unknown, path: string): JsonObject {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "must be an object");
    return v as JsonObject;
  }
  arr(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, "must be an array");
    return v;
  }
  str(o: JsonObject, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== "string") this.fail(`${path}${k}`, v === undefined ? "is missing" : "must be a string");
    return v;
  }
  int(o: JsonObject, k: string, path: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = o[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      this.fail(`${path}${k}`, v === undefined ? "is missing" : `must be an integer 0…${max}`);
    }
    return v;
  }
  hex(o: JsonObject, k: string, path: string, len: number): Uint8Array {
    const s = this.str(o, k, path);
    if (s.length !== len * 2 || !/^[0-9a-fA-F]*$/.test(s)) this.fail(`${path}${k}`, `must be ${len} bytes of hex, got ${JSON.stringify(s.slice(0, 40))}`);
    return hexToBytes(s, `${this.name}: ${path}${k}`);
  }
  date(o: JsonObject, k: string, path: string): number {
    const s = this.str(o, k, path);
    const t = parseRfc3339(s);
    if (t === undefined) this.fail(`${path}${k}`, `is not an RFC 3339 date with a zone: ${JSON.stringify(s)}`);
    return t;
  }
  status(o: JsonObject, k: string, path: string): TcbStatus {
    const s = this.str(o, k, path);
    if (!(TCB_STATUSES as readonly string[]).includes(s)) this.fail(`${path}${k}`, `is not a known TCB status: ${JSON.stringify(s)}`);
    return s as TcbStatus;
  }
  advisories(o: JsonObject, path: string): string[] {
    const v = o.advisoryIDs;
    if (v === undefined) return [];
    const a = this.arr(v, `${path}advisoryIDs`);
    return a.map((x, i) => (typeof x === "string" ? x : this.fail(`${path}advisoryIDs[${i}]`, "must be a string")));
  }
  /** An enclave TCB level at `path`: `{ tcb: { isvsvn }, tcbDate, tcbStatus, advisoryIDs? }`. */
  enclaveLevel(lv: unknown, path: string): EnclaveTcbLevel {
    const l = this.obj(lv, path);
    return {
      isvSvn: this.int(this.obj(l.tcb, `${path}.tcb`), "isvsvn", `${path}.tcb.`, 0xffff),
      tcbDate: this.str(l, "tcbDate", `${path}.`),
      status: this.status(l, "tcbStatus", `${path}.`),
      advisoryIds: this.advisories(l, `${path}.`),
    };
  }
}

/**
 * Parse a signed document's text to its top-level object. A duplicate key at any depth is rejected:
 * `JSON.parse` would keep the last value, rapidjson in Intel's verifier the first, and the two must
 * never read different documents.
 */
export function parseDocumentText(text: string, doc: DocumentReader): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    doc.fail("document", `is not valid JSON (${errorMessage(e)})`);
  }
  const dup = findDuplicateKey(text);
  if (dup !== undefined) doc.fail(dup, "appears more than once (duplicate JSON key; JSON parsers disagree on which value counts)");
  return doc.obj(v, "document");
}

/**
 * The document is current at `now`: `issueDate ≤ now ≤ nextUpdate`. Throws `VerificationError`
 * `<code>_NOT_YET_VALID` or `<code>_EXPIRED`, naming the document as `field`.
 */
export function checkDocumentCurrent(doc: CollateralDocument, field: string, code: "TCB_INFO" | "QE_IDENTITY", now: number): void {
  if (now < doc.issueDate) throw new VerificationError(`${code}_NOT_YET_VALID`, `${field} issueDate ${doc.issueDateText} is after the verification time ${isoSeconds(now)}`);
  if (now > doc.nextUpdate) throw new VerificationError(`${code}_EXPIRED`, `${field} expired at nextUpdate ${doc.nextUpdateText} (verification time ${isoSeconds(now)})`);
}
