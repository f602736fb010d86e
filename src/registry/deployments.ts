/**
 * Deployment records, `deployments/<chainId>.json` (format documented in `deployments/README.md`).
 * Local development chains (31337) go under `deployments/local/`.
 */
import { constants, existsSync } from "node:fs";
import { access, mkdir, readdir, rename, stat } from "node:fs/promises";
import path from "node:path";

import { getAddress, getCreate2Address, isAddress } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, UsageError } from "../core/errors.js";
import { INPUT_KINDS, readInput, writeFileAtomic } from "../core/files.js";

export const DEPLOYMENT_FORMAT = "dstack-kms-registry/deployment@1";
export const LOCAL_CHAIN_IDS: readonly number[] = [31337, 1337];

export interface DeploymentRecord {
  format: typeof DEPLOYMENT_FORMAT;
  chainId: number;
  network: string;
  contract: "KmsRegistry";
  address: Hex;
  deployTx: Hex;
  block: number;
  blockHash: Hex;
  deployer: Hex;
  admin: Hex;
  compiler: {
    solc: string;
    evmVersion: string;
    optimizer: { enabled: boolean; runs: number };
    viaIR: boolean;
    /** solc's `metadata.bytecodeHash` setting ("none": no metadata hash appended to the bytecode). Optional. */
    metadata?: { bytecodeHash: string };
  };
  bytecodeHash: Hex;
  deployedAt: string;
  tool: string;
  /** Present when deployed through a CREATE2 factory: what reproduces the address on any chain. Optional. */
  create2?: Create2Info;
  /**
   * The DcapVerifier the registry was deployed with (its constructor's second argument), when it has one.
   * Absent: a registrar-only registry (`deploy --no-verifier`, or a record written before the on-chain path).
   */
  verifier?: VerifierRecord;
}

/** The on-chain DCAP verifier of a registry. */
export interface VerifierRecord {
  contract: "DcapVerifier";
  address: Hex;
  /** `isIntelRoot()`: its trust root is Intel's SGX Root CA (false: a test or simulated world's root). */
  intelRoot: boolean;
  /** keccak256 of the deployed runtime bytecode. */
  bytecodeHash: Hex;
  /** The transaction and block that deployed it; absent when an existing verifier was reused (`--verifier ADDR`). */
  deployTx?: Hex;
  block?: number;
  /** For `deploy --deterministic`: the verifier's own CREATE2 reproduction data. */
  create2?: { factory: Hex; salt: Hex; initCodeHash: Hex; constructorArgs: { rootX: Hex; rootY: Hex; rootSubjectHash: Hex; rootSerial: string } };
}

/** How a CREATE2 deployment's address is reproduced: address = create2(factory, salt, initCodeHash). */
export interface Create2Info {
  factory: Hex;
  salt: Hex;
  /** keccak256(creation bytecode ‖ abi.encode(constructorArgs.admin, constructorArgs.verifier)). */
  initCodeHash: Hex;
  /** `verifier` is the DcapVerifier (address(0) or absent: none). */
  constructorArgs: { admin: Hex; verifier?: Hex };
  /**
   * Present when the factory is CreateX (Hardhat Ignition's `create2` strategy): `salt` above is then CreateX's
   * guarded salt, this `salt` the one given to CreateX (Ignition's `strategyConfig.create2.salt`). Optional.
   */
  createx?: { salt: Hex; scope: string; reproduce: string };
}

/** File name of a chain's record under `dir` (`<dir>/<chainId>.json`, or `<dir>/local/<chainId>.json`). */
export function deploymentPath(dir: string, chainId: number): string {
  return LOCAL_CHAIN_IDS.includes(chainId) ? path.join(dir, "local", `${chainId}.json`) : path.join(dir, `${chainId}.json`);
}

const HASH_RE = /^0x[0-9a-f]{64}$/;

function fail(where: string, what: string): never {
  throw new InputError("BAD_DEPLOYMENT_RECORD", `${where}: ${what}`);
}

