import { network } from "hardhat";
import { getAddress, zeroHash } from "viem";
import { describe, expect, it } from "vitest";

import KmsRegistryModule from "../../ignition/modules/KmsRegistry.js";
import { REGISTRAR_ROLE } from "../../src/registry/client.js";

describe("Ignition module ignition/modules/KmsRegistry.ts", () => {
  it("deploys KmsRegistry with the deployer as admin by default", async () => {
    const { ignition, viem } = await network.connect();
    const [deployer] = await viem.getWalletClients();
    const { registry } = await ignition.deploy(KmsRegistryModule);
    const me = deployer!.account.address;
    expect(await registry.read.hasRole([zeroHash, me])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, me])).toBe(true);
    const code = await (await viem.getPublicClient()).getCode({ address: registry.address });
    expect(code && code.length > 1000).toBe(true);
  });

  it("takes the admin as a module parameter", async () => {
    const { ignition, viem } = await network.connect();
    const [deployer, adminWallet] = await viem.getWalletClients();
    const admin = adminWallet!.account.address;
    const { registry } = await ignition.deploy(KmsRegistryModule, { parameters: { KmsRegistryModule: { admin } } });
    expect(await registry.read.hasRole([zeroHash, getAddress(admin)])).toBe(true);
    expect(await registry.read.hasRole([REGISTRAR_ROLE, getAddress(admin)])).toBe(true);
    expect(await registry.read.hasRole([zeroHash, deployer!.account.address])).toBe(false);
  });
});
