/**
 * CreateX's salt guard as `createXGuardedSalt` models it, against the real CreateX (installed in process from its
 * presigned transaction, as on any chain) on two chain ids and from two senders: for each kind of salt the
 * address `deployCreate2` would create is the modelled one, and it moves with the chain or the sender exactly
 * when the model says so. IGNITION_CREATE2_SALT is of the kind that moves with neither.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";

import { network } from "hardhat";
import { encodeFunctionData, decodeFunctionResult, keccak256, parseAbi, parseEther, stringToHex, type Hex } from "viem";
import { describe, expect, it } from "vitest";

import { CREATEX_FACTORY, IGNITION_CREATE2_SALT, createXAddress, createXGuardedSalt } from "../../src/registry/createx.js";
import { REPO_ROOT } from "../helpers/cli.js";

const ABI = parseAbi(["function deployCreate2(bytes32 salt, bytes initCode) payable returns (address newContract)"]);
/** init code of a contract whose runtime is the single byte 0x00 */
const INIT = "0x600160008160008239f3" as Hex;
const initCodeHash = keccak256(INIT);

async function chainWithCreateX(chainId: number) {
  const conn = await network.connect({ override: { chainId } });
  const { presignedTx } = (await import(pathToFileURL(path.join(REPO_ROOT, "node_modules/@nomicfoundation/ignition-core/dist/src/internal/execution/strategy/createx-artifact.js")).href)) as { presignedTx: Hex };
  const pc = await conn.viem.getPublicClient();
  await conn.provider.request({ method: "hardhat_setBalance", params: ["0xeD456e05CaAb11d66C4c797dD6c1D6f9A7F352b5", `0x${parseEther("1").toString(16)}`] });
  const hash = (await conn.provider.request({ method: "eth_sendRawTransaction", params: [presignedTx] })) as Hex;
  expect((await pc.waitForTransactionReceipt({ hash })).contractAddress?.toLowerCase()).toBe(CREATEX_FACTORY.toLowerCase());
  const [a, b] = await conn.viem.getWalletClients();
  /** the address deployCreate2(salt, INIT) creates when `from` sends it (eth_call) */
  const created = async (salt: Hex, from: Hex): Promise<Hex> => {
    const r = await pc.call({ account: from, to: CREATEX_FACTORY, data: encodeFunctionData({ abi: ABI, functionName: "deployCreate2", args: [salt, INIT] }) });
    return decodeFunctionResult({ abi: ABI, functionName: "deployCreate2", data: r.data! });
  };
  return { created, senders: [a!.account.address, b!.account.address] as [Hex, Hex] };
}

describe("CreateX's guarded salt", () => {
  it("matches the real CreateX for every kind of salt, on chains 31337 and 8453, from two senders", async () => {
    const [c1, c2] = [await chainWithCreateX(31337), await chainWithCreateX(8453)];
    const [s1, s2] = c1.senders;
    const tail = keccak256(stringToHex("tail")).slice(2, 24);
    const kinds: { name: string; salt: (sender: Hex) => Hex; chain: boolean; sender: boolean }[] = [
      { name: "zero prefix, flag 00", salt: () => `0x${"00".repeat(21)}${tail}`, chain: false, sender: false },
      { name: "zero prefix, flag 01", salt: () => `0x${"00".repeat(20)}01${tail}`, chain: true, sender: false },
      { name: "sender prefix, flag 00", salt: (s) => `0x${s.slice(2).toLowerCase()}00${tail}`, chain: false, sender: true },
      { name: "sender prefix, flag 01", salt: (s) => `0x${s.slice(2).toLowerCase()}01${tail}`, chain: true, sender: true },
      { name: "other prefix", salt: () => keccak256(stringToHex("random")), chain: false, sender: false },
    ];
    for (const k of kinds) {
      for (const [chain, chainId] of [[c1, 31337], [c2, 8453]] as const) {
        for (const s of [s1, s2]) {
          const salt = k.salt(s);
          expect(await chain.created(salt, s), `${k.name}, chain ${chainId}, sender ${s}`).toBe(createXAddress(salt, initCodeHash, s, chainId));
          const g = createXGuardedSalt(salt, s, chainId);
          expect([g.chainIndependent, g.senderIndependent], k.name).toEqual([!k.chain, !k.sender]);
        }
      }
      // a salt fixed across senders (the zero / other prefixes) moves with the chain and the sender as the model says
      if (!k.sender) {
        const salt = k.salt(s1);
        const here = await c1.created(salt, s1);
        expect(await c2.created(salt, s1) === here, `${k.name} across chains`).toBe(!k.chain);
        expect(await c1.created(salt, s2) === here, `${k.name} across senders`).toBe(true);
      }
    }
    expect(createXGuardedSalt(IGNITION_CREATE2_SALT, s1, 1)).toMatchObject({ chainIndependent: true, senderIndependent: true });
    // salts CreateX refuses are refused
    expect(() => createXGuardedSalt(`0x${s1.slice(2)}02${tail}`, s1, 1)).toThrow(/21st byte must be 0x00 or 0x01/);
    expect(() => createXGuardedSalt(`0x${"00".repeat(20)}02${tail}`, s1, 1)).toThrow(/21st byte must be 0x00 or 0x01/);
  }, 30_000);
});
