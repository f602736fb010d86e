/**
 * Differential cases of the registry's platform readers: the on-chain `nitroDocumentFields` (NitroDocument.sol)
 * against the off-chain `nitroRegistryFields` (decodeNitroDocument + the registry's rules), and the on-chain
 * `snpReportFields` (SnpReport.sol) against `parseSnpReport` + the registry's reading (report_data at 0x50,
 * keccak256 of the measurement at 0x90). Seeded mutations of real and test-world documents: structural ones
 * (every CBOR major type and length form in place of each field, keys, PCR entries and cabundle items, the
 * COSE heads, duplicated, removed and inserted entries, indefinite forms, tags, trailing bytes) and byte
 * ones (flips, interesting head bytes at every item head, truncations, insertions, deletions). Shared by the
 * test and the longer bench run.
 */
import { readFileSync } from "node:fs";

import { decodeErrorResult, decodeFunctionResult, keccak256 } from "viem";

import { bytesToHex, concatBytes, type Hex } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import { decodeDstackAttestation } from "../../src/dstack/attestation.js";
import { nitroRegistryFields } from "../../src/dstack/platforms/nitro.js";
import { parseSnpReport, SNP_REPORT_DATA_OFFSET } from "../../src/dstack/platforms/sev-snp.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { rng } from "../helpers/rng.js";
import { createNitroWorld, debugPcrs, makeNitroDocument } from "../../src/testing/platforms/nitro-world.js";

// ───────────────────────────── seeded randomness ─────────────────────────────

export type Rng = () => number;
/** The shared seeded PRNG, seed 0 read as 1. */
export const rngOf = (seed: number): Rng => rng(seed >>> 0 || 1);
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
const randomBytes = (r: Rng, n: number) => Uint8Array.from({ length: n }, () => int(r, 256));
const cat = (...p: Uint8Array[]) => concatBytes(...p);
const u8 = (...b: number[]) => Uint8Array.of(...b);

// ───────────────────────────── CBOR with chosen head forms ─────────────────────────────

