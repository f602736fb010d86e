/** The bounded reader behind every file input: regular files only, a per-kind cap, `-` = capped standard input. */
import { execFileSync } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { fetchCollateral } from "../../src/dcap/pccs/fetch-collateral.js";
import { InputError } from "../../src/core/errors.js";
import { INPUT_KINDS, formatBytes, readFileLimited, readInput, readStreamLimited } from "../../src/core/files.js";
import { findDeploymentByAddress, readDeploymentFile } from "../../src/registry/deployments.js";
import { tdxCollateral, TDX_NOW, tdxQuote } from "../attestation/real-fixtures.js";
import { pccsRoutes, startPccs, stopPccs } from "../helpers/pccs-server.js";

const dir = mkdtempSync(join(tmpdir(), "kms-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const kind = { name: "test input", maxBytes: 100 };

async function rejection(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

describe("readInput", () => {
  it("reads a regular file up to exactly the cap; one byte more is FILE_TOO_LARGE naming the input, the kind and the cap", async () => {
    const at = join(dir, "at-cap.bin");
    writeFileSync(at, Buffer.alloc(100, 7));
    expect(await readInput(at, kind)).toEqual(new Uint8Array(100).fill(7));
    const over = join(dir, "over.bin");
    writeFileSync(over, Buffer.alloc(101, 7));
    const e = await rejection(readInput(over, kind));
    expect(e.code).toBe("FILE_TOO_LARGE");
    expect(e.message).toBe(`cannot read test input file ${JSON.stringify(over)}: 101 bytes exceed the test input limit of 100 bytes`);
    expect(e.details).toMatchObject({ path: over, kind: "test input", limit: 100, size: 101 });
  });

  it("refuses a huge (sparse) file from its size, without reading it", async () => {
    const huge = join(dir, "huge.bin");
    writeFileSync(huge, "");
    truncateSync(huge, 64 * 1024 * 1024 * 1024); // 64 GiB, no real write
    const t = Date.now();
    const e = await rejection(readInput(huge, INPUT_KINDS.quote, { label: "quote file q" }));
    expect(Date.now() - t).toBeLessThan(1000);
    expect(e.message).toBe("cannot read quote file q: 68719476736 bytes exceed the quote limit of 1 MiB");
  });

  it("a FIFO nobody writes to, /dev/zero and a directory are FILE_NOT_REGULAR at once, naming the type, the kind and the cap", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    for (const [path, type] of [
      [fifo, "a FIFO"],
      ["/dev/zero", "a character device"],
      [dir, "a directory"],
    ] as const) {
      const t = Date.now();
      const e = await rejection(readInput(path, INPUT_KINDS.collateral));
      expect(Date.now() - t, path).toBeLessThan(1000);
      expect(e.code).toBe("FILE_NOT_REGULAR");
      expect(e.message).toBe(`cannot read collateral file ${JSON.stringify(path)}: not a regular file (${type}); the collateral must be a regular file of at most 4 MiB`);
      expect(e.details).toMatchObject({ path, kind: "collateral", limit: 4 * 1024 * 1024 });
    }
    // with standard input available, the message says so
    const e = await rejection(readInput(fifo, INPUT_KINDS.quote, { stdin: async () => new Uint8Array() }));
    expect(e.message).toMatch(/the quote must be a regular file of at most 1 MiB or standard input \(-\)$/);
  });

  it("a missing file is FILE_NOT_FOUND; other open failures FILE_UNREADABLE", async () => {
    const missing = join(dir, "missing.json");
    const e = await rejection(readInput(missing, INPUT_KINDS.bootstrap));
    expect(e.code).toBe("FILE_NOT_FOUND");
    expect(e.message).toBe(`cannot read bootstrap JSON file ${JSON.stringify(missing)} (ENOENT)`);
    const e2 = await rejection(readInput(join(dir, "at-cap.bin", "below-a-file"), INPUT_KINDS.bootstrap));
    expect(e2.code).toBe("FILE_UNREADABLE");
    expect(e2.message).toMatch(/\(ENOTDIR\)$/);
  });

  it("reads a file whose stat size understates its content to its end (a /proc file says 0), still capped", async () => {
    const status = await readInput("/proc/self/status", INPUT_KINDS.certsDirFile);
    expect(new TextDecoder().decode(status)).toMatch(/^Name:.*\n[\s\S]*\nPid:\s+\d+\n[\s\S]*\n$/);
    const e = await rejection(readInput("/proc/self/status", { name: "tiny", maxBytes: 10 }));
    expect(e.code).toBe("FILE_TOO_LARGE");
    expect(e.message).toBe('cannot read tiny file "/proc/self/status": more than the tiny limit of 10 bytes');
  });

  it("`-` reads standard input through opts.stdin, asking for at most the cap and refusing more", async () => {
    const asked: number[] = [];
    const stdin = (bytes: Uint8Array) => async (max: number) => (asked.push(max), bytes);
    expect(await readInput("-", kind, { stdin: stdin(new Uint8Array(100)) })).toHaveLength(100);
    const e = await rejection(readInput("-", kind, { stdin: stdin(new Uint8Array(101)) }));
    expect(e.code).toBe("FILE_TOO_LARGE");
    expect(e.message).toBe("cannot read test input on standard input: more than the test input limit of 100 bytes");
    expect(asked).toEqual([100, 100]);
    // without opts.stdin, "-" is a file name
    expect((await rejection(readInput("-", kind))).code).toBe("FILE_NOT_FOUND");
  });

  it("readFileLimited (the KMS module's original API) keeps working on top of it", async () => {
    expect(await readFileLimited(join(dir, "at-cap.bin"), 100)).toHaveLength(100);
    const e = await rejection(readFileLimited(join(dir, "over.bin"), 100, "over.bin"));
    expect(e.code).toBe("FILE_TOO_LARGE");
    expect(e.message).toBe("cannot read over.bin: 101 bytes exceed the input limit of 100 bytes");
  });

  it("every kind has a cap; formatBytes names it", () => {
    expect(Object.fromEntries(Object.entries(INPUT_KINDS).map(([k, v]) => [k, formatBytes(v.maxBytes)]))).toEqual({
      quote: "1 MiB",
      collateral: "4 MiB",
      certificate: "256 KiB",
      vcek: "64 KiB",
      amdChain: "64 KiB",
      amdCrl: "256 KiB",
      certsDirFile: "256 KiB",
      eventLog: "8 MiB",
      bootstrap: "16 MiB",
      deploymentRecord: "1 MiB",
      journal: "1 MiB",
      pccsCache: "24 MiB",
      measurementPolicy: "256 KiB",
      watchState: "64 MiB",
    });
    expect(formatBytes(1000)).toBe("1000 bytes");
  });
});

describe("readStreamLimited", () => {
  it("stops pulling from an endless stream once past the cap and returns cap + 1 bytes", async () => {
    let pulled = 0;
    let closed = false;
    async function* endless() {
      try {
        for (;;) {
          pulled++;
          yield new Uint8Array(1000).fill(1);
        }
      } finally {
        closed = true;
      }
    }
    const b = await readStreamLimited(endless(), 2500);
    expect(b).toHaveLength(2501);
    expect(pulled).toBe(3);
    expect(closed).toBe(true);
  });

  it("reads a short stream whole, and /dev/zero (endless) only to the cap, destroying it", async () => {
    async function* chunks() {
      yield Buffer.from("ab");
      yield "cd";
    }
    expect(new TextDecoder().decode(await readStreamLimited(chunks(), 10))).toBe("abcd");
    const zero = createReadStream("/dev/zero");
    const b = await readStreamLimited(zero, 1024 * 1024);
    expect(b).toHaveLength(1024 * 1024 + 1);
    expect(zero.destroyed).toBe(true);
  });
});

describe("the product's own file reads go through it", () => {
  it("a FIFO planted as a deployment record is refused at once (directly and in the address search)", async () => {
    const deployments = join(dir, "deployments");
    mkdirSync(deployments);
    execFileSync("mkfifo", [join(deployments, "31337.json")]);
    const e = await rejection(readDeploymentFile(join(deployments, "31337.json")));
    expect(e.code).toBe("FILE_NOT_REGULAR");
    expect(e.message).toMatch(/^cannot read deployment record .*31337\.json: not a regular file \(a FIFO\); the deployment record must be a regular file of at most 1 MiB$/);
    expect((await rejection(findDeploymentByAddress(deployments, "0x5FbDB2315678afecb367f032d93F642f64180aa3"))).code).toBe("FILE_NOT_REGULAR");
  });

  it("PCCS cache entries that are FIFOs are misses: the collateral is fetched again, without hanging", async () => {
    const pccs = await startPccs(pccsRoutes(tdxCollateral(), "tdx", "B0C06F000000", "platform"));
    try {
      const cacheDir = join(dir, "pccs-cache");
      await fetchCollateral(tdxQuote(), { pccsUrl: pccs.url, now: TDX_NOW, cacheDir });
      const entries = readdirSync(cacheDir);
      expect(entries).toHaveLength(4);
      for (const f of entries) {
        rmSync(join(cacheDir, f));
        execFileSync("mkfifo", [join(cacheDir, f)]);
      }
      const before = pccs.total();
      const c = await fetchCollateral(tdxQuote(), { pccsUrl: pccs.url, now: TDX_NOW, cacheDir });
      expect(pccs.total() - before).toBe(4);
      expect(c.tcbInfo).toBe(tdxCollateral().tcbInfo);
    } finally {
      await stopPccs(pccs);
    }
  });
});
