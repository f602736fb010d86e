/**
 * Dapp-side checks of KMS-signed material, done twice — off chain in TypeScript (`signatures.ts`) and on
 * chain through the registry's views — with a verdict on whether both agree.
 *
 * Off chain, a signature is valid when it recovers to a KMS address that the registry lists as registered
 * and not revoked (and equals `kms` when the caller pins one). On chain, the matching `verify*` view is
 * called for that KMS.
 */
import { getAddress, zeroAddress, type Chain, type PublicClient, type Transport } from "viem";

import { bytesToHex, type Hex } from "../core/bytes.js";
import { kmsRegistryAbi } from "./generated/abi.js";
import { appKeyMessage, envEncryptMessageV1, ethAddress, keyChainMessage, recoverAddress, recoverPublicKey } from "../dstack/signatures.js";

export type SignatureKind = "app-key" | "env-key" | "key-chain";

export interface SideVerdict {
  valid: boolean;
  detail: string;
  /** Key chains: the derived key's Ethereum address as this side sees it (zero address when invalid). */
  derivedSigner?: Hex;
}

export interface SignatureCheckResult {
  kind: SignatureKind;
  registry: Hex;
  /** The KMS the signature was checked against (pinned, or recovered off chain). */
  kms: Hex;
  /** What the signature recovers to off chain (null if it does not recover). */
  recoveredKms: Hex | null;
  /** Key chains: the app key recovered from the derived-key signature. */
  appPubkey?: Hex;
  registered: boolean;
  offChain: SideVerdict;
  onChain: SideVerdict;
  agree: boolean;
  /** Both sides valid and agreeing. */
  valid: boolean;
}

interface Common {
  publicClient: PublicClient<Transport, Chain>;
  registry: Hex;
  /** Expected KMS address; when absent, the address recovered off chain is used. */
  kms?: Hex;
}

const checksum = (a: string): Hex => getAddress(a) as Hex;

async function isRegistered(c: Common, kms: Hex): Promise<boolean> {
  if (kms === zeroAddress) return false;
  return (await c.publicClient.readContract({ address: c.registry, abi: kmsRegistryAbi, functionName: "isRegistered", args: [kms] })) as boolean;
}

function offChainVerdict(recovered: Hex | null, pinned: Hex | undefined, registered: boolean, what: string): SideVerdict {
  if (!recovered) return { valid: false, detail: `${what} does not recover (malformed, high-s or bad v)` };
  if (pinned && recovered.toLowerCase() !== pinned.toLowerCase()) return { valid: false, detail: `${what} recovers to ${checksum(recovered)}, not to the given KMS ${pinned}` };
  if (!registered) return { valid: false, detail: `${what} recovers to ${checksum(recovered)}, which is not a registered (non-revoked) KMS` };
  return { valid: true, detail: `${what} recovers to registered KMS ${checksum(recovered)}` };
}

function finish(
  base: Omit<SignatureCheckResult, "agree" | "valid">,
): SignatureCheckResult {
  const sameDerived = base.offChain.derivedSigner === undefined || base.offChain.derivedSigner.toLowerCase() === (base.onChain.derivedSigner ?? "").toLowerCase();
  const agree = base.offChain.valid === base.onChain.valid && sameDerived;
  return { ...base, agree, valid: agree && base.offChain.valid && base.onChain.valid };
}

/** The KMS a check is about (the pinned one, else the recovered one, else the zero address) and whether it is registered. */
async function subjectKms(c: Common, recovered: Hex | null): Promise<{ kms: Hex; recoveredKms: Hex | null; registered: boolean }> {
  const kms = c.kms ?? (recovered ? checksum(recovered) : (zeroAddress as Hex));
  return { kms, recoveredKms: recovered ? checksum(recovered) : null, registered: await isRegistered(c, kms) };
}

/** A signature by the KMS root key: off chain from what it recovers to, on chain by the registry's `view`. */
async function checkRootSignature(
  c: Common,
  kind: SignatureKind,
  recovered: Hex | null,
  what: string,
  view: string,
  verifyOnChain: (kms: Hex) => Promise<boolean>,
): Promise<SignatureCheckResult> {
  const { kms, recoveredKms, registered } = await subjectKms(c, recovered);
  const offChain = offChainVerdict(recovered, c.kms, registered, what);
  const ok = await verifyOnChain(kms);
  const onChain = { valid: ok, detail: `${view}(${kms}, …) returned ${ok}` };
  return finish({ kind, registry: c.registry, kms, recoveredKms, registered, offChain, onChain });
}

