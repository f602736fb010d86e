import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { InputError, UsageError } from "../../src/core/errors.js";
import {
  DEPLOYMENT_FORMAT,
  checkChainAgainstRecord,
  deploymentPath,
  ensureWritableDir,
  findDeploymentByAddress,
  readDeployment,
  validateDeploymentRecord,
  writeDeployment,
  type DeploymentRecord,
} from "../../src/registry/deployments.js";
import { artifactPath, loadRegistryArtifact, packageRoot } from "../../src/registry/deploy.js";

const h32 = (b: string) => `0x${b.repeat(64)}` as `0x${string}`;
function record(over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    format: DEPLOYMENT_FORMAT,
    chainId: 11155111,
    network: "sepolia",
    contract: "KmsRegistry",
    address: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    deployTx: h32("a"),
    block: 1234567,
    blockHash: h32("b"),
    deployer: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    admin: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    compiler: { solc: "0.8.37", evmVersion: "cancun", optimizer: { enabled: true, runs: 10000 }, viaIR: false },
    bytecodeHash: h32("c"),
    deployedAt: "2026-11-21T05:00:00Z",
    tool: "kms-registry 0.1.0",
    ...over,
  };
}
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "kms-registry-dep-"));

describe("deployment records (deployments/README.md format)", () => {
  it("puts public chains at <dir>/<chainId>.json and local chains under local/", () => {
    expect(deploymentPath("/d", 11155111)).toBe(path.join("/d", "11155111.json"));
    expect(deploymentPath("/d", 84532)).toBe(path.join("/d", "84532.json"));
    expect(deploymentPath("/d", 31337)).toBe(path.join("/d", "local", "31337.json"));
  });

  it("writes, reads back, and finds a record by address (any case)", async () => {
    const dir = tmp();
    const rec = record();
    const w = await writeDeployment(dir, rec);
    expect(w.path).toBe(path.join(dir, "11155111.json"));
    expect(JSON.parse(readFileSync(w.path, "utf8"))).toEqual(rec);
    expect(await readDeployment(dir, 11155111)).toEqual(rec);
    expect(await readDeployment(dir, 1)).toBeUndefined();
    expect((await findDeploymentByAddress(dir, rec.address.toLowerCase()))?.chainId).toBe(11155111);
    expect(await findDeploymentByAddress(dir, "0x0000000000000000000000000000000000000001")).toBeUndefined();
  });

  it("refuses to replace a chain's record without force; with force keeps the old one as <chainId>.<address>.json", async () => {
    const dir = tmp();
    const old = record();
    await writeDeployment(dir, old);
    const next = record({ address: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", block: 2000000 });
    await expect(writeDeployment(dir, next)).rejects.toBeInstanceOf(UsageError);
    const w = await writeDeployment(dir, next, { force: true });
    expect(w.archived).toBe(path.join(dir, `11155111.${old.address}.json`));
    expect(JSON.parse(readFileSync(w.archived!, "utf8"))).toEqual(old);
    expect((await readDeployment(dir, 11155111))?.address).toBe(next.address);
    // the archived record is still found by its address
    expect((await findDeploymentByAddress(dir, old.address))?.block).toBe(1234567);
    // re-writing the same address is an update, not a conflict
    await writeDeployment(dir, { ...next, tool: "kms-registry 0.1.1" });
  });

  it("validates every field with a message naming it", () => {
    expect(validateDeploymentRecord(record()).address).toBe("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const cases: [Partial<Record<keyof DeploymentRecord, unknown>>, RegExp][] = [
      [{ format: "other@1" }, /format must be/],
      [{ chainId: -1 }, /chainId/],
      [{ chainId: 1.5 }, /chainId/],
      [{ block: "12" }, /block/],
      [{ address: "0x1234" }, /address must be an address/],
      [{ deployTx: "0x12" }, /deployTx must be a 32-byte/],
      [{ bytecodeHash: 7 }, /bytecodeHash/],
      [{ contract: "DstackKms" }, /contract must be/],
      [{ compiler: {} }, /compiler/],
    ];
    for (const [over, re] of cases) {
      expect(() => validateDeploymentRecord({ ...record(), ...over })).toThrow(re);
      expect(() => validateDeploymentRecord({ ...record(), ...over })).toThrow(InputError);
    }
    expect(() => validateDeploymentRecord([])).toThrow(/not a JSON object/);
  });

  it("reports a corrupt record file as an input error naming the file", async () => {
    const dir = tmp();
    mkdirSync(path.join(dir, "local"));
    writeFileSync(path.join(dir, "local", "31337.json"), "{ not json");
    await expect(readDeployment(dir, 31337)).rejects.toThrow(/31337\.json: not valid JSON/);
  });

  it("checks the RPC's chain id against the record", () => {
    const rec = record();
    expect(() => checkChainAgainstRecord(rec, 11155111, rec.address.toLowerCase())).not.toThrow();
    expect(() => checkChainAgainstRecord(undefined, 1, rec.address)).not.toThrow();
    expect(() => checkChainAgainstRecord(rec, 84532, rec.address)).toThrow(/chain mismatch.*11155111.*84532/);
  });

  it("resolves the compiled artifact relative to the package root, not the working directory", () => {
    const root = packageRoot();
    expect(existsSync(path.join(root, "package.json"))).toBe(true);
    expect(artifactPath()).toBe(path.join(root, "artifacts", "contracts", "KmsRegistry.sol", "KmsRegistry.json"));
    const a = loadRegistryArtifact();
    expect(a.bytecode).toMatch(/^0x60/);
    expect(a.abi.some((x) => x.type === "function" && x.name === "register")).toBe(true);
    expect(a.compiler).toMatchObject({ solc: "0.8.37", evmVersion: "cancun" });
    expect(() => loadRegistryArtifact(tmp())).toThrow(/cannot read the KmsRegistry artifact/);
  });
});

describe("ensureWritableDir", () => {
  it("creates missing parents, and refuses a path below a file or an uncreatable one with a typed error (never hangs)", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "kms-registry-dirs-"));
    await ensureWritableDir(path.join(tmp, "a", "b", "local"));
    expect(existsSync(path.join(tmp, "a", "b", "local"))).toBe(true);
    writeFileSync(path.join(tmp, "file"), "x");
    const err = await ensureWritableDir(path.join(tmp, "file", "local")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/is a file, not a directory/);
    await expect(writeDeployment(path.join(tmp, "file"), record())).rejects.toThrow(/cannot write in/);
    // Node 20's mkdir({ recursive: true }) never settles below /proc; this must fail at once
    if (existsSync("/proc/self")) await expect(ensureWritableDir("/proc/no-such-dir/local")).rejects.toBeInstanceOf(InputError);
  });
});
