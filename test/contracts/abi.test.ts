import { readFileSync } from "node:fs";

import { network } from "hardhat";
import { decodeFunctionData, getAddress, keccak256, parseAbi, toBytes, zeroAddress } from "viem";
import { describe, expect, it } from "vitest";

import type { Hex } from "../../src/core/bytes.js";
import { InputError } from "../../src/core/errors.js";
import * as lib from "../../src/index.js";
import { kmsRegistryAbi } from "../../src/registry/generated/abi.js";
import { dcapVerifierAbi } from "../../src/registry/generated/dcap-verifier-abi.js";
import {
  decodeRegistryLogs,
  encodeRegister,
  kmsAddressFromPubkey,
  readKms,
  REGISTRAR_ROLE,
  registryContract,
  registryRevert,
} from "../../src/registry/client.js";
import { LIVENESS_MAX_AGE } from "../../src/registry/liveness.js";
import { hex, NEAR, newKms } from "./helpers.js";

const artifact = JSON.parse(readFileSync(new URL("../../artifacts/contracts/KmsRegistry.sol/KmsRegistry.json", import.meta.url), "utf8")) as {
  abi: unknown[];
};

describe("src/registry/generated/dcap-verifier-abi.ts", () => {
  type Entry = { type: string; name?: string; inputs?: { type: string }[] };
  const abiOf = (path: string): Entry[] => (JSON.parse(readFileSync(new URL(`../../artifacts/contracts/dcap/${path}`, import.meta.url), "utf8")) as { abi: Entry[] }).abi;
  const errorSig = (e: Entry): string => `${e.name}(${(e.inputs ?? []).map((i) => i.type).join(",")})`;
  const generated = JSON.parse(JSON.stringify(dcapVerifierAbi)) as Entry[];

  it("holds the compiled DcapVerifier artifact's ABI first, unchanged (regenerate with `node scripts/gen-abi.mjs` when this fails)", () => {
    const verifier = abiOf("DcapVerifier.sol/DcapVerifier.json");
    expect(generated.slice(0, verifier.length)).toEqual(verifier);
    expect(generated.slice(verifier.length).every((e) => e.type === "error")).toBe(true);
  });

  it("decodes every error the verifier or its helpers can revert with: the union of their error entries, each once", () => {
    const sources = [
      "DcapVerifier.sol/DcapVerifier.json",
      "DcapPki.sol/DcapPki.json",
      "DcapCollateral.sol/DcapCollateral.json",
      // grading errors DcapCollateral returns as revert data for DcapVerifier to raise
      "TcbInfo.sol/TcbInfo.json",
      "QeIdentity.sol/QeIdentity.json",
    ];
    const want = new Set(sources.flatMap((p) => abiOf(p).filter((e) => e.type === "error").map(errorSig)));
    const got = generated.filter((e) => e.type === "error").map(errorSig);
    expect(new Set(got)).toEqual(want);
    expect(got.length).toBe(want.size);
    // the helpers' own reading errors are there (they are not in DcapVerifier's artifact)
    for (const name of ["DerTruncated", "X509BadTime", "SgxFieldInvalid", "JsonSyntax", "TcbComponentCount", "TcbLevelNotFound", "QeMrSignerMismatch"]) {
      expect(got.some((s) => s.startsWith(`${name}(`)), name).toBe(true);
    }
  });
});

