/**
 * The prpc methods of the simulated KMS. Onboard: `Bootstrap {"domain"}`, `GetAttestationInfo`,
 * `Finish` (`Onboard` — replication from another KMS — is refused). Normal mode: `KMS.GetMeta`,
 * `KMS.GetAppEnvEncryptPubKey {"app_id"}` (the env-encryption key signed by the root k256 key, without
 * and with a timestamp), and the SIMULATOR-ONLY `Sim.GetAppKey {"app_id"}` (the app key and its
 * signature by the root key, message A) and `Sim.GetKey {"app_id","path","purpose"}` (a key derived
 * from the app key and its signature chain [D, A]).
 */
import { x25519 } from "@noble/curves/ed25519.js";

import { bytesToPlainHex, hexToBytes } from "../../core/bytes.js";
import { errorMessage } from "../../core/errors.js";
import { deriveKey } from "../../dstack/kdf.js";
import { appKeyMessage, envEncryptMessage, envEncryptMessageV1, keyChainMessage, publicKeyFromPrivate, signMessage } from "../../dstack/signatures.js";
import { attestationInfo } from "./cvm.js";
import type { KmsKeys } from "./keys.js";
import { RpcError, UnknownMethodError, type SimulatorState } from "./state.js";

type Args = Record<string, unknown>;

/** Methods answered in both modes. */
const ANY_MODE = new Map<string, (state: SimulatorState, args: Args) => unknown>([
  ["Onboard.Bootstrap", (state, args) => state.bootstrap(args.domain)],
  ["Onboard.GetAttestationInfo", (state) => attestationInfo(state.cvm)],
  ["KMS.GetAttestationInfo", (state) => attestationInfo(state.cvm)],
  [
    "Onboard.Onboard",
    () => {
      throw new RpcError(400, "Onboard (replication from another KMS) is not supported by the simulator");
    },
  ],
  [
    "Onboard.Finish",
    (state) => {
      if (!state.keys) throw new RpcError(400, "KMS is not bootstrapped yet");
      return {};
    },
  ],
]);

/** Methods of a bootstrapped KMS in normal mode. */
const NORMAL_MODE = new Map<string, (keys: KmsKeys, args: Args, clock: () => number) => unknown>([
  ["KMS.GetMeta", getMeta],
  ["KMS.GetAppEnvEncryptPubKey", getAppEnvEncryptPubKey],
  ["Sim.GetAppKey", simGetAppKey],
  ["Sim.GetKey", simGetKey],
]);

export async function callMethod(state: SimulatorState, method: string, args: Args): Promise<unknown> {
  const anyMode = ANY_MODE.get(method);
  if (anyMode) return anyMode(state, args);
  const keys = state.normalKeys();
  const normal = NORMAL_MODE.get(method);
  if (!normal) throw new UnknownMethodError(method);
  return normal(keys, args, state.config.clock);
}

function appIdArg(args: Args): Uint8Array {
  const v = args.app_id;
  if (typeof v !== "string") throw new RpcError(400, "app_id is required (20-byte hex)");
  let b: Uint8Array;
  try {
    b = hexToBytes(v, "app_id");
  } catch (e) {
    throw new RpcError(400, errorMessage(e));
  }
  if (b.length !== 20) throw new RpcError(400, `invalid app_id length: expected 20 bytes, got ${b.length}`);
  return b;
}

function getMeta(keys: KmsKeys): Record<string, unknown> {
  return {
    ca_cert: keys.caCertPem,
    allow_any_upgrade: true,
    k256_pubkey: bytesToPlainHex(keys.k256Pubkey),
    bootstrap_info: keys.infoWritten ? keys.bootstrapResponse : null,
    is_dev: true,
    gateway_app_id: "",
    kms_contract_address: null,
    chain_id: null,
    app_auth_implementation: null,
  };
}

function getAppEnvEncryptPubKey(keys: KmsKeys, args: Args, clock: () => number): Record<string, unknown> {
  const appId = appIdArg(args);
  const secret = deriveKey(keys.k256, appId, "env-encrypt-key");
  const pub = x25519.getPublicKey(secret);
  const now = clock();
  return {
    public_key: bytesToPlainHex(pub),
    signature: bytesToPlainHex(signMessage(envEncryptMessage(appId, pub), keys.k256)),
    timestamp: now,
    signature_v1: bytesToPlainHex(signMessage(envEncryptMessageV1(appId, now, pub), keys.k256)),
  };
}

/** The app key derived from the root k256 key, and the root key's signature over it (message A). */
function appKey(keys: KmsKeys, appId: Uint8Array): { priv: Uint8Array; pub: Uint8Array; sig: Uint8Array } {
  const priv = deriveKey(keys.k256, appId, "app-key");
  const pub = publicKeyFromPrivate(priv);
  return { priv, pub, sig: signMessage(appKeyMessage(appId, pub), keys.k256) };
}

function simGetAppKey(keys: KmsKeys, args: Args): Record<string, unknown> {
  const appId = appIdArg(args);
  const k = appKey(keys, appId);
  return {
    simulator_only: true,
    app_id: bytesToPlainHex(appId),
    app_pubkey: bytesToPlainHex(k.pub),
    k256_signature: bytesToPlainHex(k.sig),
    kms_pubkey: bytesToPlainHex(keys.k256Pubkey),
  };
}

function simGetKey(keys: KmsKeys, args: Args): Record<string, unknown> {
  const appId = appIdArg(args);
  const path = typeof args.path === "string" ? args.path : "";
  const purpose = typeof args.purpose === "string" ? args.purpose : "";
  const k = appKey(keys, appId);
  const derivedPub = publicKeyFromPrivate(deriveKey(k.priv, path));
  const d = signMessage(keyChainMessage(purpose, derivedPub), k.priv);
  return {
    simulator_only: true,
    app_id: bytesToPlainHex(appId),
    path,
    purpose,
    public_key: bytesToPlainHex(derivedPub),
    app_pubkey: bytesToPlainHex(k.pub),
    signature_chain: [bytesToPlainHex(d), bytesToPlainHex(k.sig)],
  };
}
