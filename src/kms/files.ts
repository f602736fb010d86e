/** Bounded file reading and atomic writing for KMS material (never reads more than `maxBytes`). */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

import { InputError } from "../errors.js";

export async function readFileLimited(path: string, maxBytes: number, what = path): Promise<Uint8Array> {
  let fh;
  try {
    // O_NONBLOCK: a FIFO planted under a certs-dir name must not block the open; fstat below rejects it
    fh = await open(path, constants.O_NONBLOCK !== undefined ? constants.O_RDONLY | constants.O_NONBLOCK : "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE", `${what}: cannot open (${code ?? String(e)})`, { cause: e, details: { path } });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new InputError("FILE_UNREADABLE", `${what}: not a regular file`, { details: { path } });
    if (st.size > maxBytes) throw new InputError("FILE_TOO_LARGE", `${what}: ${st.size} bytes exceed the limit of ${maxBytes}`, { details: { path, limit: maxBytes } });
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > maxBytes) throw new InputError("FILE_TOO_LARGE", `${what}: more than ${maxBytes} bytes`, { details: { path, limit: maxBytes } });
      if (n === buf.length) break;
    }
    return new Uint8Array(buf.subarray(0, n));
  } finally {
    await fh.close();
  }
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
