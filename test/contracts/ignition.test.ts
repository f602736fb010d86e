import { network } from "hardhat";
import { getAddress, zeroHash } from "viem";
import { describe, expect, it } from "vitest";

import KmsRegistryModule, { INTEL_ROOT_ARGS } from "../../ignition/modules/KmsRegistry.js";
import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { REGISTRAR_ROLE } from "../../src/registry/client.js";
import { verifierRootArgs } from "../../src/registry/verifier.js";
import { createForgeWorld } from "../../src/testing/forge/index.js";

// the verifier's code is still larger than EIP-170 allows, hence no size limit on this network
const connect = () => network.connect({ override: { hardfork: "osaka" } });

describe("Ignition module ignition/modules/KmsRegistry.ts", () => {
  it("its default root is Intel's SGX Root CA, as verifierRootArgs reads it from the pinned certificate", () => {
    const [rootX, rootY, rootSubjectHash, rootSerial] = verifierRootArgs(INTEL_SGX_ROOT_CA_DER);
    expect(INTEL_ROOT_ARGS).toEqual({ rootX, rootY, rootSubjectHash, rootSerial });
  });

  it("deploys the DcapVerifier under Intel's root and KmsRegistry built with it, the deployer as admin by default", async () => {
    const { ignition, viem } = await connect();
    const [deployer] = await viem.getWalletClients();
    const { registry, verifier } = await ignition.deploy(KmsRegistryModule);
    const me = deployer!.account.address;
    expect(await registry.read.hasRole([zeroHash, me])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, me])).toBe(true);
    const code = await (await viem.getPublicClient()).getCode({ address: registry.address });
    expect(code && code.length > 1000).toBe(true);
    expect(await registry.read.verifier()).toBe(getAddress(verifier.address));
    expect(await verifier.read.isIntelRoot()).toBe(true);
  });

  it("takes the admin and another root as module parameters (that verifier is not Intel's)", async () => {
    const { ignition, viem } = await connect();
    const [deployer, adminWallet] = await viem.getWalletClients();
    const admin = adminWallet!.account.address;
    const world = await createForgeWorld({ seed: "ignition" });
    const [rootX, rootY, rootSubjectHash, rootSerial] = verifierRootArgs(world.rootCaDer);
    const { registry, verifier } = await ignition.deploy(KmsRegistryModule, {
      parameters: { KmsRegistryModule: { admin, rootX, rootY, rootSubjectHash, rootSerial } },
    });
    expect(await registry.read.hasRole([zeroHash, getAddress(admin)])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, getAddress(admin)])).toBe(true);
    expect(await registry.read.hasRole([zeroHash, deployer!.account.address])).toBe(false);
    expect(await verifier.read.isIntelRoot()).toBe(false);
    expect(await verifier.read.ROOT_SUBJECT_HASH()).toBe(rootSubjectHash);
  });
});
