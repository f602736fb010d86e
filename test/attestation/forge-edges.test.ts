/**
 * Edge cases with forged, correctly signed data: inclusive time boundaries, chain shapes the spec
 * allows or forbids, certificate extensions, and collateral JSON variants.
 */
import { describe, expect, it } from "vitest";

import { createForgeWorld, derOid, derSequence, forgeQuote, type ForgeQuoteOptions, type ForgeWorld, type ForgeWorldOptions } from "../../src/testing/forge/index.js";
import type { Collateral } from "../../src/dcap/types.js";
import { checkQuote, type VerifyOptions } from "../../src/dcap/verify.js";
import { bytesToPlainHex } from "../../src/core/bytes.js";

const NOW = 1767225600; // the forge's default time

interface Case {
  world?: ForgeWorldOptions;
  quote?: ForgeQuoteOptions;
  verify?: Partial<VerifyOptions>;
  collateral?: (c: Collateral, w: ForgeWorld) => Collateral;
  at?: number;
}

async function run(c: Case) {
  const w = await createForgeWorld({ seed: "forge-edges", ...c.world });
  const q = await forgeQuote(w, c.quote);
  return checkQuote(q, { collateral: c.collateral ? c.collateral(w.collateral, w) : w.collateral, now: c.at ?? w.now, rootCaDer: w.rootCaDer, ...c.verify });
}

async function accepts(c: Case): Promise<void> {
  const r = await run(c);
  if (!r.ok) throw new Error(`expected success, got ${r.error.code}: ${r.error.message}`);
  expect(r.result.status).toBe("UpToDate");
}

async function rejects(c: Case, code: string, message: RegExp): Promise<void> {
  const r = await run(c);
  if (r.ok) throw new Error(`expected ${code}, got success`);
  expect(r.error.code).toBe(code);
  expect(r.error.message).toMatch(message);
}

function pemBlocksOf(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g) ?? [];
}

describe("time windows are inclusive at both ends", () => {
  it("TCB Info: now = issueDate and now = nextUpdate", async () => {
    await accepts({ world: { tcbInfo: { issueDate: NOW } } });
    await accepts({ world: { tcbInfo: { nextUpdate: NOW } } });
  });

  it("QE Identity: now = issueDate and now = nextUpdate", async () => {
    await accepts({ world: { qeIdentity: { issueDate: NOW, nextUpdate: NOW } } });
  });

  it("CRLs: now = thisUpdate and now = nextUpdate", async () => {
    await accepts({ world: { pckCrl: { thisUpdate: NOW, nextUpdate: NOW }, rootCrl: { thisUpdate: NOW, nextUpdate: NOW } } });
  });

  it("certificates: now = notBefore and now = notAfter", async () => {
    await accepts({ world: { pckLeafValidity: { notBefore: NOW }, pckCaValidity: { notAfter: NOW }, tcbSigningValidity: { notBefore: NOW, notAfter: NOW } } });
  });

  it("one second later everything that ends at now has expired", async () => {
    await rejects({ world: { tcbSigningValidity: { notAfter: NOW } }, at: NOW + 1 }, "TCB_INFO_CHAIN_CERT_EXPIRED", /expired at 2026-01-01T00:00:00Z, verification time is 2026-01-01T00:00:01Z/);
  });

  it("the root certificate's own validity is not checked (it is the trust anchor)", async () => {
    await accepts({ world: { rootValidity: { notBefore: NOW - 100, notAfter: NOW - 1 } } });
  });
});

