import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { bytesToHex, hexToBytes } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { bootstrapInfoToDstackJson, normalizeBootstrap, parseBootstrapInfo, unwrapBootstrapObject } from "../../src/kms/bootstrap.js";
import { writeFileAtomic } from "../../src/core/files.js";
import { jsonNestingDepth, parseJsonLimited } from "../../src/core/json.js";
import { readBootstrapFile } from "../../src/kms/pull.js";

const FIX = new URL("../fixtures/dcap/", import.meta.url);
const getQuote = JSON.parse(readFileSync(new URL("tdx-lite-getquote.json", FIX), "utf8")) as { quote: string; event_log: string };
const v0 = readFileSync(new URL("dstack-attestation-v0.bin", FIX));

// NEAR production keys (docs/formats.md §2) — real values; the quote/eventlog are the real dstack fixture's
const CA = "3059301306072a8648ce3d020106082a8648ce3d03010703420004228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc";
const K256 = "022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e";
const legacy = { ca_pubkey: CA, k256_pubkey: K256, quote: getQuote.quote, eventlog: Buffer.from(getQuote.event_log).toString("hex") };

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).code;
  }
  throw new Error("did not throw");
}

describe("bootstrap info parsing", () => {
  it("reads the legacy shape (plain hex, as dstack emits)", () => {
    const info = parseBootstrapInfo(legacy);
    expect(info.format).toBe("legacy");
    expect(bytesToHex(info.caPubkey)).toBe(`0x${CA}`);
    expect(info.quote!.length).toBe(hexToBytes(getQuote.quote).length);
    expect(info.eventLog).toHaveLength(29);
    expect(info.problems).toEqual([]);
  });

  it("reads 0x hex, base64 and url-safe base64 byte fields (the tutorials show all)", () => {
    const b64 = (h: string) => Buffer.from(h, "hex").toString("base64");
    const forms = [
      { ...legacy, ca_pubkey: `0x${CA}`, k256_pubkey: `0x${K256}`, quote: `0x${getQuote.quote}`, eventlog: `0x${legacy.eventlog}` },
      { ...legacy, ca_pubkey: b64(CA), k256_pubkey: b64(K256), quote: b64(getQuote.quote), eventlog: b64(legacy.eventlog) },
      { ...legacy, ca_pubkey: b64(CA).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""), eventlog: getQuote.event_log },
      { caPubkey: `0x${CA}`, k256Pubkey: `0x${K256}`, quote: `0x${getQuote.quote}`, eventlog: `0x${legacy.eventlog}` },
    ];
    for (const f of forms) {
      const info = parseBootstrapInfo(f);
      expect(bytesToHex(info.caPubkey)).toBe(`0x${CA}`);
      expect(bytesToHex(info.k256Pubkey)).toBe(`0x${K256}`);
      expect(info.eventLog).toHaveLength(29);
      expect(info.problems).toEqual([]);
    }
  });

  it("reads the new attestation shape (V0 SCALE), hex or base64, and a raw-quote attestation", () => {
    for (const att of [v0.toString("hex"), `0x${v0.toString("hex")}`, v0.toString("base64")]) {
      const info = parseBootstrapInfo({ ca_pubkey: CA, k256_pubkey: K256, attestation: att });
      expect(info.format).toBe("attestation");
      expect(info.quote!.length).toBe(5010);
      expect(info.eventLog).toHaveLength(33);
    }
    const raw = parseBootstrapInfo({ ca_pubkey: CA, k256_pubkey: K256, attestation: getQuote.quote });
    expect(raw.decodedAttestation!.format).toBe("raw-quote");
    expect(raw.eventLog).toBeNull();
  });

  it("unwraps a GetMeta answer and explains a null bootstrap_info", () => {
    const meta = { ca_cert: "-----BEGIN CERTIFICATE-----", k256_pubkey: K256, bootstrap_info: legacy, is_dev: false };
    expect(parseBootstrapInfo(meta).eventLog).toHaveLength(29);
    expect(unwrapBootstrapObject(meta).meta).toBe(meta);
    try {
      parseBootstrapInfo({ ...meta, bootstrap_info: null });
      expect.unreachable();
    } catch (e) {
      expect((e as InputError).code).toBe("BOOTSTRAP_INFO_NULL");
      expect((e as Error).message).toMatch(/auto-bootstrapped.*--file/);
    }
  });

  it("normalizes to 0x hex with source and time, and round-trips through its own document", () => {
    const info = parseBootstrapInfo(legacy);
    const doc = normalizeBootstrap(info, { type: "file", path: "/x.json" }, 1_767_225_600);
    expect(doc.kind).toBe("dstack-kms-bootstrap-info");
    expect(doc.pulledAt).toBe("2026-01-01T00:00:00.000Z");
    expect(doc.kmsAddress).toBe("0x796bcb22109675531a48ee05026c3302442b54d9");
    expect(doc.quote!.startsWith("0x04000200")).toBe(true);
    expect(doc.bootstrapInfo).toEqual(legacy);
    const again = parseBootstrapInfo(JSON.parse(JSON.stringify(doc)));
    expect(bytesToHex(again.quote!)).toBe(doc.quote);
    expect(bootstrapInfoToDstackJson(again)).toEqual(legacy);
  });

  it("records empty quote / eventlog (quote_enabled = false) as problems, not crashes", () => {
    const info = parseBootstrapInfo({ ...legacy, quote: "", eventlog: "" });
    expect(info.quote).toBeNull();
    expect(info.problems.map((p) => p.code)).toEqual(["QUOTE_EMPTY", "EVENTLOG_EMPTY"]);
    const bad = parseBootstrapInfo({ ...legacy, eventlog: "5b7b" });
    expect(bad.problems[0]!.field).toBe("eventlog");
    const badAtt = parseBootstrapInfo({ ca_pubkey: CA, k256_pubkey: K256, attestation: "0000ff" });
    expect(badAtt.problems[0]!.code).toBe("ATTESTATION_MALFORMED");
  });

  it("rejects hostile and malformed key fields with typed errors", () => {
    expect(code(() => parseBootstrapInfo({ ...legacy, ca_pubkey: undefined }))).toBe("BOOTSTRAP_FIELD_MISSING");
    expect(code(() => parseBootstrapInfo({ ...legacy, ca_pubkey: CA.slice(2) }))).toBe("BAD_CA_PUBKEY");
    expect(code(() => parseBootstrapInfo({ ...legacy, k256_pubkey: `04${K256.slice(2)}` }))).toBe("BAD_K256_PUBKEY");
    expect(code(() => parseBootstrapInfo({ ...legacy, k256_pubkey: "zz!!" }))).toBe("BAD_ENCODING");
    expect(code(() => parseBootstrapInfo({ ...legacy, k256_pubkey: 5 }))).toBe("BAD_ENCODING");
    expect(code(() => parseBootstrapInfo({ ca_pubkey: CA, k256_pubkey: K256 }))).toBe("BOOTSTRAP_FIELD_MISSING");
    expect(code(() => parseBootstrapInfo({ ...legacy, attestation: "00" }))).toBe("BOOTSTRAP_AMBIGUOUS");
    expect(code(() => parseBootstrapInfo([legacy]))).toBe("BOOTSTRAP_NOT_OBJECT");
    expect(code(() => parseBootstrapInfo(null))).toBe("BOOTSTRAP_NOT_OBJECT");
  });

  it("caps JSON size and depth before parsing", () => {
    expect(jsonNestingDepth('{"a":"[[[[","b":[[1]]}')).toBe(3);
    expect(code(() => parseJsonLimited("[".repeat(100_000), "x"))).toBe("JSON_TOO_DEEP");
    expect(code(() => parseJsonLimited(`"${"a".repeat(2000)}"`, "x", { maxBytes: 1000 }))).toBe("JSON_TOO_LARGE");
    expect(code(() => parseJsonLimited("<!DOCTYPE html><html>", "x"))).toBe("BAD_JSON");
    expect(() => parseJsonLimited("<html>", "x")).toThrow(/HTML/);
  });

  it("a well-formed legacy document binds the NEAR keys only through its own quote", () => {
    // the fixture quote was made for other keys: the binding of NEAR's keys is not in it
    const info = parseBootstrapInfo(legacy);
    const rd = expectedKmsReportData(info.caPubkey, info.k256Pubkey);
    expect(bytesToHex(rd).slice(0, 66)).toBe("0x30dd5d40583a4cdbf151238925fd1fbca449528a757423a5534a1dab9f1d6429");
  });
});