/** A head's length form: minimal, or 1, 2, 4 or 8 bytes after the initial byte. */
export type Form = 0 | 1 | 2 | 4 | 8;
export function hd(major: number, n: number | bigint, form: Form = 0): Uint8Array {
  const v = BigInt(n);
  let size: number = form;
  if (form === 0) size = v < 24n ? 0 : v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x100000000n ? 4 : 8;
  if (size === 0) return u8((major << 5) | Number(v));
  const info = { 1: 24, 2: 25, 4: 26, 8: 27 }[size as 1 | 2 | 4 | 8];
  const out = new Uint8Array(1 + size);
  out[0] = (major << 5) | info;
  for (let i = 0; i < size; i++) out[size - i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}
const bstr = (b: Uint8Array, f: Form = 0) => cat(hd(2, b.length, f), b);
const tstr = (s: string | Uint8Array, f: Form = 0) => {
  const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
  return cat(hd(3, b.length, f), b);
};
const uint = (n: number | bigint, f: Form = 0) => hd(0, n, f);
const chunked = (major: 2 | 3, b: Uint8Array) => cat(u8((major << 5) | 31), hd(major, Math.ceil(b.length / 2)), b.subarray(0, Math.ceil(b.length / 2)), hd(major, b.length - Math.ceil(b.length / 2)), b.subarray(Math.ceil(b.length / 2)), u8(0xff));
/** A container of encoded items: definite (head form f) or indefinite ("indef"). */
function container(major: 4 | 5, count: number, body: Uint8Array[], f: Form | "indef"): Uint8Array {
  return f === "indef" ? cat(u8((major << 5) | 31), ...body, u8(0xff)) : cat(hd(major, count, f), ...body);
}
const FORMS: readonly (Form | "indef")[] = [0, 1, 2, 4, 8, "indef"];

/** A random CBOR item (or a malformed head) of any major type and length form, nested at most `depth`. */
export function anyItem(r: Rng, depth = 2): Uint8Array {
  const major = int(r, 8);
  const infoKind = int(r, 10); // 0–4: a length form; 5: indefinite; 6: reserved 28–30; else small
  const form = pick(r, [0, 1, 2, 4, 8] as Form[]);
  if (infoKind === 6) return u8((major << 5) | (28 + int(r, 3)), ...randomBytes(r, int(r, 3)));
  const indefinite = infoKind === 5;
  switch (major) {
    case 0:
    case 1:
      return indefinite ? u8((major << 5) | 31) : hd(major, pick(r, [0, 1, 23, 24, 255, 256, 65535, 2 ** 32, 2 ** 53 - 1, 2 ** 53]), form);
    case 2:
    case 3: {
      const body = major === 3 ? pick(r, [new TextEncoder().encode("SHA384"), new TextEncoder().encode("é"), u8(0xff, 0xfe), fill(int(r, 70), 0x41)]) : randomBytes(r, pick(r, [0, 1, 47, 48, 49, 63, 64, 65, 96]));
      return indefinite ? chunked(major, body) : cat(hd(major, body.length, form), body);
    }
    case 4:
    case 5: {
      const n = depth > 0 ? int(r, 3) : 0;
      const body = Array.from({ length: n * (major === 5 ? 2 : 1) }, () => anyItem(r, depth - 1));
      return container(major, n, body, indefinite ? "indef" : form);
    }
    case 6:
      return indefinite ? u8(0xdf) : cat(hd(6, pick(r, [0, 18, 24, 55799]), form), depth > 0 ? anyItem(r, depth - 1) : u8(0));
    default: {
      if (indefinite) return u8(0xff);
      return pick(r, [u8(0xf4), u8(0xf5), u8(0xf6), u8(0xf7), u8(0xf8, 0x20), u8(0xf9, 0x3c, 0x00), u8(0xfa, 0x3f, 0x80, 0, 0), u8(0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0), u8(0xe0)]);
    }
  }
}

// ───────────────────────────── a Nitro document model ─────────────────────────────

export interface NitroModel {
  prefix: Uint8Array;
  arrayHead: Uint8Array;
  prot: Uint8Array;
  unprot: Uint8Array;
  payloadForm: Form;
  mapForm: Form | "indef";
  entries: [Uint8Array, Uint8Array][];
  signature: Uint8Array;
  arrayEnd: Uint8Array;
  trailing: Uint8Array;
}

export function encodeModel(m: NitroModel): Uint8Array {
  const payload = container(5, m.entries.length, m.entries.flat(), m.mapForm);
  return cat(m.prefix, m.arrayHead, m.prot, m.unprot, bstr(payload, m.payloadForm), m.signature, m.arrayEnd, m.trailing);
}

interface Fields {
  moduleId: string;
  timestamp: number;
  pcrs: [number, Uint8Array][];
  certificate: Uint8Array;
  cabundle: Uint8Array[];
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
}

function pcrsItem(pcrs: [number, Uint8Array][], f: Form | "indef" = 0): Uint8Array {
  return container(5, pcrs.length, pcrs.flatMap(([i, v]) => [uint(i), bstr(v)]), f);
}
const opt = (b: Uint8Array | null) => (b ? bstr(b) : u8(0xf6));

function modelOf(f: Fields, o: { tagged?: boolean; indefinite?: boolean; tsForm?: Form } = {}): NitroModel {
  const entries: [Uint8Array, Uint8Array][] = [
    [tstr("module_id"), tstr(f.moduleId)],
    [tstr("digest"), tstr("SHA384")],
    [tstr("timestamp"), uint(f.timestamp, o.tsForm ?? 0)],
    [tstr("pcrs"), pcrsItem(f.pcrs)],
    [tstr("certificate"), bstr(f.certificate)],
    [tstr("cabundle"), container(4, f.cabundle.length, f.cabundle.map((c) => bstr(c)), 0)],
    [tstr("public_key"), opt(f.publicKey)],
    [tstr("user_data"), opt(f.userData)],
    [tstr("nonce"), opt(f.nonce)],
  ];
  return { prefix: o.tagged ? u8(0xd2) : u8(), arrayHead: u8(0x84), prot: bstr(u8(0xa1, 0x01, 0x38, 0x22)), unprot: u8(0xa0), payloadForm: 0, mapForm: o.indefinite ? "indef" : 0, entries, signature: bstr(fill(96, 0x5a)), arrayEnd: u8(), trailing: u8() };
}

/** The starting documents: dstack's real NSM document (exact bytes) and test-world ones; their models. */
export function nitroBases(): { docs: { name: string; bytes: Uint8Array }[]; models: { name: string; model: NitroModel }[] } {
  const real = decodeDstackAttestation(new Uint8Array(readFileSync(new URL("../fixtures/dstack/dstack-v0-nitro-enclave-dbg.bin", import.meta.url)))).evidence;
  const now = 1_767_000_000;
  const world = createNitroWorld({ now });
  const ud = Uint8Array.from({ length: 64 }, (_, i) => (i < 32 ? i + 1 : 0));
  const worldDocs = [
    { name: "world", bytes: makeNitroDocument(world, { timestamp: now * 1000, userData: ud }) },
    { name: "world tagged, nonce and public_key", bytes: makeNitroDocument(world, { timestamp: now * 1000, userData: ud, tagged: true, nonce: fill(32, 7), publicKey: fill(91, 9) }) },
    { name: "world debug PCRs", bytes: makeNitroDocument(world, { timestamp: now * 1000 + 1, userData: fill(64, 0xee), pcrs: debugPcrs() }) },
  ];
  const pcrs = (m: Map<number, Uint8Array>) => [...m] as [number, Uint8Array][];
  const realFields: Fields = { moduleId: "i-0fd3fdaad4e904e69-enc019b54988b2d89ba", timestamp: 1_767_000_000_123, pcrs: pcrs(debugPcrs()), certificate: fill(640, 0x30), cabundle: [fill(533, 0x30), fill(700, 0x31), fill(650, 0x32), fill(700, 0x33)], publicKey: null, userData: new Uint8Array(64), nonce: null };
  const models = [
    { name: "NSM shape (indefinite map, 8-byte timestamp)", model: modelOf(realFields, { indefinite: true, tsForm: 8 }) },
    { name: "NSM shape tagged, definite map", model: modelOf({ ...realFields, userData: ud, pcrs: pcrs(new Map([[0, fill(48, 0x11)], [1, fill(48, 0x22)], [2, fill(48, 0x33)], [3, fill(48, 0)], [31, fill(48, 1)]])), nonce: fill(16, 3), publicKey: fill(120, 4) }, { tagged: true }) },
  ];
  return { docs: [{ name: "dstack's real NSM document", bytes: real }, ...worldDocs], models };
}

// Near misses per field: valid variants (other head forms) and invalid ones.
function fieldVariants(key: string, r: Rng): Uint8Array[] {
  const ud = randomBytes(r, 64);
  switch (key) {
    case "module_id":
      return [tstr("i-0123-enc4567"), tstr("i-0123", pick(r, [1, 2, 4, 8] as Form[])), tstr(""), tstr("é"), tstr(u8(0x69, 0xff)), tstr(u8(0x69, 0x01)), tstr(u8(0x7f)), tstr("~ "), chunked(3, new TextEncoder().encode("i-0123")), bstr(new TextEncoder().encode("i-0123")), cat(hd(6, 0), tstr("x"))];
    case "digest":
      return [tstr("SHA384"), tstr("SHA384", pick(r, [1, 2, 4, 8] as Form[])), tstr("SHA256"), tstr("sha384"), tstr("SHA3840"), tstr("SHA38"), chunked(3, new TextEncoder().encode("SHA384")), bstr(new TextEncoder().encode("SHA384"))];
    case "timestamp":
      return [uint(0), uint(1), uint(2 ** 53 - 1, 8), uint(2 ** 53), uint(2n ** 64n - 1n), uint(1_767_000_000_000, pick(r, [4, 8] as Form[])), uint(5, pick(r, [1, 2, 4, 8] as Form[])), hd(1, 5), u8(0xf9, 0x3c, 0x00), u8(0xfb, 0x42, 0x79, 0xb5, 0x4a, 0x4f, 0x10, 0x00, 0x00), u8(0x1f), cat(hd(6, 1), uint(1_767_000_000))];
    case "pcrs": {
      const base: [number, Uint8Array][] = [[0, fill(48, 1)], [1, fill(48, 2)], [2, fill(48, 3)], [3, fill(48, 4)]];
      const raw = (entries: Uint8Array[], count: number, f: Form | "indef" = 0) => container(5, count, entries, f);
      const std = base.flatMap(([i, v]) => [uint(i), bstr(v)]);
      return [
        pcrsItem(base, pick(r, FORMS)),
        pcrsItem(base.slice(1)),
        pcrsItem([base[0]!, base[2]!, base[3]!]),
        pcrsItem(base.slice(0, 2)),
        pcrsItem([...base, [31, fill(48, 9)]]),
        pcrsItem([...base, [32, fill(48, 9)]]),
        pcrsItem([...base, [3, fill(48, 9)]]),
        pcrsItem([...base, [255, fill(48, 9)]]),
        pcrsItem([[0, fill(47, 1)], ...base.slice(1)]),
        pcrsItem([[0, fill(49, 1)], ...base.slice(1)]),
        pcrsItem([...base, [5, fill(32, 5)]]),
        raw([...std, uint(1, 8), bstr(fill(48, 7))], 5),
        raw([...std, uint(4, pick(r, [1, 2, 4, 8] as Form[])), bstr(fill(48, 7))], 5),
        raw([...std, hd(1, 0), bstr(fill(48, 7))], 5),
        raw([...std, tstr("4"), bstr(fill(48, 7))], 5),
        raw([...std, uint(2n ** 40n), bstr(fill(48, 7))], 5),
        raw([uint(0), chunked(2, fill(48, 1)), ...std.slice(2)], 4),
        raw([uint(0), bstr(fill(48, 1), pick(r, [1, 2, 4, 8] as Form[])), ...std.slice(2)], 4),
        raw([uint(0), cat(hd(6, 24), bstr(fill(48, 1))), ...std.slice(2)], 4),
        raw([uint(0), u8(0xf6), ...std.slice(2)], 4),
        raw(std, 5),
        raw(std, 3),
        container(4, 4, std.slice(0, 4), 0),
      ];
    }
    case "certificate":
      return [bstr(fill(300, 0x30)), bstr(u8()), bstr(fill(300, 0x30), pick(r, [2, 4, 8] as Form[])), chunked(2, fill(300, 0x30)), u8(0xf6), tstr("cert"), container(4, 1, [bstr(fill(10, 1))], 0)];
    case "cabundle":
      return [container(4, 2, [bstr(fill(20, 1)), bstr(fill(30, 2))], pick(r, FORMS)), container(4, 0, [], pick(r, FORMS)), container(4, 1, [bstr(fill(20, 1), pick(r, [1, 2, 4, 8] as Form[]))], 0), container(4, 1, [chunked(2, fill(20, 1))], 0), container(4, 2, [bstr(fill(20, 1)), u8(0xf6)], 0), container(4, 1, [tstr("x")], 0), container(4, 3, [bstr(fill(20, 1))], 0), bstr(fill(20, 1)), u8(0xf6)];
    case "user_data":
      return [bstr(ud), bstr(ud, pick(r, [1, 2, 4, 8] as Form[])), bstr(ud.subarray(0, 63)), bstr(cat(ud, u8(0))), bstr(u8()), bstr(fill(32, 1)), u8(0xf6), u8(0xf7), chunked(2, ud), tstr(fill(64, 0x41)), cat(hd(6, 24), bstr(ud))];
    default: // public_key, nonce
      return [u8(0xf6), u8(0xf7), bstr(u8()), bstr(fill(512, 1)), bstr(fill(513, 1)), bstr(fill(1024, 1)), bstr(fill(1025, 1)), bstr(fill(33, 1), pick(r, [1, 2, 4, 8] as Form[])), chunked(2, fill(33, 1)), tstr("k"), u8(0xf5)];
  }
}

const KEYS = ["module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "user_data", "nonce"];
const keyName = (k: Uint8Array) => new TextDecoder().decode(k.subarray(1));

/** One structural mutation of a model (a copy). */
function mutateModel(m0: NitroModel, r: Rng): NitroModel {
  const m: NitroModel = { ...m0, entries: m0.entries.map(([k, v]) => [k, v]) };
  const i = int(r, m.entries.length || 1);
  const e = m.entries[i];
  switch (int(r, 16)) {
    case 0:
    case 1:
    case 2: // a near miss (or a valid variant) of a field
      if (e) e[1] = pick(r, fieldVariants(keyName(e[0]), r));
      break;
    case 3: // any CBOR item for a value
      if (e) e[1] = anyItem(r);
      break;
    case 4: // another key
      if (e) e[0] = pick(r, [anyItem(r, 0), tstr(keyName(e[0]), pick(r, [1, 2, 4, 8] as Form[])), tstr(pick(r, KEYS)), tstr("nitrotpm_pcrs"), tstr("user_datA"), tstr("user_data\0"), tstr("extra"), tstr(""), tstr("a_key_of_12b"), chunked(3, e[0].subarray(1)), bstr(e[0].subarray(1)), uint(int(r, 10)), hd(1, 0)]);
      break;
    case 5: // a duplicate
      if (e) m.entries.splice(int(r, m.entries.length + 1), 0, [e[0], int(r, 2) ? e[1] : pick(r, fieldVariants(keyName(e[0]), r))]);
      break;
    case 6: // removed
      m.entries.splice(i, 1);
      break;
    case 7: // an inserted entry
      m.entries.splice(int(r, m.entries.length + 1), 0, [pick(r, [tstr("extra"), tstr("nitrotpm_pcrs"), anyItem(r, 0), uint(1)]), anyItem(r)]);
      break;
    case 8: // reordered
      m.entries.sort(() => r() - 0.5);
      break;
    case 9:
      m.mapForm = pick(r, FORMS);
      m.payloadForm = pick(r, [0, 1, 2, 4, 8] as Form[]);
      break;
    case 10:
      m.prefix = pick(r, [u8(), u8(0xd2), u8(0xd8, 0x12), u8(0xd2, 0xd2), u8(0xc0), u8(0xd1)]);
      break;
    case 11: {
      const a = pick(r, [[u8(0x84), u8()], [u8(0x98, 0x04), u8()], [u8(0x99, 0x00, 0x04), u8()], [u8(0x9f), u8(0xff)], [u8(0x83), u8()], [u8(0x85), u8()], [u8(0x85), u8(0xa0)]] as [Uint8Array, Uint8Array][]);
      [m.arrayHead, m.arrayEnd] = a;
      break;
    }
    case 12:
      m.prot = pick(r, [bstr(u8(0xa1, 0x01, 0x38, 0x22), pick(r, [1, 2, 4, 8] as Form[])), bstr(u8(0xa1, 0x01, 0x26)), bstr(u8(0xa1, 0x01, 0x38, 0x23)), bstr(u8()), bstr(u8(0xbf, 0x01, 0x38, 0x22, 0xff)), bstr(u8(0xa1, 0x01, 0x38, 0x22, 0x00)), bstr(u8(0xa2, 0x01, 0x38, 0x22, 0x02, 0x80)), u8(0xa1, 0x01, 0x38, 0x22), chunked(2, u8(0xa1, 0x01, 0x38, 0x22)), anyItem(r)]);
      break;
    case 13:
      m.unprot = pick(r, [u8(0xa0), u8(0xb8, 0x00), u8(0xbf, 0xff), u8(0xa1, 0x01, 0x02), u8(0x80), u8(0xf6), u8(0x40), anyItem(r)]);
      break;
    case 14:
      m.signature = pick(r, [bstr(fill(96, 1)), bstr(fill(96, 1), pick(r, [1, 2, 4, 8] as Form[])), bstr(fill(95, 1)), bstr(fill(97, 1)), bstr(u8()), chunked(2, fill(96, 1)), tstr(fill(96, 0x41)), anyItem(r)]);
      break;
    default:
      m.trailing = pick(r, [u8(0), u8(0xff), u8(0xa0), randomBytes(r, 1 + int(r, 4))]);
  }
  return m;
}

/** The offsets of every item head of the CBOR at `b` (recursing into arrays, maps and tags, not into byte
 *  strings), stopping quietly at anything malformed. */
export function headOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  let p = 0;
  const arg = (): [number, number, bigint] => {
    const first = b[p++]!;
    const info = first & 0x1f;
    if (info < 24) return [first >> 5, info, BigInt(info)];
    if (info === 31) return [first >> 5, info, 0n];
    const size = 1 << (info - 24);
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(b[p++] ?? 0);
    return [first >> 5, info, v];
  };
  const item = (depth: number): void => {
    if (p >= b.length || depth > 8) throw new Error("stop");
    out.push(p);
    const [major, info, n] = arg();
    if (info === 31) {
      while (p < b.length && b[p] !== 0xff) item(depth + 1);
      out.push(p);
      p++;
      return;
    }
    if (major === 2 || major === 3) p += Number(n);
    else if (major === 4) for (let i = 0n; i < n; i++) item(depth + 1);
    else if (major === 5) for (let i = 0n; i < 2n * n; i++) item(depth + 1);
    else if (major === 6) item(depth + 1);
  };
  try {
    if (b[0] === 0xd2) out.push(p++);
    item(0);
  } catch {
    // a malformed tail: the heads so far
  }
  return out;
}

/** Head bytes: each major type small and with every length form, indefinite and reserved; tags, simple values, floats, the break. */
const INTERESTING = [
  0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x38, 0x3b, 0x3f, 0x40, 0x44, 0x58, 0x59, 0x5b, 0x5d, 0x5f, 0x60, 0x69, 0x78, 0x7a, 0x7f, 0x80, 0x84, 0x98, 0x9b, 0x9f, 0xa0, 0xa1, 0xb8, 0xbb, 0xbf, 0xc0, 0xd2,
  0xd8, 0xdb, 0xdf, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xff,
];

/** One byte-level mutation: at an item head (an interesting byte), a flip anywhere, a truncation, an insertion, a deletion. */
function mutateBytes(doc: Uint8Array, heads: number[], r: Rng): Uint8Array {
  const out = Uint8Array.from(doc);
  const at = int(r, doc.length);
  switch (int(r, 7)) {
    case 0:
    case 1: {
      const h = heads.length ? pick(r, heads) : at;
      out[h] = pick(r, INTERESTING);
      return out;
    }
    case 2:
      out[at] = int(r, 256);
      return out;
    case 3:
      out[at] = out[at]! ^ (1 << int(r, 8));
      return out;
    case 4:
      return doc.subarray(0, int(r, doc.length));
    case 5:
      return cat(doc.subarray(0, at), u8(pick(r, INTERESTING)), doc.subarray(at));
    default:
      return cat(doc.subarray(0, at), doc.subarray(at + 1 + int(r, 3)));
  }
}

export interface NitroCase {
  name: string;
  doc: Uint8Array;
}

/** `n` seeded cases: the bases themselves, then mutations (structural on models, byte-level on everything). */
export function nitroCases(n: number, seed: number): NitroCase[] {
  const r = rngOf(seed);
  const { docs, models } = nitroBases();
  const cases: NitroCase[] = [...docs.map((d) => ({ name: d.name, doc: d.bytes })), ...models.map((m) => ({ name: m.name, doc: encodeModel(m.model) }))];
  const allHeads = docs.map((d) => ({ ...d, heads: nitroHeads(d.bytes) }));
  while (cases.length < n) {
    const k = int(r, 10);
    if (k < 6) {
      const base = pick(r, models);
      let m = base.model;
      const steps = 1 + int(r, 3);
      for (let s = 0; s < steps; s++) m = mutateModel(m, r);
      let doc = encodeModel(m);
      if (int(r, 5) === 0) doc = mutateBytes(doc, nitroHeads(doc), r);
      cases.push({ name: `${base.name}: ${steps} structural mutation(s)`, doc });
    } else {
      const base = pick(r, allHeads);
      cases.push({ name: `${base.name}: byte mutation`, doc: mutateBytes(base.bytes, base.heads, r) });
    }
  }
  return cases.slice(0, n);
}

/**
 * Every item head of dstack's real document and of the NSM-shaped models (the document's and the payload's),
 * each replaced by every one of the interesting head bytes: every major type with every length form,
 * indefinite, reserved, break, tags, simple values and floats at every position the walker reads a head.
 */
export function nitroHeadSweep(): NitroCase[] {
  const { docs, models } = nitroBases();
  const bases = [{ name: docs[0]!.name, bytes: docs[0]!.bytes }, ...models.map((m) => ({ name: m.name, bytes: encodeModel(m.model) }))];
  const out: NitroCase[] = [];
  for (const b of bases) {
    for (const h of new Set(nitroHeads(b.bytes))) {
      for (const v of INTERESTING) {
        if (b.bytes[h] === v) continue;
        const doc = Uint8Array.from(b.bytes);
        doc[h] = v;
        out.push({ name: `${b.name}: head at ${h} := 0x${v.toString(16).padStart(2, "0")}`, doc });
      }
    }
  }
  return out;
}

/** Item heads of a document and of its payload (the payload's content is CBOR too). */
function nitroHeads(doc: Uint8Array): number[] {
  const outer = headOffsets(doc);
  // the payload is the array's 3rd item (after the protected and unprotected headers): walk inside it
  const at = doc[0] === 0xd2 ? 1 : 0;
  const payloadHead = outer.filter((o) => o > at)[2];
  if (payloadHead === undefined) return outer;
  const first = doc[payloadHead]!;
  const info = first & 0x1f;
  const headLen = info < 24 ? 1 : info === 31 ? 1 : 1 + (1 << (info - 24));
  const start = payloadHead + headLen;
  return [...outer, ...headOffsets(doc.subarray(start)).map((o) => o + start)];
}

// ───────────────────────────── the two readers ─────────────────────────────

export type Reading = { ok: true; fields: Record<string, string> } | { ok: false; error: string };

/** The registry's off-chain reading; a refusal must be a typed InputError (anything else is a crash). */
export function nitroOffChain(doc: Uint8Array): Reading {
  try {
    const f = nitroRegistryFields(doc);
    return { ok: true, fields: { high: f.reportDataHigh, low: f.reportDataLow, image: f.image, timestamp: String(f.timestamp) } };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { ok: false, error: e.code };
  }
}

/** `ReaderBatch.nitro` / `ReaderBatch.snp` on a deployed registry: each input's outcome and its return or revert data. */
export type BatchRead = (inputs: readonly Hex[]) => Promise<readonly [readonly boolean[], readonly Hex[]]>;

const READER_ERRORS = new Set(["CborTruncated", "CborUnsupported", "NitroDocumentMalformed", "NitroFieldMissing", "NitroUserDataLengthMismatch", "SnpReportLengthMismatch", "UnsupportedSnpReportVersion", "UnsupportedSnpSignatureAlgorithm"]);

/** The on-chain readings of `inputs` (one batch call); a revert that is not one of the reader's errors (a panic, empty data) throws. */
export async function onChainReadings(read: BatchRead, reader: "nitroDocumentFields" | "snpReportFields", inputs: readonly Uint8Array[]): Promise<Reading[]> {
  const [ok, data] = await read(inputs.map((b) => bytesToHex(b)));
  return inputs.map((_, i) => {
    const d = data[i]!;
    if (ok[i]) {
      const out = decodeFunctionResult({ abi: kmsRegistryAbi, functionName: reader, data: d }) as readonly (Hex | bigint)[];
      const [high, low, image, ts] = out as [Hex, Hex, Hex, bigint | undefined];
      return { ok: true, fields: { high: high.toLowerCase(), low: low.toLowerCase(), image: image.toLowerCase(), ...(ts !== undefined ? { timestamp: String(ts) } : {}) } };
    }
    let name: string | undefined;
    try {
      name = decodeErrorResult({ abi: kmsRegistryAbi, data: d }).errorName;
    } catch {
      // not one of the registry's errors
    }
    if (!name || !READER_ERRORS.has(name)) throw new Error(`the on-chain reader failed without one of its errors (revert data ${d.slice(0, 80)})`);
    return { ok: false, error: name };
  });
}

export interface DiffOutcome {
  name: string;
  agree: boolean;
  offChain: Reading;
  onChain: Reading;
}

export const sameReading = (a: Reading, b: Reading) => (a.ok && b.ok ? JSON.stringify(a.fields) === JSON.stringify(b.fields) : a.ok === b.ok);

/** Every case read by both: off chain one by one, on chain in batches of `batch` (`concurrency` batches at a time). */
export async function runAll<C extends { name: string }>(cases: C[], off: (c: C) => Reading, on: (batch: C[]) => Promise<Reading[]>, o: { batch?: number; concurrency?: number } = {}): Promise<DiffOutcome[]> {
  const size = o.batch ?? 32;
  const out: DiffOutcome[] = new Array<DiffOutcome>(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: o.concurrency ?? 4 }, async () => {
      for (let at = next; at < cases.length; at = next) {
        next += size;
        const batch = cases.slice(at, at + size);
        const readings = await on(batch);
        batch.forEach((c, j) => {
          const a = off(c);
          const b = readings[j]!;
          out[at + j] = { name: c.name, agree: sameReading(a, b), offChain: a, onChain: b };
        });
      }
    }),
  );
  return out;
}