describe("chain shapes", () => {
  it("a PCK chain without the root (leaf, CA) validates: trust comes from the pinned root only", async () => {
    const w = await createForgeWorld({ seed: "forge-edges" });
    await accepts({ quote: { pemChain: w.certs.pckLeaf.pem + w.certs.pckCa.pem } });
  });

  it("issuer chains with only the TCB Signing certificate validate", async () => {
    await accepts({ collateral: (c, w) => ({ ...c, tcbInfoIssuerChain: w.certs.tcbSigning.pem, qeIdentityIssuerChain: w.certs.tcbSigning.pem }) });
  });

  it("a PCK chain with only the leaf has an unknown issuer", async () => {
    const w = await createForgeWorld({ seed: "forge-edges" });
    await rejects({ quote: { pemChain: w.certs.pckLeaf.pem } }, "PCK_ISSUER_UNKNOWN", /issuer .*PCK Platform CA.* is neither the trusted root nor in the chain/);
  });

  it("a PCK chain in the wrong order (CA first) is rejected", async () => {
    const w = await createForgeWorld({ seed: "forge-edges" });
    await rejects({ quote: { pemChain: w.certs.pckCa.pem + w.certs.pckLeaf.pem + w.certs.root.pem } }, "PCK_CRL_ISSUER_MISMATCH", /the PCK certificate's issuer is "CN=Forged SGX Root CA/);
    // …and with a CRL that fits the CA, the CA is refused as an end entity
    await rejects(
      { quote: { pemChain: w.certs.pckCa.pem + w.certs.pckLeaf.pem + w.certs.root.pem }, collateral: (c) => ({ ...c, pckCrl: c.rootCaCrl }) },
      "PCK_CERT_INVALID",
      /end-entity certificate "Intel SGX PCK Platform CA" is a CA certificate/,
    );
  });

  it("the TCB Signing certificate cannot stand in as the PCK leaf: a PCK leaf is issued by a PCK CA, not by the root", async () => {
    const w = await createForgeWorld({ seed: "forge-edges" });
    await rejects(
      { quote: { pemChain: w.certs.tcbSigning.pem + w.certs.root.pem }, collateral: (c) => ({ ...c, pckCrl: c.rootCaCrl }) },
      "PCK_ISSUER_NOT_PCK_CA",
      /the PCK certificate "Intel SGX TCB Signing" is issued directly by the root/,
    );
  });

  it("pck_certificate_chain in the collateral replaces an unusable embedded chain (encrypted PPID, type 3)", async () => {
    await accepts({ quote: { innerCertType: 3 }, collateral: (c, w) => ({ ...c, pckCertificateChain: w.pckChainPem }) });
  });

  it("the issuer chains' order and duplicates do not matter beyond the first certificate", async () => {
    await accepts({ collateral: (c, w) => ({ ...c, tcbInfoIssuerChain: w.certs.tcbSigning.pem + w.certs.root.pem + w.certs.root.pem }) });
    expect(pemBlocksOf((await createForgeWorld({ seed: "forge-edges" })).pckChainPem)).toHaveLength(3);
  });
});

describe("PCK leaf extensions", () => {
  const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  const hex = (b: Uint8Array) => bytesToPlainHex(b);

  it("an unknown critical extension is rejected", async () => {
    await rejects({ world: { pckLeafExtraExtensions: [{ oid: "1.2.3.4.5", critical: true, value: "0500" }] } }, "PCK_CERT_INVALID", /1\.2\.3\.4\.5/);
  });

  it("an unknown non-critical extension is ignored", async () => {
    await accepts({ world: { pckLeafExtraExtensions: [{ oid: "1.2.3.4.5", value: "0500" }] } });
  });

  it("an extended key usage without serverAuth is rejected; with serverAuth it is fine", async () => {
    await rejects({ world: { pckLeafExtraExtensions: [{ oid: "2.5.29.37", value: hex(derSequence(derOid(CLIENT_AUTH))) }] } }, "PCK_CERT_INVALID", /usage|EKU|serverAuth/i);
    await accepts({ world: { pckLeafExtraExtensions: [{ oid: "2.5.29.37", value: hex(derSequence(derOid(SERVER_AUTH))) }] } });
  });

  it("a second SGX extension is rejected", async () => {
    await rejects({ world: { pckLeafExtraExtensions: [{ oid: "1.2.840.113741.1.13.1", value: "3000" }] } }, "PCK_CHAIN_MALFORMED", /extension 1\.2\.840\.113741\.1\.13\.1 appears more than once/);
  });

  it("PCESVN ≥ 128 (two content bytes) and component SVN 255 decode as unsigned", async () => {
    const cpu = "ff0302020401000500000000000000ff";
    await accepts({
      world: {
        cpuSvn: cpu,
        pceSvn: 300,
        tcbInfo: { tcbLevels: [{ sgx: [255, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 255], pcesvn: 300, tdx: [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], tcbStatus: "UpToDate" }] },
      },
    });
  });
});

describe("collateral JSON variants", () => {
  it("TD_QE identity version 3 is accepted for TDX", async () => {
    await accepts({ world: { qeIdentity: { version: 3 } } });
  });

  it("TCB Info version 2 is not TDX TCB Info", async () => {
    await rejects({ world: { tcbInfo: { version: 2 } } }, "TCB_INFO_TEE_MISMATCH", /TDX quote with non-TDX TCB info \(TDX v2\)/);
  });

  it("an unknown TCB status string makes the TCB Info undecodable", async () => {
    await rejects({ world: { tcbInfo: { tcbLevels: [{ sgx: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], pcesvn: 11, tdx: [6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], tcbStatus: "Fine" }] } } }, "TCB_INFO_INVALID", /Fine/);
  });

  it("unknown JSON keys are ignored", async () => {
    await accepts({ world: { tcbInfo: { edit: (o) => ({ ...o, futureField: { a: 1 } }) }, qeIdentity: { edit: (o) => ({ ...o, futureField: [1] }) } } });
  });

  it("pretty-printed JSON verifies when that exact text was signed", async () => {
    const w0 = await createForgeWorld({ seed: "forge-edges" });
    const pretty = JSON.stringify(JSON.parse(w0.collateral.tcbInfo), null, 2);
    await accepts({ world: { tcbInfo: { text: pretty } } });
  });

  it("a QE identity mrsigner of the wrong length is malformed", async () => {
    await rejects({ world: { qeIdentity: { mrsigner: "00".repeat(31) } } }, "QE_IDENTITY_INVALID", /mrsigner/);
  });

  it("a missing tcbLevels array is malformed", async () => {
    await rejects(
      {
        world: {
          tcbInfo: {
            edit: (o) => {
              delete o.tcbLevels;
            },
          },
        },
      },
      "TCB_INFO_INVALID",
      /tcbLevels/,
    );
  });

  it("an SGX QE identity (validly signed by the same TCB Signing key) for a TDX quote", async () => {
    const sgx = await createForgeWorld({ seed: "forge-edges", tee: "sgx" });
    await rejects({ collateral: (c) => ({ ...c, qeIdentity: sgx.collateral.qeIdentity, qeIdentitySignature: sgx.collateral.qeIdentitySignature }) }, "QE_IDENTITY_MISMATCH", /qe_identity is QE v2, a TDX quote needs TD_QE/);
  });

  it("SGX TCB Info (validly signed) for a TDX quote", async () => {
    const sgx = await createForgeWorld({ seed: "forge-edges", tee: "sgx", fmspc: "B0C06F000000" });
    await rejects({ collateral: (c) => ({ ...c, tcbInfo: sgx.collateral.tcbInfo, tcbInfoSignature: sgx.collateral.tcbInfoSignature }) }, "TCB_INFO_TEE_MISMATCH", /TDX quote with non-TDX TCB info \(SGX v3\)/);
  });
});