describe("src/registry/generated/abi.ts", () => {
  it("equals the compiled artifact's ABI (regenerate with `node scripts/gen-abi.mjs` when this fails)", () => {
    expect(JSON.parse(JSON.stringify(kmsRegistryAbi))).toEqual(artifact.abi);
  });

  it("contains the fixed external interface of issue #5", () => {
    const names = new Set(kmsRegistryAbi.map((x) => ("name" in x ? `${x.type}:${x.name}` : x.type)));
    for (const n of [
      "constructor",
      "function:REGISTRAR_ROLE",
      "function:register",
      "function:revoke",
      "function:isRegistered",
      "function:kmsAddress",
      "function:verifySignature",
      "function:verifyAppKey",
      "function:verifyEnvEncryptPubkey",
      "function:verifyKeyChain",
      "function:livenessChallenge",
      "function:livenessChallengeAt",
      "function:livenessEpoch",
      "function:LIVENESS_EPOCH_BLOCKS",
      "function:proveLiveness",
      "function:kmsInfo",
      "function:nonce",
      "event:KmsRegistered",
      "event:KmsRevoked",
      "event:KmsLivenessProven",
    ]) {
      expect(names.has(n), n).toBe(true);
    }
  });

  it("matches the issue's fixed interface exactly: parameter types and names, outputs, mutability, indexed event fields", () => {
    // verbatim from issue #5 "External interface", except the liveness functions: the challenge is bound
    // to an epoch of LIVENESS_EPOCH_BLOCKS blocks, so proveLiveness takes the epoch the answer was made for
    const fixed = parseAbi([
      "constructor(address admin, address dcapVerifier)",
      "function REGISTRAR_ROLE() external view returns (bytes32)",
      "function register(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata quote) external returns (address kms)",
      "function revoke(address kms, string calldata reason) external",
      "function isRegistered(address kms) external view returns (bool)",
      "function kmsAddress(bytes calldata k256Pubkey) external view returns (address)",
      "function verifySignature(address kms, bytes32 digest, bytes calldata signature) external view returns (bool)",
      "function verifyAppKey(address kms, address appId, bytes calldata appPubkey, bytes calldata signature) external view returns (bool)",
      "function verifyEnvEncryptPubkey(address kms, address appId, bytes32 publicKey, uint64 timestamp, bytes calldata signature) external view returns (bool)",
      "function verifyKeyChain(address kms, address appId, string calldata purpose, bytes calldata derivedPubkey, bytes calldata derivedSignature, bytes calldata appPubkey, bytes calldata appSignature) external view returns (address derivedSigner)",
      "function livenessChallenge(address kms) external view returns (bytes20 appId)",
      "function LIVENESS_EPOCH_BLOCKS() external view returns (uint256)",
      "function livenessEpoch() external view returns (uint256 epoch)",
      "function livenessChallengeAt(address kms, uint256 epoch) external view returns (bytes20 appId)",
      "function proveLiveness(address kms, uint256 epoch, bytes32 publicKey, uint64 timestamp, bytes calldata signature) external",
      "event KmsRegistered(address indexed kms, bytes32 indexed quoteHash, address indexed registrar, bytes caPubkey, bytes k256Pubkey, bytes quote)",
      "event KmsRevoked(address indexed kms, address indexed by, string reason)",
      "event KmsLivenessProven(address indexed kms, uint64 timestamp, uint256 nonce)",
    ]);
    type Param = { type: string; name?: string; indexed?: boolean };
    const norm = (ps: readonly Param[] | undefined, keepEmptyNames: boolean) =>
      (ps ?? []).map((p) => ({ type: p.type, ...(p.name || keepEmptyNames ? { name: p.name ?? "" } : {}), ...(p.indexed ? { indexed: true } : {}) }));
    for (const want of fixed) {
      const name = "name" in want ? want.name : undefined;
      const matches = kmsRegistryAbi.filter((x) => x.type === want.type && ("name" in x ? x.name : undefined) === name);
      expect(matches, `${want.type} ${name ?? ""}`).toHaveLength(1);
      const got = matches[0]!;
      expect(norm(got.inputs as readonly Param[], true), `${name} inputs`).toEqual(norm(want.inputs as readonly Param[], true));
      if (want.type === "function" && got.type === "function") {
        expect(got.stateMutability, `${name} mutability`).toBe(want.stateMutability);
        // output names only where the issue gives one
        const wantOut = norm(want.outputs as readonly Param[], false);
        const gotOut = (got.outputs as readonly Param[]).map((o, i) => (wantOut[i] && "name" in wantOut[i] ? { type: o.type, name: o.name } : { type: o.type }));
        expect(gotOut, `${name} outputs`).toEqual(wantOut);
      }
      if (want.type === "event" && got.type === "event") expect(got.anonymous).toBe(false);
    }
  });

  it("every custom error of the ABI is asserted by name in a contract test (expectRevert or a selector check)", () => {
    const dir = new URL("./", import.meta.url);
    const sources = ["registry.test.ts", "registry-verified.test.ts", "liveness.test.ts", "kms-address.test.ts", "signatures.test.ts", "registry-snp.test.ts", "registry-nitro.test.ts"]
      .map((f) => readFileSync(new URL(f, dir), "utf8"))
      .concat(readFileSync(new URL("../../contracts/test/KmsRegistry.t.sol", import.meta.url), "utf8"))
      .join("\n");
    const errors = kmsRegistryAbi.filter((x) => x.type === "error").map((x) => x.name);
    expect(errors.length).toBeGreaterThanOrEqual(20);
    const untested = errors.filter((name) => !sources.includes(`"${name}")`) && !sources.includes(`.${name}.selector`));
    expect(untested).toEqual([]);
  });

  it("is exported from the package entry point together with the client and signature helpers", () => {
    expect(lib.kmsRegistryAbi).toBe(kmsRegistryAbi);
    expect(typeof lib.registryContract).toBe("function");
    expect(typeof lib.kmsAddressFromPubkey).toBe("function");
    expect(typeof lib.appKeyMessage).toBe("function");
  });
});