/** A: the KMS root key's signature over `"dstack-kms-issued:" ‖ appId ‖ appPubkey`. */
export async function checkAppKeySignature(c: Common & { appId: Uint8Array; appPubkey: Uint8Array; signature: Uint8Array }): Promise<SignatureCheckResult> {
  const recovered = recoverAddress(appKeyMessage(c.appId, c.appPubkey), c.signature);
  return checkRootSignature(c, "app-key", recovered, "the app-key signature", "verifyAppKey", async (kms) =>
    (await c.publicClient.readContract({
      address: c.registry,
      abi: kmsRegistryAbi,
      functionName: "verifyAppKey",
      args: [kms, bytesToHex(c.appId), bytesToHex(c.appPubkey), bytesToHex(c.signature)],
    })) as boolean,
  );
}

/** C (v1): the KMS root key's signature over an env-encrypt public key with a timestamp. */
export async function checkEnvKeySignature(
  c: Common & { appId: Uint8Array; publicKey: Uint8Array; timestamp: bigint; signature: Uint8Array },
): Promise<SignatureCheckResult> {
  const recovered = recoverAddress(envEncryptMessageV1(c.appId, c.timestamp, c.publicKey), c.signature);
  return checkRootSignature(c, "env-key", recovered, "the env-key signature", "verifyEnvEncryptPubkey", async (kms) =>
    (await c.publicClient.readContract({
      address: c.registry,
      abi: kmsRegistryAbi,
      functionName: "verifyEnvEncryptPubkey",
      args: [kms, bytesToHex(c.appId), bytesToHex(c.publicKey), c.timestamp, bytesToHex(c.signature)],
    })) as boolean,
  );
}

/**
 * A GetKey `signature_chain` `[D, A]`: D by the app key over `"{purpose}:{hex(derivedPubkey)}"`, A by the KMS
 * over the app-key message. The app key is recovered from D off chain and passed to `verifyKeyChain`.
 */
export async function checkKeyChain(
  c: Common & { appId: Uint8Array; purpose: string; derivedPubkey: Uint8Array; derivedSignature: Uint8Array; appSignature: Uint8Array },
): Promise<SignatureCheckResult> {
  const appPub = recoverPublicKey(keyChainMessage(c.purpose, c.derivedPubkey), c.derivedSignature);
  const recovered = appPub ? recoverAddress(appKeyMessage(c.appId, appPub), c.appSignature) : null;
  const { kms, recoveredKms, registered } = await subjectKms(c, recovered);
  let offChain: SideVerdict;
  let derivedAddress: Hex = zeroAddress;
  if (!appPub) offChain = { valid: false, detail: "the derived-key signature (D) does not recover to an app key" };
  else {
    offChain = offChainVerdict(recovered, c.kms, registered, "the app-key signature (A)");
    if (offChain.valid) {
      try {
        derivedAddress = checksum(ethAddress(c.derivedPubkey));
        offChain = { ...offChain, detail: `${offChain.detail}; derived key ${derivedAddress}` };
      } catch {
        offChain = { valid: false, detail: `the derived public key (${c.derivedPubkey.length} bytes) is not a secp256k1 key` };
      }
    }
  }
  offChain.derivedSigner = offChain.valid ? derivedAddress : zeroAddress;
  const signer = (await c.publicClient.readContract({
    address: c.registry,
    abi: kmsRegistryAbi,
    functionName: "verifyKeyChain",
    args: [
      kms,
      bytesToHex(c.appId),
      c.purpose,
      bytesToHex(c.derivedPubkey),
      bytesToHex(c.derivedSignature),
      bytesToHex(appPub ?? new Uint8Array(33)),
      bytesToHex(c.appSignature),
    ],
  })) as Hex;
  const onValid = signer.toLowerCase() !== zeroAddress;
  const onChain: SideVerdict = { valid: onValid, derivedSigner: checksum(signer), detail: `verifyKeyChain(${kms}, …) returned ${checksum(signer)}` };
  return finish({
    kind: "key-chain",
    registry: c.registry,
    kms,
    recoveredKms,
    ...(appPub ? { appPubkey: bytesToHex(appPub) } : {}),
    registered,
    offChain,
    onChain,
  });
}
