import { readFileSync } from "node:fs";

import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";

import { bytesToHex } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { AttestationDecodeError, decodeDstackAttestation, PlatformNotSupportedError, tdxQuoteOf, type DstackAttestation } from "../../src/dstack/attestation.js";
import { decodeCbor } from "../../src/dstack/platforms/cbor.js";
import { decodeNitroDocument, looksLikeCoseSign1 } from "../../src/dstack/platforms/nitro.js";
import { looksLikeSnpReport, parseSnpReport } from "../../src/dstack/platforms/sev-snp.js";
import { eventLogToJson } from "../../src/dstack/eventlog.js";
import { hexToBytes } from "../../src/core/bytes.js";

const read = (dir: string, name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url)));
const tdxV0 = read("dcap", "dstack-attestation-v0.bin");
const nitroV0 = read("dstack", "dstack-v0-nitro-enclave-dbg.bin");
const snpV0 = read("dstack", "dstack-sev-snp-attestation-v0.bin");
const snpRawV2 = read("dstack", "go-sev-guest-report-v2-milan.bin");
const snpRawV5 = read("dstack", "teekit-gcp-report-v5-reportdata.bin");

const MARKER = `0x${Buffer.from("attest-test-fixture-2026").toString("hex").padEnd(128, "0")}`;

type ByteForm = "bin" | "array";
const bytesAs = (b: Uint8Array, form: ByteForm) => (form === "bin" ? b : Array.from(b));

/** The V1 msgpack encoding of a decoded attestation, with every byte field in one form. */
function toV1(a: DstackAttestation, form: ByteForm, extra: Record<string, unknown> = {}): Uint8Array {
  const b = (x: Uint8Array) => bytesAs(x, form);
  let data: Record<string, unknown>;
  if (a.platform === "tdx" || a.platform === "gcp-tdx") {
    const events = eventLogToJson(a.eventLog!).map((e) => ({ imr: e.imr, event_type: e.event_type, digest: b(hexToBytes(e.digest as string)), event: e.event, event_payload: b(hexToBytes(e.event_payload as string)) }));
    data = { quote: b(a.quote!), event_log: events };
  } else if (a.platform === "sev-snp") data = { report: b(a.evidence), cert_chain: a.snp!.certChain.map(b), mr_config: a.snp!.mrConfig };
  else if (a.platform === "nitro-enclave") data = { nsm_quote: b(a.evidence) };
  else data = { attestation_doc: b(a.evidence) };
  const s = a.stack!;
  return encode({
    version: 1,
    platform: { kind: a.platform, data: { ...data, ...extra } },
    stack: { kind: "dstack", data: { report_data: b(s.reportData), runtime_events: s.runtimeEvents.map((e) => ({ event: e.event, payload: b(e.payload) })), config: s.config } },
  });
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return `${(e as InputError).code}: ${(e as Error).message}`;
  }
  return expect.unreachable("no error");
}

