/**
 * Intel's QE Identity document (`qe_identity`, the `enclaveIdentity` object): what the Quoting Enclave
 * that signed a quote must be (its MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under masks) and the
 * TCB levels its ISVSVN is graded by. Parsed strictly (see `intel-document.ts`), then checked against
 * the quote's QE report.
 */
import { bytesToPlainHex } from "../core/bytes.js";
import { VerificationError, type ErrorCode } from "../core/errors.js";
import { DocumentReader, parseDocumentText, type CollateralDocument, type EnclaveTcbLevel } from "./intel-document.js";
import type { EnclaveReport } from "./quote.js";
import type { StatusWithAdvisories } from "./tcb-policy.js";

export interface QeIdentity extends CollateralDocument {
  miscselect: number;
  miscselectMask: number;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  tcbLevels: EnclaveTcbLevel[];
}

/** Parse the `qe_identity` text (the `enclaveIdentity` object). Throws `VerificationError` `QE_IDENTITY_INVALID` (malformed, or a duplicate key at any depth). */
export function parseQeIdentity(text: string): QeIdentity {
  const d = new DocumentReader("QE_IDENTITY_INVALID", "qe_identity");
  const o = parseDocumentText(text, d);
  const le32 = (b: Uint8Array) => (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
  return {
    id: d.str(o, "id", ""),
    version: d.int(o, "version", "", 255),
    issueDate: d.date(o, "issueDate", ""),
    nextUpdate: d.date(o, "nextUpdate", ""),
    issueDateText: o.issueDate as string,
    nextUpdateText: o.nextUpdate as string,
    tcbEvaluationDataNumber: d.int(o, "tcbEvaluationDataNumber", ""),
    miscselect: le32(d.hex(o, "miscselect", "", 4)),
    miscselectMask: le32(d.hex(o, "miscselectMask", "", 4)),
    attributes: d.hex(o, "attributes", "", 16),
    attributesMask: d.hex(o, "attributesMask", "", 16),
    mrSigner: d.hex(o, "mrsigner", "", 32),
    isvProdId: d.int(o, "isvprodid", "", 0xffff),
    tcbLevels: d.arr(o.tcbLevels, "tcbLevels").map((lv, i) => d.enclaveLevel(lv, `tcbLevels[${i}]`)),
  };
}

function fail(code: ErrorCode, message: string): never {
  throw new VerificationError(code, message);
}

const hx = bytesToPlainHex;

/**
 * The identity is the one for this kind of quote: a TDX quote is signed by the TD Quoting Enclave
 * (`TD_QE`, version 2 or 3), an SGX quote by the SGX one (`QE`, version 2). Throws `VerificationError`
 * `QE_IDENTITY_MISMATCH`.
 */
export function checkQeIdentityForQuote(qe: QeIdentity, tdx: boolean): void {
  const ok = tdx ? qe.id === "TD_QE" && (qe.version === 2 || qe.version === 3) : qe.id === "QE" && qe.version === 2;
  if (!ok) fail("QE_IDENTITY_MISMATCH", `qe_identity is ${qe.id} v${qe.version}, a ${tdx ? "TDX quote needs TD_QE v2/v3" : "SGX quote needs QE v2"}`);
}

/**
 * The QE report against the QE identity: same MRSIGNER and ISVPRODID, not DEBUG, MISCSELECT and
 * ATTRIBUTES equal under the identity's masks; then the first TCB level its ISVSVN reaches gives the
 * QE's TCB status. Throws `VerificationError` `QE_MRSIGNER_MISMATCH`, `QE_DEBUG`, `QE_ISVPRODID_MISMATCH`,
 * `QE_MISCSELECT_MISMATCH`, `QE_ATTRIBUTES_MISMATCH` or `QE_TCB_LEVEL_NOT_FOUND`.
 */
export function checkQeIdentity(qe: QeIdentity, report: Pick<EnclaveReport, "mrSigner" | "attributes" | "isvProdId" | "miscSelect" | "isvSvn">): StatusWithAdvisories {
  if (hx(report.mrSigner) !== hx(qe.mrSigner)) fail("QE_MRSIGNER_MISMATCH", `QE report MRSIGNER ${hx(report.mrSigner)} differs from qe_identity's ${hx(qe.mrSigner)}`);
  if (report.attributes[0]! & 0x02) fail("QE_DEBUG", "the QE report has the DEBUG attribute set");
  if (report.isvProdId !== qe.isvProdId) fail("QE_ISVPRODID_MISMATCH", `QE report ISVPRODID ${report.isvProdId} differs from qe_identity's ${qe.isvProdId}`);
  if ((report.miscSelect & qe.miscselectMask) >>> 0 !== (qe.miscselect & qe.miscselectMask) >>> 0) {
    fail("QE_MISCSELECT_MISMATCH", `QE report MISCSELECT 0x${report.miscSelect.toString(16)} does not match qe_identity under its mask`);
  }
  for (let i = 0; i < 16; i++) {
    const m = qe.attributesMask[i]!;
    if ((report.attributes[i]! & m) !== (qe.attributes[i]! & m)) fail("QE_ATTRIBUTES_MISMATCH", `QE report ATTRIBUTES ${hx(report.attributes)} do not match qe_identity under its mask`);
  }
  if (qe.tcbLevels.length === 0) fail("QE_TCB_LEVEL_NOT_FOUND", "qe_identity lists no TCB levels");
  const lv = qe.tcbLevels.find((l) => report.isvSvn >= l.isvSvn);
  if (!lv) fail("QE_TCB_LEVEL_NOT_FOUND", `QE ISVSVN ${report.isvSvn} is below the minimum required by qe_identity (${Math.min(...qe.tcbLevels.map((l) => l.isvSvn))})`);
  return { status: lv.status, advisoryIds: lv.advisoryIds };
}