describe("revocation scoping and serial numbers", () => {
  it("a serial with the high bit set (DER sign byte) is still found on the CRL", async () => {
    await rejects({ world: { pckLeafSerial: "80ff0000000000000000000000000000000001", revoke: { pckLeaf: true } } }, "PCK_REVOKED", /serial 80ff0{32}01\) is revoked by pck_crl/);
    await accepts({ world: { pckLeafSerial: "80ff0000000000000000000000000000000001" } });
  });

  it("a CRL entry written with redundant leading zero bytes matches the certificate's serial", async () => {
    await rejects({ world: { pckLeafSerial: "0102", pckCrl: { revokedSerials: [0x0102n] } } }, "PCK_REVOKED", /serial 0102\)/);
  });

  it("a CRL only speaks for its issuer: the PCK leaf's serial on the ROOT CRL does not revoke it", async () => {
    const w = await createForgeWorld({ seed: "forge-edges" });
    await accepts({ world: { rootCrl: { revokedSerials: [w.certs.pckLeaf.serial] } } });
    await accepts({ world: { pckCrl: { revokedSerials: [w.certs.pckCa.serial, w.certs.tcbSigning.serial] } } });
  });
});

describe("module identity and QE identity details", () => {
  it("module identity ids match case-insensitively", async () => {
    await accepts({ world: { tcbInfo: { tdxModuleIdentities: [{ id: "tdx_01", tcbLevels: [{ isvsvn: 4, tcbStatus: "UpToDate" }] }] } } });
  });

  it("SEAM attribute bits outside the mask are rejected even when the masked bits agree", async () => {
    await rejects(
      { world: { tcbInfo: { tdxModuleIdentities: [{ id: "TDX_01", attributesMask: "00".repeat(8), tcbLevels: [{ isvsvn: 4, tcbStatus: "UpToDate" }] }] } }, quote: { seamAttributes: "0100000000000000" } },
      "TDX_MODULE_ATTRIBUTES_MISMATCH",
      /SEAM attributes 0100000000000000/,
    );
  });

  it("module levels are walked in JSON order (first level the module meets wins)", async () => {
    const r = await run({
      world: {
        tcbInfo: {
          tdxModuleIdentities: [
            {
              id: "TDX_01",
              tcbLevels: [
                { isvsvn: 2, tcbStatus: "OutOfDate", advisoryIDs: ["INTEL-SA-LOW"] },
                { isvsvn: 6, tcbStatus: "UpToDate" },
              ],
            },
          ],
        },
      },
    });
    expect(r.ok && r.result.status).toBe("OutOfDate");
  });

  it("a QE identity without TCB levels", async () => {
    await rejects({ world: { qeIdentity: { tcbLevels: [] } } }, "QE_TCB_LEVEL_NOT_FOUND", /qe_identity lists no TCB levels/);
  });

  it("MISCSELECT bits outside the identity's mask are ignored", async () => {
    await accepts({ world: { qeIdentity: { miscselectMask: "FEFFFFFF" } }, quote: { qe: { miscSelect: 1 } } });
  });
});