describe("V0 attestations of every platform (real dstack samples)", () => {
  it("SEV-SNP: the 1184-byte report, no certificate chain, the MrConfig document, the stack", () => {
    const a = decodeDstackAttestation(snpV0);
    expect(a).toMatchObject({ format: "v0-scale", version: 0, platform: "sev-snp", quote: null, eventLog: null, tpmQuote: null });
    expect(a.evidence.length).toBe(1184);
    expect(a.snp!.certChain).toEqual([]);
    expect(JSON.parse(a.snp!.mrConfig)).toMatchObject({ app_id: "86e59625be93207bc2351c4d1bba20037cec8e16" });
    expect(bytesToHex(a.stack!.reportData)).toBe(MARKER);
    expect(a.runtimeEvents.length).toBe(9);
    const r = parseSnpReport(a.evidence);
    expect(r.version).toBe(3);
    expect(r.cpuid).toEqual({ family: 0x19, model: 1, stepping: 1 });
    expect(r.vmpl).toBe(0);
    expect(r.policy).toBe(0x30000n);
    expect(r.reportedTcb).toBe(0xd517000000000004n);
    expect(r.hostData.startsWith("0x783f0057")).toBe(true);
    expect(r.hostData.endsWith("680f742f")).toBe(true);
    // the report's own report_data (0x50) is the stack's
    expect(bytesToHex(r.reportData)).toBe(MARKER);
    expect(r.measurement).not.toBe(`0x${"00".repeat(48)}`);
  });

  it("Nitro Enclave: the NSM COSE_Sign1 document (ES384), debug-mode PCRs all zero", () => {
    const a = decodeDstackAttestation(nitroV0);
    expect(a).toMatchObject({ format: "v0-scale", version: 0, platform: "nitro-enclave", quote: null, snp: null });
    expect(a.evidence.length).toBe(4529);
    expect(looksLikeCoseSign1(a.evidence)).toBe(true);
    const d = decodeNitroDocument(a.evidence);
    expect(d.kind).toBe("nitro-enclave");
    expect(d.algorithm).toBe(-35);
    expect(d.moduleId).toBe("i-0fd3fdaad4e904e69-enc019b54988b2d89ba");
    expect(d.digest).toBe("SHA384");
    for (const i of ["0", "1", "2"]) expect(d.pcrs[i]).toBe(`0x${"00".repeat(48)}`);
    expect(d.cabundle.length).toBe(4);
    expect(d.certificate[0]).toBe(0x30); // a DER certificate
    expect(d.userData?.length).toBe(64);
    expect(d.signature.length).toBe(96); // ES384 r ‖ s
    expect(JSON.parse(a.config!)).toHaveProperty("os_image_hash");
  });

  it("TDX: still decodes as before; tdxQuoteOf gives its quote and names any other platform as not supported", () => {
    const a = decodeDstackAttestation(tdxV0);
    expect(tdxQuoteOf(a)).toBe(a.quote);
    for (const bytes of [snpV0, nitroV0]) {
      const b = decodeDstackAttestation(bytes);
      let err: unknown;
      try {
        tdxQuoteOf(b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PlatformNotSupportedError);
      expect((err as InputError).code).toBe("PLATFORM_NOT_SUPPORTED");
      expect((err as Error).message).toContain(`${b.platform} attestation; verifying ${b.platform} is not supported yet`);
    }
  });

  it("every truncation of the SNP and Nitro samples is a typed error naming the field and offset", () => {
    for (const bytes of [snpV0, nitroV0]) {
      for (let n = 1; n < bytes.length; n += 97) {
        const msg = code(() => decodeDstackAttestation(bytes.subarray(0, n)));
        expect(msg).toMatch(/^ATTESTATION_MALFORMED: attestation \(V0 SCALE\): .+ at offset \d+: /);
      }
    }
  });
});

describe("V1 msgpack attestations built from the real evidence", () => {
  for (const form of ["bin", "array"] as const) {
    it(`decode to the same result as V0 for every platform (byte fields as ${form})`, () => {
      for (const v0 of [tdxV0, snpV0, nitroV0]) {
        const a = decodeDstackAttestation(v0);
        const v1 = toV1(a, form);
        expect(v1[0]! >= 0x80 && v1[0]! <= 0x8f).toBe(true);
        const b = decodeDstackAttestation(v1);
        expect(b.format).toBe("v1-msgpack");
        expect(b.version).toBe(1);
        expect(b.platform).toBe(a.platform);
        expect(bytesToHex(b.evidence)).toBe(bytesToHex(a.evidence));
        expect(bytesToHex(b.stack!.reportData)).toBe(bytesToHex(a.stack!.reportData));
        expect(b.stack!.runtimeEvents.map((e) => [e.event, bytesToHex(e.payload)])).toEqual(a.stack!.runtimeEvents.map((e) => [e.event, bytesToHex(e.payload)]));
        expect(b.config).toBe(a.config);
        expect(b.snp?.mrConfig).toBe(a.snp?.mrConfig);
        if (a.eventLog) expect(eventLogToJson(b.eventLog!)).toEqual(eventLogToJson(a.eventLog));
      }
    });
  }

  it("gcp-tdx: the TDX quote plus the TPM quote (bin and array byte forms)", () => {
    const a = decodeDstackAttestation(tdxV0);
    for (const form of ["bin", "array"] as const) {
      const b = (x: number[]) => bytesAs(Uint8Array.from(x), form);
      const tpm = { message: b([0xff, 0x54, 0x43, 0x47]), signature: b([1, 2, 3]), pcr_values: [{ index: 0, value: b(new Array(32).fill(7)) }, { index: 14, value: b(new Array(32).fill(9)) }], qualifying_data: b([5]), ak_cert: b([0x30, 0]) };
      const g = decodeDstackAttestation(toV1({ ...a, platform: "gcp-tdx" }, form, { tpm_quote: tpm }));
      expect(g.platform).toBe("gcp-tdx");
      expect(bytesToHex(tdxQuoteOf(g))).toBe(bytesToHex(a.quote!));
      expect(g.tpmQuote!.pcrValues.map((p) => p.index)).toEqual([0, 14]);
      expect(bytesToHex(g.tpmQuote!.message)).toBe("0xff544347");
      expect(g.eventLog).toHaveLength(33);
    }
  });

  it("aws-nitro-tpm, dstack-pod and an unknown platform kind decode", () => {
    const n = decodeDstackAttestation(nitroV0);
    const tpm = decodeDstackAttestation(toV1({ ...n, platform: "aws-nitro-tpm" }, "bin"));
    expect(tpm.platform).toBe("aws-nitro-tpm");
    expect(tpm.evidence.length).toBe(4529);
    const pod = encode({
      version: 1,
      platform: { kind: "tdx-next", data: { anything: [1, 2] } },
      stack: { kind: "dstack-pod", data: { report_data: new Uint8Array(64).fill(3), runtime_events: [], config: "{}", report_data_payload: '{"hello":"world"}' } },
    });
    const u = decodeDstackAttestation(pod);
    expect(u.platform).toBe("tdx-next");
    expect(u.evidence.length).toBe(0);
    expect(u.quote).toBeNull();
    expect(u.stack).toMatchObject({ kind: "dstack-pod", reportDataPayload: '{"hello":"world"}' });
    expect(() => tdxQuoteOf(u)).toThrow(/tdx-next attestation; verifying tdx-next is not supported yet/);
  });

  it("malformed V1 is ATTESTATION_MALFORMED naming the field", () => {
    const a = decodeDstackAttestation(snpV0);
    const ok = { version: 1, platform: { kind: "sev-snp", data: { report: a.evidence, cert_chain: [], mr_config: "{}" } }, stack: { kind: "dstack", data: { report_data: new Uint8Array(64), runtime_events: [], config: "{}" } } };
    const bad = (patch: (d: typeof ok & Record<string, unknown>) => void) => {
      const d = structuredClone(ok) as typeof ok & Record<string, unknown>;
      patch(d);
      return code(() => decodeDstackAttestation(encode(d)));
    };
    expect(decodeDstackAttestation(encode(ok)).platform).toBe("sev-snp");
    expect(bad((d) => (d.version = 2))).toBe("ATTESTATION_MALFORMED: attestation (V1 msgpack): version: expected 1, got 2");
    expect(bad((d) => (d.stack.data.report_data = new Uint8Array(63)))).toBe("ATTESTATION_MALFORMED: attestation (V1 msgpack): stack.data.report_data: must be 64 bytes, got 63");
    expect(bad((d) => (d.stack.kind = "other"))).toMatch(/stack\.kind: unknown stack kind "other"/);
    expect(bad((d) => ((d.platform.data as Record<string, unknown>).cert_chain = "x"))).toMatch(/platform\.data\.cert_chain: expected an array, got string/);
    expect(bad((d) => ((d.platform.data as Record<string, unknown>).cert_chain = [[1, 300]]))).toMatch(/platform\.data\.cert_chain\[0\]: array is not bytes/);
    expect(bad((d) => ((d.platform.data as Record<string, unknown>).mr_config = undefined))).toMatch(/platform\.data\.mr_config: expected a string, got null/);
    expect(bad((d) => ((d.stack.data as Record<string, unknown>).runtime_events = [{ event: "x" }]))).toMatch(/stack\.data\.runtime_events\[0\]\.payload: expected bytes/);
    expect(bad((d) => delete (d as Record<string, unknown>).stack)).toMatch(/stack: expected a map, got missing/);
    expect(bad((d) => (d.platform.kind = "tdx"))).toMatch(/platform\.data\.quote: expected bytes/);
  });
});

describe("platform decoders", () => {
  it("SEV-SNP raw reports of other sources (report versions 2 and 5)", () => {
    expect(looksLikeSnpReport(snpRawV2)).toBe(true);
    const r2 = parseSnpReport(snpRawV2);
    expect(r2.version).toBe(2);
    expect(r2.cpuid).toBeNull();
    expect(bytesToHex(r2.reportData)).toBe(`0x0102030405${"00".repeat(59)}`);
    expect(r2.chipId.startsWith("0x3ac3fe21")).toBe(true);
    expect(r2.reportedTcb).toBe(4901323769462652930n);
    const r5 = parseSnpReport(snpRawV5);
    expect(r5.version).toBe(5);
    expect(r5.vmpl).toBe(1);
    expect(r5.measurement).toBe("0xb747d55452e0b9e9079770a49e397c5e6d9573581e246da7baac4f28b5cdc5b1b6d19251b8ee600fd16a3708f58406f3");
    expect(bytesToHex(r5.reportData)).toBe("0x32fc4f6c1971cbf91566231f8d6153eeb9d093aa94306cb48d39bcc4861a3d395f149876a37bc91332fe493f46294fd135d5b95d363ae96352b8c45f906079f5");
    expect(code(() => parseSnpReport(snpRawV2.subarray(0, 1000)))).toBe("SNP_REPORT_MALFORMED: SEV-SNP report: 1000 bytes, expected 1184");
    expect(looksLikeSnpReport(snpRawV2.subarray(0, 1000))).toBe(false);
  });

  it("the Nitro document's truncations and corruptions are typed errors, never a crash", () => {
    const doc = decodeDstackAttestation(nitroV0).evidence;
    for (let n = 0; n < doc.length; n += 53) {
      const msg = code(() => decodeNitroDocument(doc.subarray(0, n)));
      expect(msg).toMatch(/^(CBOR_MALFORMED|NITRO_DOCUMENT_MALFORMED): Nitro attestation document/);
    }
    expect(code(() => decodeNitroDocument(Uint8Array.of(0x83, 0x40, 0xa0, 0x40)))).toBe("NITRO_DOCUMENT_MALFORMED: Nitro attestation document: COSE_Sign1: not an array of 4 items");
  });

  it("the CBOR reader is bounded: huge lengths, deep nesting, indefinite items without a break", () => {
    expect(code(() => decodeCbor(Uint8Array.of(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "t"))).toMatch(/CBOR_MALFORMED: t: CBOR at offset 9: length 18446744073709551615 does not fit in the remaining 0 bytes/);
    expect(code(() => decodeCbor(new Uint8Array(40).fill(0x81), "t"))).toMatch(/nested deeper than 16/);
    expect(code(() => decodeCbor(Uint8Array.of(0x9f, 1, 2), "t"))).toMatch(/needs 1 bytes, only 0 remain/);
    expect(code(() => decodeCbor(Uint8Array.of(0xa2, 1, 2, 1, 3), "t"))).toMatch(/duplicate map key 1/);
    expect(decodeCbor(Uint8Array.of(0xbf, 0x61, 0x61, 0x42, 1, 2, 0xff), "t")).toEqual(new Map([["a", Uint8Array.of(1, 2)]]));
    // chunked strings and floats are not read (the NSM writes neither; the registry's on-chain reader reads neither)
    expect(code(() => decodeCbor(Uint8Array.of(0xbf, 0x61, 0x61, 0x5f, 0x41, 1, 0x41, 2, 0xff, 0xff), "t"))).toMatch(/CBOR at offset 3: an indefinite-length \(chunked\) byte string is not read/);
    expect(code(() => decodeCbor(Uint8Array.of(0x7f, 0x61, 0x61, 0xff), "t"))).toMatch(/CBOR at offset 0: an indefinite-length \(chunked\) text string is not read/);
    expect(code(() => decodeCbor(Uint8Array.of(0xf9, 0x3c, 0x00), "t"))).toMatch(/CBOR at offset 0: a floating-point number is not read/);
    expect(decodeCbor(Uint8Array.of(0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "t")).toBe(-(2n ** 64n));
  });
});

describe("attestation errors stay typed", () => {
  it("an unknown V0 tag lists the known ones", () => {
    expect(() => decodeDstackAttestation(Uint8Array.of(0, 5))).toThrow(AttestationDecodeError);
    expect(code(() => decodeDstackAttestation(Uint8Array.of(0, 5)))).toMatch(/unknown platform tag 5 \(known: 0 tdx, 1 gcp-tdx, 2 nitro-enclave, 3 sev-snp, 4 aws-nitro-tpm\)/);
  });
});