describe("src/registry/client.ts", () => {
  it("REGISTRAR_ROLE is keccak256('REGISTRAR_ROLE')", () => {
    expect(REGISTRAR_ROLE).toBe(keccak256(toBytes("REGISTRAR_ROLE")));
    expect(LIVENESS_MAX_AGE).toBe(300);
  });

  it("encodeRegister accepts bytes or hex and round-trips through the ABI", () => {
    const k = newKms();
    const data = encodeRegister({ caPubkey: k.caPubkey, k256Pubkey: hex(k.k256Pubkey).slice(2), quote: hex(k.quote) });
    const decoded = decodeFunctionData({ abi: kmsRegistryAbi, data });
    expect(decoded.functionName).toBe("register");
    expect(decoded.args).toEqual([hex(k.caPubkey), hex(k.k256Pubkey), hex(k.quote)]);
    expect(() => encodeRegister({ caPubkey: "zz", k256Pubkey: k.k256Pubkey, quote: k.quote })).toThrow(InputError);
  });

  it("kmsAddressFromPubkey matches the NEAR AI production vector and rejects junk", () => {
    expect(kmsAddressFromPubkey(NEAR.k256Pubkey)).toBe(getAddress(NEAR.address));
    expect(kmsAddressFromPubkey(hex(NEAR.k256Pubkey))).toBe(getAddress(NEAR.address));
    expect(() => kmsAddressFromPubkey(new Uint8Array(33))).toThrow(InputError);
    expect(() => kmsAddressFromPubkey("0x1234")).toThrow(/33 \(compressed\) or 65/);
  });

  it("registryContract / readKms / decodeRegistryLogs / registryRevert against a live registry", async () => {
    const { viem } = await network.connect();
    const publicClient = await viem.getPublicClient();
    const [walletClient] = await viem.getWalletClients();
    const deployed = await viem.deployContract("KmsRegistry", [walletClient!.account.address, zeroAddress]);
    const reg = registryContract(deployed.address, { publicClient, walletClient: walletClient! });
    const k = newKms();

    const unknown = await reg.readKms(k.address);
    expect(unknown).toMatchObject({ registered: false, active: false, revoked: false, registrar: zeroAddress, attestedAt: 0, livenessNonce: 0n });

    const hash = await walletClient!.sendTransaction({ to: deployed.address, data: encodeRegister(k) });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const [ev] = decodeRegistryLogs(receipt.logs);
    expect(ev!.eventName).toBe("KmsRegistered");
    expect(await reg.read.isRegistered([k.address])).toBe(true);
    expect((await readKms(publicClient, deployed.address, k.address)).active).toBe(true);

    // write through the typed instance, then decode a typed revert
    await reg.write.revoke([k.address, "rotated"]);
    expect((await reg.readKms(k.address)).revoked).toBe(true);
    let err: unknown;
    try {
      await reg.simulate.revoke([k.address, "again"]);
    } catch (e) {
      err = e;
    }
    expect(registryRevert(err)).toEqual({ name: "KmsIsRevoked", args: [getAddress(k.address)] });
    expect(registryRevert(new Error("plain"))).toBeNull();
    // read-only handle (no wallet client)
    const ro = registryContract(deployed.address, { publicClient });
    expect(await ro.read.isRegistered([k.address])).toBe(false);
    expect(await ro.read.kmsAddress([hex(NEAR.k256Pubkey)])).toBe(getAddress(NEAR.address));
    expect("write" in ro).toBe(false);
    // malformed addresses are typed input errors naming the field, before any RPC call
    expect(() => registryContract("0x12" as Hex, { publicClient })).toThrow(/registry: expected a 20-byte 0x address, got "0x12"/);
    await expect(readKms(publicClient, deployed.address, "kms-1" as Hex)).rejects.toThrow(InputError);
    await expect(reg.readKms("0x" as Hex)).rejects.toThrow(/kms: expected a 20-byte 0x address/);
  });
});
