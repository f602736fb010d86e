/**
 * The differential proof that the on-chain DCAP verifier (contracts/dcap/DcapVerifier.sol) and the TypeScript
 * one (src/dcap/verify.ts) are one verifier, shared by test/contracts/dcap-differential.test.ts (bounded) and
 * bench/dcap-differential.bench.ts (≥ 1,000 seeded random worlds): the TDX rejection paths of the TypeScript
 * tests rebuilt with the forge and signed correctly, a seeded generator of random forged worlds, and one run
 * of both verifiers on a case compared in their shared terms (accept/reject, status, advisory IDs, FMSPC,
 * failing step).
 */
import { bytesToHex, type Hex } from "../../src/core/bytes.js";
import { TCB_STATUSES, type Collateral } from "../../src/dcap/types.js";
import { outcomeDifferences, revertDataOf, type VerifierOutcome } from "../../src/registry/onchain-verify.js";
import { decodeVerifierRevert, toOnChainCollateral, verifierRootArgs } from "../../src/registry/verifier.js";
import { createForgeWorld, FORGE_DEFAULT_NOW, forgeQuote, forgeSignCollateralText, type ForgeQuoteOptions, type ForgeTcbLevel, type ForgeWorld, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import { rng } from "../helpers/rng.js";
import { tsOutcome } from "./dcap-verifier-lib.js";

/** The forge's default platform: CPUSVN, PCESVN and TEE_TCB_SVN (module SVN 6, major version 1). */
const CPU = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
const PCESVN = 11;
const TEE = [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const DAY = 86_400;
/** Every case's keys come from this seed: one trust root, so one verifier per run. */
export const DIFF_FORGE_SEED = "dcap-differential";

export interface DiffCase {
  name: string;
  world?: ForgeWorldOptions;
  quote?: ForgeQuoteOptions | ((w: ForgeWorld) => ForgeQuoteOptions);
  collateral?: (c: Collateral, w: ForgeWorld) => Collateral | Promise<Collateral>;
  /** verify at this offset (seconds) from the world's time */
  atOffset?: number;
}

function level(tcbStatus: string, advisoryIDs?: string[], over: Partial<ForgeTcbLevel> = {}): ForgeTcbLevel {
  return { sgx: CPU, pcesvn: PCESVN, tdx: TEE, tcbStatus, ...(advisoryIDs ? { advisoryIDs } : {}), ...over };
}

const NOW = FORGE_DEFAULT_NOW;

/** The collateral with `doc`'s text edited (`from` → `to`, which repeats a key) and re-signed with the world's TCB Signing key. */
function dupKey(doc: "tcbInfo" | "qeIdentity", from: string, to: string): DiffCase["collateral"] {
  return (c, w) => {
    const text = c[doc].replace(from, to);
    if (text === c[doc]) throw new Error(`${doc} has no ${from}`);
    const sig = forgeSignCollateralText(w, text);
    return doc === "tcbInfo" ? { ...c, tcbInfo: text, tcbInfoSignature: sig } : { ...c, qeIdentity: text, qeIdentitySignature: sig };
  };
}
const moduleOutOfDate = [{ id: "TDX_01", tcbLevels: [{ isvsvn: 7, tcbStatus: "UpToDate" }, { isvsvn: 2, tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-MOD"] }] }];

/**
 * Every TDX path of the TypeScript verifier's forge tests (test/attestation/forge-verify.test.ts,
 * signer-pin.test.ts): each status, each rejection, each accepted edge, under the forge's root. Cases that
 * need a relaxed TypeScript policy (allowDebug) or an SGX quote are left out: the contract verifies TDX
 * under the fixed dstack KMS policy only.
 */
export const FORGE_CASES: DiffCase[] = [
  { name: "default world (UpToDate)" },
  { name: "body fields", quote: { reportData: "ab".repeat(64), mrTd: "cd".repeat(48), rtMrs: ["01", "02", "03", "04"].map((b) => b.repeat(48)) } },
  { name: "v5 TD10", quote: { version: 5, body: "td10" } },
  { name: "v5 TD15", quote: { version: 5, body: "td15" } },
  { name: "trailing bytes", quote: { trailing: "00".repeat(70) } },
  { name: "Intel's names (forged keys)", world: { intelNames: true } },
  ...["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"].map((s) => ({
    name: `status ${s} with an advisory`,
    world: { tcbInfo: { tcbLevels: [level(s, ["INTEL-SA-00001"])] } },
  })),
  { name: "Revoked level", world: { tcbInfo: { tcbLevels: [level("Revoked", ["INTEL-SA-00002"])] } } },
  {
    name: "first matching level wins",
    world: { tcbInfo: { tcbLevels: [level("ConfigurationNeeded", ["INTEL-SA-00004"]), level("SWHardeningNeeded", ["INTEL-SA-00003"], { sgx: CPU.map((v, i) => (i === 0 ? v - 1 : v)) })] } },
  },
  { name: "PCESVN below every level", world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { pcesvn: PCESVN + 1 })] } } },
  { name: "SGX component below every level", world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { sgx: CPU.map((v, i) => (i === 3 ? v + 1 : v)) })] } } },
  { name: "TDX component ≥ 2 below every level", world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 2 ? v + 1 : v)) })] } } },
  { name: "level without 16 components", world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { sgx: CPU.slice(0, 15) })] } } },
  {
    name: "advisory IDs merge (level, module, QE)",
    world: {
      tcbInfo: { tcbLevels: [level("SWHardeningNeeded", ["INTEL-SA-A", "INTEL-SA-B"])], tdxModuleIdentities: [{ id: "TDX_01", tcbLevels: [{ isvsvn: 4, tcbStatus: "UpToDate", advisoryIDs: ["INTEL-SA-B", "INTEL-SA-C"] }] }] },
      qeIdentity: { tcbLevels: [{ isvsvn: 4, tcbStatus: "SWHardeningNeeded", advisoryIDs: ["INTEL-SA-C", "INTEL-SA-D"] }] },
    },
  },
  { name: "QE OutOfDate over platform UpToDate", world: { qeIdentity: { tcbLevels: [{ isvsvn: 7, tcbStatus: "UpToDate" }, { isvsvn: 5, tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-QE"] }] } } },
  { name: "module OutOfDate + ConfigurationNeeded", world: { tcbInfo: { tcbLevels: [level("ConfigurationNeeded", ["INTEL-SA-LVL"])], tdxModuleIdentities: moduleOutOfDate } } },
  { name: "module OutOfDate + ConfigurationAndSWHardeningNeeded", world: { tcbInfo: { tcbLevels: [level("ConfigurationAndSWHardeningNeeded")], tdxModuleIdentities: moduleOutOfDate } } },
  { name: "module OutOfDate + SWHardeningNeeded", world: { tcbInfo: { tcbLevels: [level("SWHardeningNeeded")], tdxModuleIdentities: moduleOutOfDate } } },
  {
    name: "QE OutOfDate + ConfigurationNeeded",
    world: { tcbInfo: { tcbLevels: [level("ConfigurationNeeded")] }, qeIdentity: { tcbLevels: [{ isvsvn: 7, tcbStatus: "UpToDate" }, { isvsvn: 4, tcbStatus: "OutOfDate" }] } },
  },
  { name: "tee_tcb_svn[1] > 0 skips components 0–1", world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 0 ? 9 : i === 1 ? 2 : v)) })] } } },
  {
    name: "tee_tcb_svn[1] = 0 compares components 0–1",
    world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 0 ? 9 : i === 1 ? 0 : v)) })] } },
    quote: { teeTcbSvn: "06000300000000000000000000000000" },
  },
  { name: "no module identity for the major version", world: { tcbInfo: { tdxModuleIdentities: [{ id: "TDX_03", tcbLevels: [{ isvsvn: 1, tcbStatus: "UpToDate" }] }] } } },
  { name: "module MRSIGNER mismatch", quote: { mrSignerSeam: "11".repeat(48) } },
  { name: "SEAM attributes outside the mask", quote: { seamAttributes: "0100000000000000" } },
  { name: "module SVN below every module level", quote: { teeTcbSvn: "01010300000000000000000000000000" } },
  { name: "TCB Info without tdxModule", world: { tcbInfo: { tdxModule: null } } },
  {
    name: "module version 0",
    world: { tcbInfo: { tcbLevels: [level("UpToDate", undefined, { tdx: TEE.map((v, i) => (i === 1 ? 0 : v)) })] } },
    quote: { teeTcbSvn: "06000300000000000000000000000000" },
  },
  { name: "PCK leaf revoked", world: { revoke: { pckLeaf: true } } },
  { name: "PCK CA revoked", world: { revoke: { pckCa: true } } },
  { name: "TCB Signing revoked", world: { revoke: { tcbSigning: true } } },
  { name: "root revoked by its own CRL", world: { revoke: { root: true } } },
  { name: "PCK CRL wrong key", world: { pckCrl: { signWithWrongKey: true } } },
  { name: "root CRL wrong key", world: { rootCrl: { signWithWrongKey: true } } },
  { name: "PCK CRL expired", world: { pckCrl: { nextUpdate: NOW - 1 } } },
  { name: "root CRL expired", world: { rootCrl: { nextUpdate: NOW - 1 } } },
  { name: "PCK CRL not yet issued", world: { pckCrl: { thisUpdate: NOW + 1 } } },
  { name: "root CRL as the PCK CRL", collateral: (c) => ({ ...c, pckCrl: c.rootCaCrl }) },
  { name: "PCK CRL as the root CRL", collateral: (c) => ({ ...c, rootCaCrl: c.pckCrl }) },
  {
    name: "Processor-CA CRL for a Platform-CA leaf",
    collateral: async (c) => ({ ...c, pckCrl: (await createForgeWorld({ seed: DIFF_FORGE_SEED, ca: "processor" })).collateral.pckCrl }),
  },
  { name: "Processor-CA world", world: { ca: "processor" } },
  { name: "TCB Info expired", world: { tcbInfo: { nextUpdate: NOW - 1 } } },
  { name: "TCB Info issued in the future", world: { tcbInfo: { issueDate: NOW + 1 } } },
  { name: "QE Identity expired", world: { qeIdentity: { nextUpdate: NOW - 1 } } },
  { name: "QE Identity issued in the future", world: { qeIdentity: { issueDate: NOW + 1 } } },
  { name: "TCB Info wrong key", world: { tcbInfo: { signWithWrongKey: true } } },
  { name: "QE Identity wrong key", world: { qeIdentity: { signWithWrongKey: true } } },
  { name: "re-serialised TCB Info", collateral: (c) => ({ ...c, tcbInfo: JSON.stringify(JSON.parse(c.tcbInfo), null, 1) }) },
  { name: "wrong FMSPC in TCB Info", world: { tcbInfo: { fmspc: "00906ED50000" } } },
  { name: "TCB Info for another PCE-ID", world: { tcbInfo: { edit: (t) => ({ ...t, pceId: "0100" }) } } },
  { name: "SGX TCB Info for a TDX quote", world: { tcbInfo: { edit: (o) => ({ ...o, id: "SGX" }) } } },
  { name: "SGX QE identity for a TDX quote", world: { qeIdentity: { id: "QE" } } },
  { name: "TCB Signing cert expired", world: { tcbSigningValidity: { notAfter: NOW - 1 } } },
  { name: "QE MRSIGNER mismatch", world: { qeIdentity: { mrsigner: "00".repeat(32) } } },
  { name: "QE ISVPRODID mismatch", quote: { qe: { isvProdId: 3 } } },
  { name: "QE MISCSELECT mismatch", quote: { qe: { miscSelect: 1 } } },
  { name: "QE ATTRIBUTES mismatch under the mask", quote: { qe: { attributes: "35000000000000000000000000000000" } } },
  { name: "QE ATTRIBUTES differ outside the mask", quote: { qe: { attributes: "11000000000000001234000000000000" } } },
  { name: "QE ISVSVN below every level", quote: { qe: { isvSvn: 3 } } },
  { name: "QE in debug mode", quote: { qe: { attributes: "17000000000000000000000000000000" } } },
  { name: "QE report wrong key", quote: { signQeReportWithWrongKey: true } },
  { name: "QE report binding broken", quote: { breakQeBinding: true } },
  { name: "QE report data tail not zero", quote: { qe: { reportDataTail: "01".repeat(32) } } },
  { name: "quote body wrong key", quote: { signQuoteWithWrongKey: true } },
  { name: "QE auth data empty", quote: { qeAuthData: "" } },
  { name: "QE auth data 16 bytes", quote: { qeAuthData: "00".repeat(16) } },
  { name: "QE auth data 100 bytes", quote: { qeAuthData: "ab".repeat(100) } },
  { name: "PCK leaf not yet valid", world: { pckLeafValidity: { notBefore: NOW + 1 } } },
  { name: "PCK leaf expired", world: { pckLeafValidity: { notAfter: NOW - 1 } } },
  { name: "PCK CA expired", world: { pckCaValidity: { notAfter: NOW - 1 } } },
  { name: "PCK leaf wrong CA key", world: { certSignedByWrongKey: { pckLeaf: true } } },
  { name: "PCK CA wrong root key", world: { certSignedByWrongKey: { pckCa: true } } },
  { name: "TCB Signing wrong root key", world: { certSignedByWrongKey: { tcbSigning: true } } },
  { name: "CA certificate as the PCK leaf", world: { pckLeafIsCa: true } },
  { name: "PCK leaf without the SGX extension", world: { omitSgxExtension: true } },
  { name: "a PCK chain from another forged world", quote: (w) => ({ pemChain: w.pckChainPem.replace(/^[\s\S]*?-----END CERTIFICATE-----\n/, "") }) },
  { name: "workload DEBUG", quote: { tdAttributes: "0100001000000000" } },
  { name: "reserved TD attribute bit 1", quote: { tdAttributes: "0200001000000000" } },
  { name: "reserved TD attribute bit 29", quote: { tdAttributes: "0000003000000000" } },
  { name: "reserved TD attribute bit 39", quote: { tdAttributes: "0000001080000000" } },
  { name: "PERFMON allowed", quote: { tdAttributes: "0000001000000080" } },
  { name: "PKS and KL allowed", quote: { tdAttributes: "000000d000000000" } },
  { name: "SEPT_VE_DISABLE clear", quote: { tdAttributes: "0000000000000000" } },
  { name: "non-zero mr_service_td", quote: { version: 5, body: "td15", mrServiceTd: "01".repeat(48) } },
  { name: "wrong QE vendor id", quote: { qeVendorId: "00".repeat(16) } },
  { name: "attestation key type 3", quote: { attestationKeyType: 3 } },
  { name: "outer certification data type 5", quote: { outerCertType: 5 } },
  { name: "v5 body_size mismatch", quote: { version: 5, bodySize: 600 } },
  // the TCB Signing pin (signer-pin.test.ts): collateral signed by a key other than the TCB Signing certificate's
  { name: "TCB Info signed by the PCK leaf", world: { tcbInfo: { signer: "pckLeaf" } } },
  { name: "QE Identity signed by the PCK leaf", world: { qeIdentity: { signer: "pckLeaf" } } },
  { name: "collateral signed by the PCK CA", world: { collateralSigner: "pckCa" } },
  { name: "collateral signed by the root", world: { collateralSigner: "root" } },
  { name: "collateral signed by another root-issued certificate", world: { collateralSigner: "other" } },
  { name: "QE Identity signed by another root-issued certificate", world: { qeIdentity: { signer: "other" } } },
  { name: "TCB Signing-named certificate issued by the PCK CA", world: { collateralSigner: "other", otherSigner: { issuer: "pckCa", subject: { cn: "Intel SGX TCB Signing", o: "Intel Corporation" } } } },
  { name: "TCB Signing certificate with the CA flag", world: { tcbSigningShape: { ca: true, keyUsage: ["digitalSignature", "keyCertSign"] } } },
  { name: "TCB Signing certificate without digitalSignature", world: { tcbSigningShape: { keyUsage: ["nonRepudiation"] } } },
  { name: "TCB Signing certificate without keyUsage", world: { tcbSigningShape: { keyUsage: null } } },
  { name: "TCB Signing certificate with digitalSignature alone", world: { tcbSigningShape: { keyUsage: ["digitalSignature"] } } },
  { name: "TCB Signing certificate with another O", world: { tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing", o: "Not Intel Corporation", l: "Santa Clara", st: "CA", c: "US" } } } },
  { name: "TCB Signing certificate without O", world: { tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing" } } } },
  { name: "TCB Signing certificate with another CN", world: { tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing2", o: "Intel Corporation" } } } },
  { name: "TCB Signing certificate whose CN contains the O text", world: { tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing, O=Intel Corporation", o: "Evil", l: "Santa Clara", st: "CA", c: "US" } } } },
  { name: "TCB Signing certificate with exactly Intel's CN and O", world: { tcbSigningShape: { subject: { cn: "Intel SGX TCB Signing", o: "Intel Corporation" } } } },
  { name: "PCK CA with another name", world: { pckCaShape: { subject: { cn: "Forged SGX PCK Platform CA", o: "Intel Corporation" } } } },
  { name: "PCK CA without keyUsage", world: { pckCaShape: { keyUsage: null } } },
  { name: "PCK CA without keyCertSign", world: { pckCaShape: { keyUsage: ["cRLSign"] } } },
  { name: "PCK CA without the CA flag", world: { pckCaShape: { ca: false } } },
  {
    name: "PCK leaf issued directly by the root",
    quote: (w) => ({ pemChain: w.certs.tcbSigning.pem + w.certs.root.pem }),
    collateral: (c) => ({ ...c, pckCrl: c.rootCaCrl }),
  },
  { name: "tcbType 1", world: { tcbInfo: { edit: (o) => ({ ...o, tcbType: 1 }) } } },
  { name: "TCB Info with a duplicated tcbStatus", collateral: dupKey("tcbInfo", '"tcbStatus":"UpToDate"', '"tcbStatus":"OutOfDate","tcbStatus":"UpToDate"') },
  { name: "QE Identity with a duplicated isvprodid", collateral: dupKey("qeIdentity", '"isvprodid":2', '"isvprodid":3,"isvprodid":2') },
  { name: "QE Identity with a nested duplicated key", collateral: dupKey("qeIdentity", '{"isvsvn":4}', '{"isvsvn":4,"isvsvn":0}') },
  { name: "verified one second before the windows open", atOffset: -DAY - 1 },
  { name: "verified after the windows close", atOffset: 30 * DAY + 1 },
];

const STATUSES = ["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"];
const ADVISORIES = ["INTEL-SA-00001", "INTEL-SA-00002", "INTEL-SA-00003", "INTEL-SA-00615", "INTEL-SA-00837"];
/** TD attribute bits the policy names: DEBUG 0, reserved 1 and 29, SEPT_VE_DISABLE 28, PKS 30, KL 31, reserved 39, PERFMON 63. */
const TD_BITS = [0, 1, 28, 29, 30, 31, 39, 63];

/** A random forged world from `seed`: TCB levels, statuses, module and QE identities, dates, revocations, TD attributes, corruptions. */
export function randomCase(seed: number): DiffCase {
  const r = rng(seed);
  const chance = (p: number): boolean => r() < p;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const advisories = (): string[] | undefined => (chance(0.5) ? undefined : ADVISORIES.filter(() => chance(0.3)));
  const nudge = (xs: number[], p: number): number[] => xs.map((v) => (chance(p) ? Math.max(0, v + pick([-1, 1, 2])) : v));
  const world: ForgeWorldOptions = { now: NOW + int(-400, 400) * DAY };
  // about a third of the worlds vary only what grades an accepted quote (levels, statuses, identities)
  const clean = chance(0.35);
  const bad = (p: number): boolean => !clean && chance(p);
  const quote: ForgeQuoteOptions = {};
  const now = world.now!;

  // TCB levels: 1–4, each near the platform's TCB, random statuses and advisories
  if (chance(0.85)) {
    world.tcbInfo = {
      tcbLevels: Array.from({ length: int(1, 4) }, (_, i) => ({
        sgx: nudge(CPU, i === 0 ? 0.05 : 0.15),
        pcesvn: chance(0.1) ? PCESVN + pick([-1, 1]) : PCESVN,
        tdx: nudge(TEE, i === 0 ? 0.05 : 0.15),
        tcbDate: `20${int(22, 25)}-0${int(1, 9)}-1${int(0, 9)}T00:00:00Z`,
        tcbStatus: pick(STATUSES),
        ...((a) => (a ? { advisoryIDs: a } : {}))(advisories()),
      })),
    };
    // usually a floor level every platform meets, as Intel's lists end with
    if (chance(0.7)) world.tcbInfo.tcbLevels!.push({ sgx: new Array<number>(16).fill(0), pcesvn: 0, tdx: new Array<number>(16).fill(0), tcbStatus: pick(STATUSES.slice(0, 6)) });
  }
  // module identities
  if (chance(0.4)) {
    world.tcbInfo = {
      ...world.tcbInfo,
      tdxModuleIdentities: chance(0.05)
        ? null
        : [
            {
              id: chance(0.9) ? "TDX_01" : "TDX_03",
              ...(chance(0.05) ? { mrsigner: "22".repeat(48) } : {}),
              tcbLevels: [
                { isvsvn: pick([4, 6, 7, 8]), tcbStatus: pick(STATUSES), ...((a) => (a ? { advisoryIDs: a } : {}))(advisories()) },
                { isvsvn: pick([1, 2, 3]), tcbStatus: pick(STATUSES) },
              ],
            },
          ],
    };
  }
  if (bad(0.03)) world.tcbInfo = { ...world.tcbInfo, tdxModule: null };
  // QE identity
  if (chance(0.4)) {
    world.qeIdentity = {
      tcbLevels: [
        { isvsvn: pick([4, 5, 6, 8]), tcbStatus: pick(STATUSES), ...((a) => (a ? { advisoryIDs: a } : {}))(advisories()) },
        { isvsvn: pick([1, 2, 3]), tcbStatus: pick(STATUSES) },
      ],
    };
  }
  if (bad(0.03)) world.qeIdentity = { ...world.qeIdentity, mrsigner: "00".repeat(32) };
  if (bad(0.03)) world.qeIdentity = { ...world.qeIdentity, id: "QE" };
  if (chance(0.05)) quote.qe = { ...quote.qe, isvSvn: pick([2, 3, 4, 5, 6, 9]) };
  if (bad(0.03)) quote.qe = { ...quote.qe, isvProdId: 3 };
  if (bad(0.03)) quote.qe = { ...quote.qe, miscSelect: 1 };
  if (bad(0.03)) quote.qe = { ...quote.qe, attributes: pick(["35000000000000000000000000000000", "17000000000000000000000000000000", "11000000000000001234000000000000"]) };
  if (bad(0.03)) quote.qe = { ...quote.qe, reportDataTail: "01".repeat(32) };
  // dates: the documents' and CRLs' windows, the certificates' validity, the verification time
  const edge = (): number => now + pick([-DAY, -1, 1, DAY]);
  if (bad(0.05)) world.tcbInfo = { ...world.tcbInfo, issueDate: edge() };
  if (bad(0.05)) world.tcbInfo = { ...world.tcbInfo, nextUpdate: edge() };
  if (bad(0.05)) world.qeIdentity = { ...world.qeIdentity, issueDate: edge() };
  if (bad(0.05)) world.qeIdentity = { ...world.qeIdentity, nextUpdate: edge() };
  if (bad(0.04)) world.pckCrl = { ...world.pckCrl, nextUpdate: edge() };
  if (bad(0.04)) world.rootCrl = { ...world.rootCrl, nextUpdate: edge() };
  if (bad(0.03)) world.pckCrl = { ...world.pckCrl, thisUpdate: edge() };
  if (bad(0.03)) world.pckLeafValidity = chance(0.5) ? { notAfter: edge() } : { notBefore: edge() };
  if (bad(0.02)) world.pckCaValidity = { notAfter: edge() };
  if (bad(0.02)) world.tcbSigningValidity = { notAfter: edge() };
  const atOffset = bad(0.05) ? pick([-2 * DAY, 31 * DAY, -1, 30 * DAY + 1]) : undefined;
  // revocations
  if (bad(0.12)) world.revoke = { pckLeaf: chance(0.5), pckCa: chance(0.3), tcbSigning: chance(0.3), root: chance(0.1) };
  if (bad(0.03)) world.pckCrl = { ...world.pckCrl, revokedSerials: [BigInt(int(1, 1e6))] };
  // TD attributes
  if (bad(0.35)) {
    const bytes = new Uint8Array(8);
    const bits = new Set([28]);
    for (const b of TD_BITS) {
      if (!chance(0.15)) continue;
      if (bits.has(b)) bits.delete(b);
      else bits.add(b);
    }
    for (const b of bits) bytes[b >> 3]! |= 1 << (b & 7);
    quote.tdAttributes = bytes;
  }
  // the TDX module as reported
  if (chance(0.15)) quote.teeTcbSvn = Uint8Array.from([pick([1, 2, 4, 6, 7, 9]), pick([0, 1, 1, 2, 3]), pick([2, 3, 4]), ...new Array<number>(13).fill(0)]);
  if (bad(0.03)) quote.mrSignerSeam = "11".repeat(48);
  if (bad(0.03)) quote.seamAttributes = "0100000000000000";
  // quote shape
  if (chance(0.3)) {
    quote.version = 5;
    quote.body = pick(["td10", "td15"] as const);
    if (quote.body === "td15" && chance(0.1)) quote.mrServiceTd = "01".repeat(48);
  }
  if (chance(0.1)) quote.qeAuthData = "cd".repeat(pick([0, 1, 16, 31, 33, 64, 200]));
  if (chance(0.03)) quote.trailing = "00".repeat(int(1, 100));
  if (chance(0.03)) world.ca = "processor";
  // corruptions, each still a well-formed, correctly signed world but for the one thing
  const corruptions: [number, () => void][] = [
    [0.02, () => (world.tcbInfo = { ...world.tcbInfo, signWithWrongKey: true })],
    [0.02, () => (world.qeIdentity = { ...world.qeIdentity, signWithWrongKey: true })],
    [0.02, () => (world.pckCrl = { ...world.pckCrl, signWithWrongKey: true })],
    [0.02, () => (world.rootCrl = { ...world.rootCrl, signWithWrongKey: true })],
    [0.02, () => (quote.signQuoteWithWrongKey = true)],
    [0.02, () => (quote.signQeReportWithWrongKey = true)],
    [0.02, () => (quote.breakQeBinding = true)],
    [0.01, () => (quote.qeVendorId = "00".repeat(16))],
    [0.01, () => (quote.attestationKeyType = 3)],
    [0.01, () => (quote.outerCertType = 5)],
    [0.02, () => (world.certSignedByWrongKey = { [pick(["pckLeaf", "pckCa", "tcbSigning"] as const)]: true })],
    [0.01, () => (world.pckLeafIsCa = true)],
    [0.01, () => (world.omitSgxExtension = true)],
    [0.02, () => (world.tcbInfo = { ...world.tcbInfo, fmspc: "00906ED50000" })],
    [0.01, () => (world.tcbInfo = { ...world.tcbInfo, edit: (t) => ({ ...t, pceId: "0100" }) })],
    [0.01, () => (world.tcbInfo = { ...world.tcbInfo, edit: (t) => ({ ...t, id: "SGX" }) })],
    [0.03, () => (world.collateralSigner = pick(["pckLeaf", "pckCa", "root", "other"] as const))],
  ];
  for (const [p, apply] of corruptions) if (bad(p)) apply();
  const swap = bad(0.02) ? pick(["pckAsRoot", "rootAsPck"] as const) : undefined;
  return {
    name: `random world ${seed}`,
    world,
    quote,
    ...(swap ? { collateral: (c: Collateral) => (swap === "pckAsRoot" ? { ...c, rootCaCrl: c.pckCrl } : { ...c, pckCrl: c.rootCaCrl }) } : {}),
    ...(atOffset !== undefined ? { atOffset } : {}),
  };
}

/** The outcome of both verifiers on one case. `chain.kind` "unencodable": the collateral cannot be put in the contract's layout. */
export interface DiffResult {
  name: string;
  ts: VerifierOutcome;
  chain: VerifierOutcome | { ok: false; step: string; unencodable: string };
  differences: string[];
  agree: boolean;
}

/** What `verify` of a deployed verifier is, as viem's contract read. */
export type VerifyRead = (args: readonly [Hex, ReturnType<typeof toOnChainCollateral>, bigint]) => Promise<unknown>;

/** A verifier for a root (DER): the caller deploys one per distinct root and returns its `read.verify`. */
export type VerifierFor = (rootDer: Uint8Array, rootArgs: ReturnType<typeof verifierRootArgs>) => Promise<VerifyRead>;

/** Builds the case's world and quote, runs both verifiers at the case's time, compares. */
export async function runCase(c: DiffCase, verifierFor: VerifierFor): Promise<DiffResult> {
  const world = await createForgeWorld({ seed: DIFF_FORGE_SEED, ...c.world });
  const quote = await forgeQuote(world, typeof c.quote === "function" ? c.quote(world) : c.quote);
  const collateral = c.collateral ? await c.collateral(world.collateral, world) : world.collateral;
  const now = world.now + (c.atOffset ?? 0);
  const ts = tsOutcome(quote, collateral, now, world.rootCaDer) as VerifierOutcome;
  let chain: DiffResult["chain"];
  let encoded;
  try {
    encoded = toOnChainCollateral(quote, collateral);
  } catch {
    // the quote's own PCK chain cannot be read (an unparseable quote): pass the world's, as a caller
    // holding the PCK certificates from Intel's PCS would, and let the contract judge the quote
    try {
      encoded = toOnChainCollateral(quote, { ...collateral, pckCertificateChain: world.pckChainPem });
    } catch (e) {
      chain = { ok: false, step: "pck.chain", unencodable: (e as Error).message };
    }
  }
  if (encoded) {
    const verify = await verifierFor(world.rootCaDer, verifierRootArgs(world.rootCaDer));
    try {
      const r = (await verify([bytesToHex(quote), encoded, BigInt(now)])) as { status: number; advisoryIds: readonly string[]; fmspc: string };
      chain = { ok: true, status: TCB_STATUSES[Number(r.status)]!, advisoryIds: [...r.advisoryIds], fmspc: r.fmspc.toLowerCase().replace(/^0x/, "") };
    } catch (e) {
      const data = revertDataOf(e);
      if (!data) throw e;
      chain = { ok: false, step: decodeVerifierRevert(data, { tcbInfo: collateral.tcbInfo }).step };
    }
  }
  const differences = outcomeDifferences(ts, chain!);
  return { name: c.name, ts, chain: chain!, differences, agree: differences.length === 0 };
}
