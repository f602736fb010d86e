/**
 * Hardhat Ignition's deterministic path: its `create2` strategy deploys every contract of a module through the
 * CreateX factory (0xba5Ed099633D3B313e4D5F7bdc1305d3c28ba5Ed, at that address on Ethereum and the major L2s,
 * installable anywhere from a presigned transaction without a chain id) with the salt of
 * `ignition.strategyConfig.create2.salt`.
 *
 * CreateX "guards" the salt before its CREATE2: a salt whose first 20 bytes are the sender makes the address
 * depend on the sender, a 21st byte 0x01 on the chain id. `IGNITION_CREATE2_SALT` has 20 zero bytes and a 21st
 * byte 0x00, for which CreateX uses keccak256(abi.encode(salt)): the address then depends only on the salt and
 * the init code (creation bytecode ‖ constructor arguments) — the same on every chain, whoever sends it.
 */
import { decodeFunctionData, encodeAbiParameters, getAddress, keccak256, parseAbi, stringToHex, type Chain, type PublicClient, type Transport } from "viem";

import type { Hex } from "../core/bytes.js";
import { UsageError } from "../core/errors.js";
import { create2Address } from "./create2.js";
import type { Create2Info, DeploymentRecord } from "./deployments.js";

export const CREATEX_FACTORY: Hex = "0xba5Ed099633D3B313e4D5F7bdc1305d3c28ba5Ed";

/** 20 zero bytes ‖ 0x00 (no cross-chain redeploy protection) ‖ the first 11 bytes of keccak256("dstack-kms-registry/ignition"). */
export const IGNITION_CREATE2_SALT: Hex = `0x${"00".repeat(21)}${keccak256(stringToHex("dstack-kms-registry/ignition")).slice(2, 24)}`;

export interface GuardedSalt {
  /** The salt CreateX's CREATE2 uses. */
  guarded: Hex;
  /** Whether the address is the same on every chain (the guarded salt does not involve the chain id). */
  chainIndependent: boolean;
  /** Whether the address is the same for every sender. */
  senderIndependent: boolean;
}

const word = (x: bigint | Hex): Hex => (typeof x === "bigint" ? (`0x${x.toString(16).padStart(64, "0")}` as Hex) : x);

/** CreateX's `_guard(salt)` for a sender on a chain (its reverting salts are refused with `UsageError`). */
export function createXGuardedSalt(salt: Hex, sender: Hex, chainId: number): GuardedSalt {
  const s = salt.toLowerCase();
  if (!/^0x[0-9a-f]{64}$/.test(s)) throw new UsageError(`a CreateX salt is 32 bytes of 0x hex, got ${JSON.stringify(salt.slice(0, 80))}`);
  const prefix = s.slice(2, 42);
  const flag = s.slice(42, 44);
  const fromSender = prefix === sender.toLowerCase().slice(2);
  const zero = prefix === "0".repeat(40);
  const senderWord = word(BigInt(sender));
  if (fromSender && flag === "01") return { guarded: keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }, { type: "bytes32" }], [sender, BigInt(chainId), s as Hex])), chainIndependent: false, senderIndependent: false };
  if (fromSender && flag === "00") return { guarded: keccak256(`0x${senderWord.slice(2)}${s.slice(2)}`), chainIndependent: true, senderIndependent: false };
  if (fromSender) throw new UsageError(`CreateX refuses salt ${salt}: its 21st byte must be 0x00 or 0x01 when it starts with the sender`);
  if (zero && flag === "01") return { guarded: keccak256(`0x${word(BigInt(chainId)).slice(2)}${s.slice(2)}`), chainIndependent: false, senderIndependent: true };
  if (zero && flag !== "00") throw new UsageError(`CreateX refuses salt ${salt}: its 21st byte must be 0x00 or 0x01 when it starts with 20 zero bytes`);
  return { guarded: keccak256(encodeAbiParameters([{ type: "bytes32" }], [s as Hex])), chainIndependent: true, senderIndependent: true };
}

/** The address CreateX's `deployCreate2(salt, initCode)` creates. */
export function createXAddress(salt: Hex, initCodeHash: Hex, sender: Hex, chainId: number): Hex {
  return create2Address(CREATEX_FACTORY, createXGuardedSalt(salt, sender, chainId).guarded, initCodeHash);
}

const CREATEX_ABI = parseAbi(["function deployCreate2(bytes32 salt, bytes initCode) payable returns (address newContract)"]);

/**
 * When the registry of `record` was created by a CreateX `deployCreate2` call (Ignition's `create2` strategy),
 * the data that reproduce its address: the guarded salt (so `create2(factory, salt, initCodeHash)` is the
 * address, as the record format checks), the salt given to CreateX and how to deploy it again. Undefined for
 * any other deployment.
 */
export async function createXReproduction(publicClient: PublicClient<Transport, Chain>, record: DeploymentRecord): Promise<Create2Info | undefined> {
  const tx = await publicClient.getTransaction({ hash: record.deployTx });
  if (!tx.to || tx.to.toLowerCase() !== CREATEX_FACTORY.toLowerCase()) return undefined;
  let salt: Hex;
  let initCode: Hex;
  try {
    const d = decodeFunctionData({ abi: CREATEX_ABI, data: tx.input });
    [salt, initCode] = d.args as [Hex, Hex];
  } catch {
    return undefined;
  }
  const initCodeHash = keccak256(initCode);
  const g = createXGuardedSalt(salt, getAddress(tx.from) as Hex, record.chainId);
  if (create2Address(CREATEX_FACTORY, g.guarded, initCodeHash).toLowerCase() !== record.address.toLowerCase()) return undefined;
  const scope = g.chainIndependent ? (g.senderIndependent ? "the same address on every chain, from any sender" : `the same address on every chain when sent by ${getAddress(tx.from)}`) : `an address bound to chain ${record.chainId}`;
  return {
    factory: CREATEX_FACTORY,
    salt: g.guarded,
    initCodeHash,
    constructorArgs: { admin: record.admin },
    createx: {
      salt,
      scope,
      reproduce: `set ignition.strategyConfig.create2.salt = "${salt}" in hardhat.config.ts, build with the record's compiler settings, then \`npx hardhat ignition deploy ignition/modules/KmsRegistry.ts --network <name> --strategy create2 --parameters '{"KmsRegistryModule":{"admin":"${record.admin}"}}'\``,
    },
  };
}
