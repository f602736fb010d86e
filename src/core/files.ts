/**
 * Bounded reading of every input file (never more than a per-kind cap, regular files only, or `-` for
 * standard input, also capped) and atomic writing.
 */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

import { InputError } from "./errors.js";

/** What an input holds, as named in errors, and the most bytes read of it. */
export interface InputKind {
  readonly name: string;
  readonly maxBytes: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The size cap of each kind of input. A real quote is about 5 KB (a dstack attestation with its event
 * log a few tens of KB), real collateral about 16 KB; bootstrap JSON carries a quote and an event log.
 */
export const INPUT_KINDS = {
  quote: { name: "quote", maxBytes: 1 * MiB },
  collateral: { name: "collateral", maxBytes: 4 * MiB },
  certificate: { name: "certificate", maxBytes: 256 * KiB },
  /** an AMD VCEK certificate (PEM or DER, about 1.4 KB) */
  vcek: { name: "VCEK", maxBytes: 64 * KiB },
  /** AMD's ASK and ARK certificates (PEM, about 4.6 KB) */
  amdChain: { name: "AMD certificate chain", maxBytes: 64 * KiB },
  /** AMD's CRL of an ARK (DER or PEM, a few KB) */
  amdCrl: { name: "AMD CRL", maxBytes: 256 * KiB },
  /** a PEM certificate or key, a raw key or the rpc-domain file of a KMS certs dir */
  certsDirFile: { name: "certs-dir file", maxBytes: 256 * KiB },
  eventLog: { name: "event log", maxBytes: 8 * MiB },
  bootstrap: { name: "bootstrap JSON", maxBytes: 16 * MiB },
  deploymentRecord: { name: "deployment record", maxBytes: 1 * MiB },
  journal: { name: "publish journal", maxBytes: 1 * MiB },
  /** a measurement policy (`--expect`): a few allow-lists of hashes */
  measurementPolicy: { name: "measurement policy", maxBytes: 256 * KiB },
  // a cached PCCS response: up to the 16 MiB response cap, base64-encoded, plus its headers
  pccsCache: { name: "PCCS cache entry", maxBytes: 24 * MiB },
  /** `watch --state`: the follower's position, the recent blocks' events and the webhook queue */
  watchState: { name: "watch state", maxBytes: 64 * MiB },
} as const satisfies Record<string, InputKind>;

/** `1 MiB`, `256 KiB`, `100 bytes`. */
export function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} bytes`;
}

export interface ReadInputOptions {
  /** How the input is named in errors (default `<kind> file "<path>"`, or `<kind> on standard input`). */
  label?: string;
  /**
   * Reads standard input for the path `-`, at most `maxBytes` + 1 bytes (one more than the cap, so that
   * an oversized input is seen as such). Without it, `-` is an ordinary file name.
   */
  stdin?: (maxBytes: number) => Promise<Uint8Array>;
}

function fileType(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "an unusual file type";
}

/** `size`: the size when known (a regular file), else only "more than the cap" is known. */
function tooLarge(label: string, kind: InputKind, path: string, size?: number): InputError {
  const limit = `the ${kind.name} limit of ${formatBytes(kind.maxBytes)}`;
  return new InputError("FILE_TOO_LARGE", `cannot read ${label}: ${size !== undefined ? `${size} bytes exceed ${limit}` : `more than ${limit}`}`, {
    details: { path, kind: kind.name, limit: kind.maxBytes, ...(size !== undefined ? { size } : {}) },
  });
}

/**
 * Read an input of `kind`: a regular file of at most `kind.maxBytes` bytes, or standard input for `-`
 * when `opts.stdin` is given (also at most `kind.maxBytes`). Anything else — a FIFO, a device, a
 * directory, a larger file — is an `InputError` naming the input, its kind and the cap, thrown without
 * blocking and without reading more than the cap (+1 byte).
 */
export async function readInput(path: string, kind: InputKind, opts: ReadInputOptions = {}): Promise<Uint8Array> {
  if (path === "-" && opts.stdin) {
    const label = opts.label ?? `${kind.name} on standard input`;
    const bytes = await opts.stdin(kind.maxBytes);
    if (bytes.length > kind.maxBytes) throw tooLarge(label, kind, "-");
    return bytes;
  }
  const label = opts.label ?? `${kind.name} file ${JSON.stringify(path)}`;
  let fh;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat below rejects it
    fh = await open(path, constants.O_NONBLOCK !== undefined ? constants.O_RDONLY | constants.O_NONBLOCK : "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE", `cannot read ${label} (${code ?? String(e)})`, {
      cause: e,
      details: { path, kind: kind.name },
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new InputError(
        "FILE_NOT_REGULAR",
        `cannot read ${label}: not a regular file (${fileType(st)}); the ${kind.name} must be a regular file of at most ${formatBytes(kind.maxBytes)}${opts.stdin ? " or standard input (-)" : ""}`,
        { details: { path, kind: kind.name, limit: kind.maxBytes } },
      );
    }
    if (st.size > kind.maxBytes) throw tooLarge(label, kind, path, st.size);
    // read to end of file, whatever the size said (a file may grow, /proc files say 0), never past the cap
    const chunks: Buffer[] = [];
    let n = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(n === 0 ? st.size + 1 : 64 * KiB, kind.maxBytes + 1 - n));
      const { bytesRead } = await fh.read(buf, 0, buf.length, n);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      n += bytesRead;
      if (n > kind.maxBytes) throw tooLarge(label, kind, path);
    }
    return new Uint8Array(Buffer.concat(chunks, n));
  } finally {
    await fh.close();
  }
}

/** Collect a stream (e.g. standard input), stopping once it has yielded more than `maxBytes` bytes. */
export async function readStreamLimited(stream: AsyncIterable<Uint8Array | string>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === "string" ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    chunks.push(b);
    n += b.length;
    if (n > maxBytes) break; // leaving the loop destroys the stream: nothing more is read
  }
  return new Uint8Array(Buffer.concat(chunks, n).subarray(0, Math.min(n, maxBytes + 1)));
}

/** `readInput` with an explicit cap: at most `maxBytes` of a regular file; `what` names it in errors. */
export async function readFileLimited(path: string, maxBytes: number, what = path): Promise<Uint8Array> {
  return readInput(path, { name: "input", maxBytes }, { label: what });
}

export async function readTextLimited(path: string, maxBytes: number, what = path): Promise<string> {
  return new TextDecoder().decode(await readFileLimited(path, maxBytes, what));
}

/** Write via a temp file in the same directory + rename: readers never see a partial file, and a failure leaves the old file intact. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, data, { mode, flag: "wx" });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new InputError("WRITE_FAILED", `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e, details: { path } });
  }
}