/** Validate a parsed record; throws `InputError` (`BAD_DEPLOYMENT_RECORD`) naming the bad field. */
export function validateDeploymentRecord(value: unknown, where = "deployment record"): DeploymentRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(where, "not a JSON object");
  const r = value as Record<string, unknown>;
  if (r.format !== DEPLOYMENT_FORMAT) fail(where, `format must be ${JSON.stringify(DEPLOYMENT_FORMAT)}, got ${JSON.stringify(r.format)}`);
  for (const k of ["chainId", "block"] as const) {
    if (typeof r[k] !== "number" || !Number.isSafeInteger(r[k]) || (r[k] as number) < 0) fail(where, `${k} must be a non-negative whole number`);
  }
  if (r.chainId === 0) fail(where, "chainId must be positive");
  for (const k of ["address", "deployer", "admin"] as const) {
    if (typeof r[k] !== "string" || !isAddress(r[k] as string, { strict: false })) fail(where, `${k} must be an address`);
  }
  for (const k of ["deployTx", "blockHash", "bytecodeHash"] as const) {
    if (typeof r[k] !== "string" || !HASH_RE.test((r[k] as string).toLowerCase())) fail(where, `${k} must be a 32-byte 0x hash`);
  }
  if (r.contract !== "KmsRegistry") fail(where, `contract must be "KmsRegistry"`);
  for (const k of ["network", "deployedAt", "tool"] as const) if (typeof r[k] !== "string") fail(where, `${k} must be a string`);
  const c = r.compiler as Record<string, unknown> | undefined;
  if (typeof c !== "object" || c === null || typeof c.solc !== "string" || typeof c.evmVersion !== "string") fail(where, "compiler must name solc and evmVersion");
  if (c.metadata !== undefined) {
    const m = c.metadata as Record<string, unknown> | null;
    if (typeof m !== "object" || m === null || typeof m.bytecodeHash !== "string") fail(where, "compiler.metadata must name bytecodeHash");
  }
  if (r.create2 !== undefined) validateCreate2(r, where);
  if (r.verifier !== undefined) validateVerifier(r, where);
  return { ...(r as unknown as DeploymentRecord), address: getAddress(r.address as string) as Hex };
}

function validateVerifier(r: Record<string, unknown>, where: string): void {
  const v = r.verifier as Record<string, unknown> | null;
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, "verifier must be an object");
  if (v.contract !== "DcapVerifier") fail(where, `verifier.contract must be "DcapVerifier"`);
  if (typeof v.address !== "string" || !isAddress(v.address, { strict: false })) fail(where, "verifier.address must be an address");
  if (typeof v.intelRoot !== "boolean") fail(where, "verifier.intelRoot must be true or false");
  if (typeof v.bytecodeHash !== "string" || !HASH_RE.test(v.bytecodeHash.toLowerCase())) fail(where, "verifier.bytecodeHash must be a 32-byte 0x hash");
  if (v.deployTx !== undefined && (typeof v.deployTx !== "string" || !HASH_RE.test(v.deployTx.toLowerCase()))) fail(where, "verifier.deployTx must be a 32-byte 0x hash");
  if (v.block !== undefined && (typeof v.block !== "number" || !Number.isSafeInteger(v.block) || v.block < 0)) fail(where, "verifier.block must be a non-negative whole number");
  const args = (r.create2 as { constructorArgs?: { verifier?: unknown } } | undefined)?.constructorArgs;
  if (args?.verifier !== undefined && String(args.verifier).toLowerCase() !== v.address.toLowerCase()) fail(where, "create2.constructorArgs.verifier differs from verifier.address");
  if (v.create2 !== undefined) {
    const c = v.create2 as Record<string, unknown> | null;
    if (typeof c !== "object" || c === null || typeof c.factory !== "string" || typeof c.salt !== "string" || typeof c.initCodeHash !== "string") {
      fail(where, "verifier.create2 must name factory, salt and initCodeHash");
    }
    const computed = getCreate2Address({ from: c.factory as Hex, salt: c.salt as Hex, bytecodeHash: c.initCodeHash as Hex });
    if (computed.toLowerCase() !== v.address.toLowerCase()) fail(where, `verifier.create2 data gives address ${computed}, not ${v.address}`);
  }
}

function validateCreate2(r: Record<string, unknown>, where: string): void {
  const c = r.create2 as Record<string, unknown> | null;
  if (typeof c !== "object" || c === null || Array.isArray(c)) fail(where, "create2 must be an object");
  if (typeof c.factory !== "string" || !isAddress(c.factory, { strict: false })) fail(where, "create2.factory must be an address");
  for (const k of ["salt", "initCodeHash"] as const) {
    if (typeof c[k] !== "string" || !HASH_RE.test((c[k] as string).toLowerCase())) fail(where, `create2.${k} must be a 32-byte 0x hash`);
  }
  const args = c.constructorArgs as Record<string, unknown> | null;
  if (typeof args !== "object" || args === null || typeof args.admin !== "string" || !isAddress(args.admin, { strict: false })) {
    fail(where, "create2.constructorArgs.admin must be an address");
  }
  if (args.admin.toLowerCase() !== (r.admin as string).toLowerCase()) fail(where, "create2.constructorArgs.admin differs from admin");
  if (args.verifier !== undefined && (typeof args.verifier !== "string" || !isAddress(args.verifier, { strict: false }))) fail(where, "create2.constructorArgs.verifier must be an address");
  const computed = getCreate2Address({ from: c.factory as Hex, salt: c.salt as Hex, bytecodeHash: c.initCodeHash as Hex });
  if (computed.toLowerCase() !== (r.address as string).toLowerCase()) fail(where, `create2 data gives address ${computed}, not ${r.address as string}`);
}