export function tally(results: DiffOutcome[]) {
  const accepted = results.filter((r) => r.agree && r.offChain.ok).length;
  const refused = results.filter((r) => r.agree && !r.offChain.ok).length;
  const byOnChainError: Record<string, number> = {};
  for (const r of results) if (!r.onChain.ok) byOnChainError[r.onChain.error] = (byOnChainError[r.onChain.error] ?? 0) + 1;
  return { cases: results.length, agreed: accepted + refused, bothAccepted: accepted, bothRefused: refused, disagreed: results.length - accepted - refused, byOnChainError };
}

// ───────────────────────────── SEV-SNP ─────────────────────────────

export interface SnpCase {
  name: string;
  report: Uint8Array;
}

/** The registry's off-chain reading of an SNP report: parseSnpReport, report_data at 0x50, keccak256 of the measurement. */
export function snpOffChain(report: Uint8Array): Reading {
  try {
    const r = parseSnpReport(report);
    const rd = report.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + 64);
    if (!bytesEqualish(r.reportData, rd)) throw new Error("report_data offset");
    return { ok: true, fields: { high: bytesToHex(rd.subarray(0, 32)), low: bytesToHex(rd.subarray(32)), image: keccak256(r.measurement) } };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { ok: false, error: e.code };
  }
}
const bytesEqualish = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Seeded SNP cases from real reports: every version around 2–5, lengths around 1184, the signature algorithm, bytes anywhere. */
export function snpCases(bases: { name: string; report: Uint8Array }[], n: number, seed: number): SnpCase[] {
  const r = rngOf(seed);
  const out: SnpCase[] = bases.map((b) => ({ name: b.name, report: b.report }));
  const setU32 = (b: Uint8Array, off: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(off, v >>> 0, true);
  for (const b of bases) {
    for (const v of [0, 1, 2, 3, 4, 5, 6, 7, 0x100, 0x10002, 0xffffffff]) {
      const x = Uint8Array.from(b.report);
      setU32(x, 0, v);
      out.push({ name: `${b.name}: version ${v}`, report: x });
    }
    for (const alg of [0, 1, 2, 0xffffffff]) {
      const x = Uint8Array.from(b.report);
      setU32(x, 0x34, alg);
      out.push({ name: `${b.name}: signature algorithm ${alg}`, report: x });
    }
    for (const len of [0, 1, 4, 0x50, 0x90, 0xc0, 1183, 1185, 2368]) {
      const x = len <= b.report.length ? b.report.subarray(0, len) : cat(b.report, new Uint8Array(len - b.report.length));
      out.push({ name: `${b.name}: ${len} bytes`, report: x });
    }
  }
  while (out.length < n) {
    const b = pick(r, bases);
    const x = Uint8Array.from(b.report);
    const k = int(r, 5);
    if (k === 0) setU32(x, 0, pick(r, [1, 2, 3, 4, 5, 6, int(r, 2 ** 32)]));
    const flips = 1 + int(r, 8);
    for (let i = 0; i < flips; i++) {
      // report_data, the measurement and their edges, the version bytes, or anywhere
      const at = pick(r, [int(r, 4), 0x4f + int(r, 66), 0x8f + int(r, 50), 0x34 + int(r, 4), int(r, x.length)]);
      x[at] = int(r, 256);
    }
    let report: Uint8Array = x;
    if (k === 1) report = x.subarray(0, int(r, x.length));
    if (k === 2) report = cat(x, randomBytes(r, 1 + int(r, 8)));
    out.push({ name: `${b.name}: mutated`, report });
  }
  return out.slice(0, n);
}