describe("bootstrap files on disk", () => {
  it("refuses oversized, missing and directory inputs with typed errors; atomic writes keep old content on failure", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kms-bfile-"));
    try {
      const huge = join(dir, "huge.json");
      writeFileSync(huge, "");
      truncateSync(huge, 17 * 1024 * 1024); // sparse: no real 17 MiB write
      await expect(readBootstrapFile(huge)).rejects.toMatchObject({ code: "FILE_TOO_LARGE" });
      await expect(readBootstrapFile(join(dir, "missing.json"))).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
      await expect(readBootstrapFile(dir)).rejects.toMatchObject({ code: "FILE_IS_DIRECTORY", message: expect.stringContaining(`use --certs-dir ${dir}`) as unknown });
      const fifo = join(dir, "fifo.json");
      execFileSync("mkfifo", [fifo]);
      await expect(readBootstrapFile(fifo)).rejects.toMatchObject({ code: "FILE_NOT_REGULAR" }); // does not hang
      const deep = join(dir, "deep.json");
      writeFileSync(deep, "[".repeat(5000) + "]".repeat(5000));
      await expect(readBootstrapFile(deep)).rejects.toMatchObject({ code: "JSON_TOO_DEEP" });
      const good = join(dir, "good.json");
      writeFileSync(good, JSON.stringify(legacy));
      expect((await readBootstrapFile(good)).info.format).toBe("legacy");

      const out = join(dir, "out.json");
      await writeFileAtomic(out, "first");
      await expect(writeFileAtomic(join(dir, "no-such-dir", "x.json"), "x")).rejects.toMatchObject({ code: "WRITE_FAILED" });
      await writeFileAtomic(out, "second");
      expect(readFileSync(out, "utf8")).toBe("second");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