export async function readDeploymentFile(file: string): Promise<DeploymentRecord> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readInput(file, INPUT_KINDS.deploymentRecord, { label: `deployment record ${file}` }));
  } catch (e) {
    // a FIFO, a device or an oversized file keeps the reader's own code
    if (e instanceof InputError && (e.code === "FILE_NOT_FOUND" || e.code === "FILE_UNREADABLE")) throw new InputError("DEPLOYMENT_NOT_FOUND", e.message, { cause: e });
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError("BAD_DEPLOYMENT_RECORD", `${file}: not valid JSON`);
  }
  return validateDeploymentRecord(json, file);
}

/** The record for `chainId` under `dir`, or undefined when there is none. */
export async function readDeployment(dir: string, chainId: number): Promise<DeploymentRecord | undefined> {
  const file = deploymentPath(dir, chainId);
  if (!existsSync(file)) return undefined;
  return readDeploymentFile(file);
}

/**
 * Find the record of a registry `address` under `dir` (current records first, then archived
 * `<chainId>.<address>.json` ones, in `dir` and `dir/local`). Undefined when none mentions it.
 */
export async function findDeploymentByAddress(dir: string, address: string): Promise<DeploymentRecord | undefined> {
  const want = address.toLowerCase();
  for (const sub of [dir, path.join(dir, "local")]) {
    let names: string[];
    try {
      names = (await readdir(sub)).filter((n) => /^\d+(\.0x[0-9a-fA-F]{40})?\.json$/.test(n)).sort((a, b) => a.length - b.length);
    } catch {
      continue;
    }
    for (const n of names) {
      const rec = await readDeploymentFile(path.join(sub, n));
      if (rec.address.toLowerCase() === want) return rec;
    }
  }
  return undefined;
}

/**
 * Create `dir` (and missing parents) and check that it is writable; `InputError` (`DIR_NOT_WRITABLE`) naming
 * the directory otherwise. Walks the ancestors itself: `mkdir({ recursive: true })` never returns under some
 * pseudo file systems (e.g. a path below /proc on Node 20).
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  const fail = (where: string, e: unknown): never => {
    throw new InputError("DIR_NOT_WRITABLE", `cannot write in ${abs}: ${where} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  };
  const missing: string[] = [];
  for (let cur = abs; ; cur = path.dirname(cur)) {
    try {
      if (!(await stat(cur)).isDirectory()) fail(`${cur} is not a directory`, { code: "ENOTDIR" });
      break;
    } catch (e) {
      if (e instanceof InputError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR") fail(`a parent of ${cur} is a file, not a directory`, e);
      if (code !== "ENOENT") fail(`cannot inspect ${cur}`, e);
      missing.push(cur);
      if (path.dirname(cur) === cur) break;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") fail(`cannot create ${d}`, e);
    }
  }
  try {
    await access(abs, constants.W_OK);
  } catch (e) {
    fail("not writable", e);
  }
}

/**
 * Write `record` to its chain's file. If a record exists for the chain: refuse (`UsageError`) unless
 * `force`, in which case the old one is kept as `<chainId>.<oldAddress>.json`.
 */
export async function writeDeployment(dir: string, record: DeploymentRecord, opts: { force?: boolean } = {}): Promise<{ path: string; archived?: string }> {
  validateDeploymentRecord(record);
  const file = deploymentPath(dir, record.chainId);
  await ensureWritableDir(path.dirname(file));
  let archived: string | undefined;
  if (existsSync(file)) {
    const old = await readDeploymentFile(file);
    if (!opts.force && old.address.toLowerCase() !== record.address.toLowerCase()) {
      throw new UsageError(`${file} already records a KmsRegistry at ${old.address} on chain ${record.chainId}; pass --force to replace it (the old record is kept)`);
    }
    if (old.address.toLowerCase() !== record.address.toLowerCase()) {
      archived = path.join(path.dirname(file), `${old.chainId}.${old.address}.json`);
      await rename(file, archived);
    }
  }
  await writeFileAtomic(file, JSON.stringify(record, null, 2) + "\n");
  return archived ? { path: file, archived } : { path: file };
}

/** Refuse when a record exists for this registry and names another chain than the RPC serves. */
export function checkChainAgainstRecord(record: DeploymentRecord | undefined, rpcChainId: number, registry: string): void {
  if (!record) return;
  if (record.chainId !== rpcChainId) {
    throw new UsageError(
      `chain mismatch: the deployment record says registry ${record.address} lives on chain ${record.chainId} (${record.network}), but the RPC serves chain ${rpcChainId}`,
    );
  }
  if (record.address.toLowerCase() !== registry.toLowerCase()) {
    throw new UsageError(`the deployment record for chain ${rpcChainId} names registry ${record.address}, not ${registry}`);
  }
}
