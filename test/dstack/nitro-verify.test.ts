/**
 * AWS Nitro Enclave attestation documents verified offline: the real dstack V0 Nitro attestation (debug mode,
 * signed by AWS: chain to the pinned Root-G1, ES384 signature) and a test Nitro world for every failing step.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { AWS_NITRO_ROOT_G1, NitroVerificationError, verifyNitroDocument, verifyNitroDocumentOrThrow, type NitroVerifyOptions } from "../../src/dstack/platforms/nitro-verify.js";
import { decodeNitroDocument } from "../../src/dstack/platforms/nitro.js";
import { createNitroWorld, debugPcrs, makeNitroDocument, type NitroDocumentOptions } from "../../src/testing/platforms/nitro-world.js";

const real = decodeDstackAttestation(readFileSync(new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url)));
const realDoc = real.evidence;

function failure(f: () => unknown): NitroVerificationError {
  try {
    f();
  } catch (e) {
    if (e instanceof NitroVerificationError) return e;
    throw e;
  }
  throw new Error("expected a NitroVerificationError");
}

describe("the real dstack Nitro attestation (debug-mode enclave)", () => {
  it("the pinned root is the document's cabundle[0] and has AWS's published Root-G1 fingerprint", () => {
    const d = decodeNitroDocument(realDoc);
    expect(bytesToHex(d.cabundle[0]!)).toBe(bytesToHex(AWS_NITRO_ROOT_G1.der));
    expect(createHash("sha256").update(AWS_NITRO_ROOT_G1.der).digest("hex")).toBe("641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
    expect(AWS_NITRO_ROOT_G1.sha256).toBe("641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
  });

  it("verifies at the document's timestamp (chain, validity, timestamp, ES384) and the policy refuses it as debug", () => {
    const r = verifyNitroDocument(realDoc, { expectedUserData: real.reportData!, configOsImageHash: "81c611f35bff79491538b2f7cf201c7597a661a5c549633541c62bdc8af1613f" });
    expect(r.verification.checks.map((c) => [c.name, c.ok])).toEqual([
      ["document.decode", true],
      ["cose.header", true],
      ["document.fields", true],
      ["chain.root", true],
      ["chain.path", true],
      ["chain.validity", true],
      ["document.timestamp", true],
      ["cose.signature", true],
    ]);
    expect(r).toMatchObject({ ok: false, genuine: true, at: 1766650846, atSource: "document" });
    expect(r.policy.rules.map((x) => [x.name, x.ok])).toEqual([
      ["enclave.debug", false],
      ["binding.user-data", true],
      ["config.os-image-hash", true],
    ]);
    expect(r.report).toMatchObject({ moduleId: "i-0fd3fdaad4e904e69-enc019b54988b2d89ba", digest: "SHA384", timestamp: 1766650846577, pcr0: `0x${"00".repeat(48)}`, debug: true, reportData: `0x${"00".repeat(64)}`, nonce: null, publicKey: null });
    expect(r.verification.checks[4]!.detail).toContain("CN=aws.nitro-enclaves → CN=d3c9df74fdeb2ba5.us-east-1.aws.nitro-enclaves");
  });

  it("verifyNitroDocumentOrThrow: NITRO_DEBUG_ENCLAVE with the verdicts; --allow-debug accepts it", () => {
    const e = failure(() => verifyNitroDocumentOrThrow(realDoc));
    expect(e.code).toBe("NITRO_DEBUG_ENCLAVE");
    expect(e.verification?.ok).toBe(true);
    expect(e.checks.at(-1)).toMatchObject({ name: "document.policy", ok: false });
    expect(verifyNitroDocumentOrThrow(realDoc, { allowDebug: true }).ok).toBe(true);
  });

  it("at a time after the signing certificate expired: NITRO_CERT_NOT_VALID_AT; the signature alone is not enough", () => {
    const e = failure(() => verifyNitroDocument(realDoc, { now: 1766678656 + 3600 }));
    expect(e.code).toBe("NITRO_CERT_NOT_VALID_AT");
    expect(e.checks.at(-1)!.name).toBe("chain.validity");
    // just before the signing certificate's notAfter (upstream's fixed time for its sample) it verifies
    expect(verifyNitroDocument(realDoc, { now: 1766650846 + 3600 }).verification.ok).toBe(true);
  });

  it("a changed byte of the payload or the signature: NITRO_SIGNATURE_INVALID (or a decode error), never a pass", () => {
    const at = Buffer.from(realDoc).indexOf(Buffer.from("user_data")) + 12;
    const p = Uint8Array.from(realDoc);
    p[at] = p[at]! ^ 0x01;
    expect(failure(() => verifyNitroDocument(p)).code).toBe("NITRO_SIGNATURE_INVALID");
    const s = Uint8Array.from(realDoc);
    s[s.length - 5] = s[s.length - 5]! ^ 0x80;
    expect(failure(() => verifyNitroDocument(s)).code).toBe("NITRO_SIGNATURE_INVALID");
    const m = Uint8Array.from(realDoc);
    m[8] = 0xff;
    expect(failure(() => verifyNitroDocument(m)).code).toMatch(/^NITRO_(DOCUMENT_MALFORMED|COSE_INVALID|SIGNATURE_INVALID)$/);
  });

  it("user_data that is not the attestation's report_data: NITRO_USER_DATA_MISMATCH; a wrong os_image_hash: NITRO_OS_IMAGE_HASH_MISMATCH", () => {
    expect(failure(() => verifyNitroDocumentOrThrow(realDoc, { allowDebug: true, expectedUserData: new Uint8Array(64).fill(1) })).code).toBe("NITRO_USER_DATA_MISMATCH");
    expect(failure(() => verifyNitroDocumentOrThrow(realDoc, { allowDebug: true, configOsImageHash: "00".repeat(32) })).code).toBe("NITRO_OS_IMAGE_HASH_MISMATCH");
  });
});

describe("a test Nitro world", () => {
  const now = Math.floor(Date.UTC(2026, 5, 1) / 1000);
  const w = createNitroWorld({ now });
  const ts = now * 1000;
  const doc = (o: Partial<NitroDocumentOptions> = {}) => makeNitroDocument(w, { timestamp: ts, ...o });
  const run = (d: Uint8Array, o: NitroVerifyOptions = {}) => verifyNitroDocument(d, { rootDer: w.rootDer, now, ...o });

  it("a good document verifies under the world's root (not genuine), non-debug PCRs pass the policy, tag 18 too", () => {
    const userData = new Uint8Array(64).fill(7);
    for (const tagged of [false, true]) {
      const r = run(doc({ userData, tagged }), { expectedUserData: userData });
      expect(r).toMatchObject({ ok: true, genuine: false, atSource: "now", policy: { ok: true } });
      expect(r.report).toMatchObject({ pcr0: `0x${"11".repeat(48)}`, userData: bytesToHex(userData), debug: false });
    }
  });

  it("under the pinned AWS root the world's document is refused: NITRO_ROOT_NOT_PINNED", () => {
    const e = failure(() => verifyNitroDocument(doc(), { now }));
    expect(e.code).toBe("NITRO_ROOT_NOT_PINNED");
    expect(e.message).toContain(AWS_NITRO_ROOT_G1.sha256);
  });

  const cases: [string, Partial<NitroDocumentOptions>, NitroVerifyOptions, string, string][] = [
    ["signed by another key", { wrongKey: true }, {}, "NITRO_SIGNATURE_INVALID", "cose.signature"],
    ["a tampered payload", { tamperPayload: true }, {}, "NITRO_SIGNATURE_INVALID", "cose.signature"],
    ["alg ES256", { alg: -7 }, {}, "NITRO_COSE_INVALID", "cose.header"],
    ["a critical header", { crit: [99] }, {}, "NITRO_COSE_INVALID", "cose.header"],
    ["digest SHA256", { digest: "SHA256" }, {}, "NITRO_DOCUMENT_INVALID", "document.fields"],
    ["user_data of 513 bytes", { userData: new Uint8Array(513) }, {}, "NITRO_DOCUMENT_INVALID", "document.fields"],
    ["a PCR of 32 bytes", { pcrs: new Map([[0, new Uint8Array(32)], [1, new Uint8Array(48)], [2, new Uint8Array(48)]]) }, {}, "NITRO_DOCUMENT_INVALID", "document.fields"],
    ["an empty cabundle", { cabundle: [] }, {}, "NITRO_DOCUMENT_INVALID", "document.fields"],
    ["a cabundle without the regional CA", { cabundle: [new Uint8Array(0)] }, {}, "NITRO_ROOT_NOT_PINNED", "chain.root"],
    ["a timestamp outside the signing certificate's validity", { leafValidity: { notBefore: now + 600, notAfter: now + 7200 } }, { now: now + 700 }, "NITRO_TIMESTAMP_INVALID", "document.timestamp"],
    ["a timestamp after the verification time", { leafValidity: { notBefore: now - 3600, notAfter: now + 3600 } }, { now: now - 1800 }, "NITRO_TIMESTAMP_INVALID", "document.timestamp"],
    ["verified before the signing certificate's validity", {}, { now: now - 600 }, "NITRO_CERT_NOT_VALID_AT", "chain.validity"],
    ["verified after the world's certificates expired", {}, { now: now + 40 * 86_400 }, "NITRO_CERT_NOT_VALID_AT", "chain.validity"],
  ];
  for (const [what, o, v, code, step] of cases) {
    it(`${what}: ${code} at ${step}`, () => {
      const e = failure(() => run(doc(o), v));
      expect(e.code).toBe(code);
      expect(e.checks.at(-1)).toMatchObject({ name: step, ok: false });
      expect(e.checks.slice(0, -1).every((c) => c.ok)).toBe(true);
    });
  }

  it("a cabundle whose CA is replaced by the root itself: the signing certificate's issuer is not found (NITRO_CHAIN_INVALID)", () => {
    const e = failure(() => run(doc({ cabundle: [w.rootDer] })));
    expect(e.code).toBe("NITRO_CHAIN_INVALID");
    expect(e.message).toMatch(/is issued by CN=region\.test\.nitro-enclaves, not by the previous certificate CN=test\.nitro-enclaves/);
  });

  it("a debug-mode document of the world: NITRO_DEBUG_ENCLAVE, accepted with allowDebug", () => {
    expect(failure(() => verifyNitroDocumentOrThrow(doc({ pcrs: debugPcrs() }), { rootDer: w.rootDer, now })).code).toBe("NITRO_DEBUG_ENCLAVE");
    expect(verifyNitroDocumentOrThrow(doc({ pcrs: debugPcrs() }), { rootDer: w.rootDer, now, allowDebug: true }).ok).toBe(true);
  });

  it("an AWS Nitro TPM document (nitrotpm_pcrs) is named as not supported", () => {
    const e = failure(() => verifyNitroDocument(doc({ tpm: true }), { rootDer: w.rootDer, now }));
    expect(e.code).toBe("PLATFORM_NOT_SUPPORTED");
  });
});
