import { network } from "hardhat";
import { getAddress, zeroHash } from "viem";
import { describe, expect, it } from "vitest";

import KmsRegistryModule from "../../ignition/modules/KmsRegistry.js";
import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { REGISTRAR_ROLE } from "../../src/registry/client.js";
import { verifierRootArgs } from "../../src/registry/verifier.js";

/** The DcapVerifier needs the P-256 precompile and, until it is split below 24 KB, unlimited code size. */
const UNTIL_VERIFIER_SPLIT = { hardfork: "osaka", allowUnlimitedContractSize: true } as const;

describe("Ignition module ignition/modules/KmsRegistry.ts", () => {
  it("deploys KmsRegistry with the deployer as admin by default", async () => {
    const { ignition, viem } = await network.connect({ override: UNTIL_VERIFIER_SPLIT });
    const [deployer] = await viem.getWalletClients();
    const { registry, verifier } = await ignition.deploy(KmsRegistryModule);
    // the module deploys the DcapVerifier pinned to Intel's root and hands it to the registry
    expect(getAddress(await registry.read.verifier())).toBe(getAddress(verifier.address));
    expect(await verifier.read.ROOT_SUBJECT_HASH()).toBe(verifierRootArgs(INTEL_SGX_ROOT_CA_DER)[2]);
    const me = deployer!.account.address;
    expect(await registry.read.hasRole([zeroHash, me])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, me])).toBe(true);
    const code = await (await viem.getPublicClient()).getCode({ address: registry.address });
    expect(code && code.length > 1000).toBe(true);
  });

  it("takes the admin as a module parameter", async () => {
    const { ignition, viem } = await network.connect({ override: UNTIL_VERIFIER_SPLIT });
    const [deployer, adminWallet] = await viem.getWalletClients();
    const admin = adminWallet!.account.address;
    const { registry } = await ignition.deploy(KmsRegistryModule, { parameters: { KmsRegistryModule: { admin } } });
    expect(await registry.read.hasRole([zeroHash, getAddress(admin)])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, getAddress(admin)])).toBe(true);
    expect(await registry.read.hasRole([zeroHash, deployer!.account.address])).toBe(false);
  });
});
