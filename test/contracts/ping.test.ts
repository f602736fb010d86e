import { network } from "hardhat";
import { describe, expect, it } from "vitest";

describe("toolchain: contract compiled with the bundled solc, deployed on EDR, called through viem", () => {
  it("deploys Ping and emits Pinged", async () => {
    const { viem } = await network.connect();
    const ping = await viem.deployContract("Ping");
    const [wallet] = await viem.getWalletClients();
    const publicClient = await viem.getPublicClient();
    const hash = await ping.write.ping([42n]);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    expect(await ping.read.count()).toBe(1n);
    const events = await ping.getEvents.Pinged();
    expect(events).toHaveLength(1);
    expect(events[0]!.args.from!.toLowerCase()).toBe(wallet!.account.address.toLowerCase());
    expect(events[0]!.args.value).toBe(42n);
  });
});
