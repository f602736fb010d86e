/**
 * A forged world: the keys, certificates, CRLs and signed collateral of one synthetic platform, made
 * from `ForgeWorldOptions` (each concern's options: platform, certificates, revocations, collateral).
 */
import { utf8 } from "../../core/bytes.js";
import { requireNow } from "../../core/time.js";
import type { Collateral } from "../../dcap/types.js";
import type { ForgeCa, ForgeTee, WorldFrame } from "./common.js";
import { issueCertificates, worldNames, type ForgeCertificateOptions, type ForgeCerts } from "./certs.js";
import { collateralSigners, signedQeIdentity, signedTcbInfo, signerChainPem, signerKey, type ForgeCollateralOptions, type ForgeCollateralSigner } from "./collateral.js";
import { issueCrls, type ForgeRevocationOptions } from "./crl.js";
import { forgePlatform, type ForgePck, type ForgePlatformOptions, type ForgeQe } from "./platform.js";
import { keepSecrets, newSecrets, secretsOf, signRaw } from "./secrets.js";

/** The fixed default time of a forged world: 2026-01-01T00:00:00Z. */
export const FORGE_DEFAULT_NOW = 1767225600;

export interface ForgeWorldOptions extends ForgePlatformOptions, ForgeCertificateOptions, ForgeRevocationOptions, ForgeCollateralOptions {
  /** Makes every key, serial and signature reproducible. Without it keys are random. */
  seed?: string | Uint8Array;
  /** Reference time (unix seconds) around which all validity windows are placed. Default `FORGE_DEFAULT_NOW`. */
  now?: number;
  /** Default `"tdx"`. */
  tee?: ForgeTee;
  /** Which PCK CA issues the leaf. Default `"platform"`. */
  ca?: ForgeCa;
}

export interface ForgeWorld {
  /** Options the world was made from (frozen copy; contains no private key). */
  readonly options: Readonly<ForgeWorldOptions>;
  readonly tee: ForgeTee;
  readonly now: number;
  readonly ca: ForgeCa;
  rootCaDer: Uint8Array;
  rootCaPem: string;
  certs: ForgeCerts;
  /** PEM: PCK leaf, PCK CA, root — as embedded in forged quotes. */
  pckChainPem: string;
  collateral: Collateral;
  /** The PCK leaf's SGX extension values. */
  pck: ForgePck;
  qe: ForgeQe;
  /** Default TEE TCB SVN of forged TDX quotes (matches the first default TCB level). */
  teeTcbSvn: Uint8Array;
}

/**
 * Build a synthetic DCAP world. Defaults: a TDX world (Platform CA) whose collateral is valid
 * around `opts.now` (default `FORGE_DEFAULT_NOW`: certificates from now−1y, CRLs / TCB Info / QE
 * Identity issued now−1d, next update now+30d) and whose default quote evaluates to `UpToDate`
 * with no advisory IDs.
 */
export async function createForgeWorld(opts: ForgeWorldOptions = {}): Promise<ForgeWorld> {
  const frame: WorldFrame = {
    now: requireNow(opts.now ?? FORGE_DEFAULT_NOW, "forge: now"),
    tee: opts.tee ?? "tdx",
    ca: opts.ca ?? "platform",
    seed: opts.seed === undefined ? undefined : typeof opts.seed === "string" ? utf8(opts.seed) : opts.seed,
  };
  const secrets = newSecrets(frame.seed);
  const names = worldNames(frame.ca, opts);
  const signers = collateralSigners(opts);
  const platform = forgePlatform(frame, opts);
  const withOther = signers.tcbInfo === "other" || signers.qeIdentity === "other";
  const certs = issueCertificates({ frame, opts, names, secrets, platform, withOther });
  const { rootCrl, pckCrl } = issueCrls(frame, opts, names, certs, secrets);
  const tcbInfo = signedTcbInfo(frame, opts.tcbInfo ?? {}, platform, secrets, signers.tcbInfo);
  const qeIdentity = signedQeIdentity(frame, opts.qeIdentity ?? {}, platform, secrets, signers.qeIdentity);
  const otherByPckCa = opts.otherSigner?.issuer === "pckCa";

  const collateral: Collateral = {
    pckCrlIssuerChain: certs.pckCa.pem + certs.root.pem,
    rootCaCrl: rootCrl,
    pckCrl,
    tcbInfoIssuerChain: signerChainPem(certs, signers.tcbInfo, otherByPckCa),
    tcbInfo: tcbInfo.text,
    tcbInfoSignature: tcbInfo.signature,
    qeIdentityIssuerChain: signerChainPem(certs, signers.qeIdentity, otherByPckCa),
    qeIdentity: qeIdentity.text,
    qeIdentitySignature: qeIdentity.signature,
  };
  const world: ForgeWorld = {
    options: Object.freeze({ ...opts, seed: undefined }),
    tee: frame.tee,
    now: frame.now,
    ca: frame.ca,
    rootCaDer: certs.root.der,
    rootCaPem: certs.root.pem,
    certs,
    pckChainPem: certs.pckLeaf.pem + certs.pckCa.pem + certs.root.pem,
    collateral,
    pck: platform.pck,
    qe: platform.qe,
    teeTcbSvn: platform.teeTcbSvn,
  };
  keepSecrets(world, secrets);
  return world;
}

/**
 * Sign `text` (UTF-8) with the world's TCB Signing key (or another of its keys: `signer`), raw
 * `r‖s` — the signature format of `tcb_info` / `qe_identity`. For tests that need hand-written
 * collateral JSON. `"other"` needs a world made with that signer choice.
 */
export function forgeSignCollateralText(world: ForgeWorld, text: string, signer: ForgeCollateralSigner = "tcbSigning"): Uint8Array {
  return signRaw(signerKey(secretsOf(world), signer), utf8(text));
}