describe("missing or malformed collateral pieces", () => {
  it("an empty PCK chain", async () => {
    await rejects({ quote: { pemChain: "" } }, "PCK_CHAIN_EMPTY", /no certificate in the PCK chain from the quote/);
  });

  it("empty issuer chains", async () => {
    await rejects({ collateral: (c) => ({ ...c, tcbInfoIssuerChain: "" }) }, "TCB_INFO_CHAIN_EMPTY", /tcb_info_issuer_chain has no certificate/);
    await rejects({ collateral: (c) => ({ ...c, qeIdentityIssuerChain: "" }) }, "QE_IDENTITY_CHAIN_EMPTY", /qe_identity_issuer_chain has no certificate/);
  });

  it("CRLs that are not DER", async () => {
    await rejects({ collateral: (c) => ({ ...c, pckCrl: new Uint8Array([1, 2, 3]) }) }, "PCK_CRL_INVALID", /pck_crl/);
    await rejects({ collateral: (c) => ({ ...c, rootCaCrl: new Uint8Array(0) }) }, "ROOT_CA_CRL_INVALID", /root_ca_crl/);
  });

  it("a signing chain through a CA whose CRL was not supplied: refused as a signer before revocation is looked at", async () => {
    // Same seed → same keys; a Processor-CA world's leaf and CA chain to the same root, but only the
    // Platform CA's CRL is in the collateral. The TCB Signing pin refuses the PCK leaf first (the
    // CRL-not-found path of verifyPath itself is covered in signer-pin.test.ts).
    const processor = await createForgeWorld({ seed: "forge-edges", ca: "processor" });
    await rejects(
      { collateral: (c) => ({ ...c, tcbInfoIssuerChain: processor.certs.pckLeaf.pem + processor.certs.pckCa.pem }) },
      "TCB_SIGNER_NOT_TCB_SIGNING",
      /the signer "CN=Forged SGX PCK Certificate.*" is not the Intel SGX TCB Signing certificate/,
    );
  });
});
