/**
 * The DCAP forge: builds a complete, properly signed *synthetic* DCAP world — root CA, PCK CA,
 * PCK leaf with the Intel SGX extension, TCB Signing cert, root and PCK CRLs, TCB Info v3 and
 * QE Identity v2 JSON signed by the TCB Signing key — and forges TDX (v4 TD10, v5 TD10/TD15) and
 * SGX (v3) quotes whose QE report is signed by the PCK leaf key and whose body is signed by a
 * fresh attestation key, with the PEM chain embedded as certification data type 5 inside type 6.
 *
 * Uses: tests of every verification path with correctly re-signed data, and the simulated KMS,
 * which signs its quotes with it. A forged world's root is NOT Intel's: verifying a forged quote
 * needs `rootCaDer: world.rootCaDer`, and any such result is `genuine: false`. Under the default
 * (pinned Intel root) a forged quote is rejected.
 *
 * Everything is configurable (TCB levels, statuses, dates, advisory IDs, module identities,
 * revocations) and several deliberate corruptions can be requested — among them collateral signed
 * by the wrong certificate (`collateralSigner`: the PCK leaf, the PCK CA, the root, another
 * root-issued leaf) and certificate shapes the verifier's pins refuse (`tcbSigningShape`,
 * `pckCaShape`); see `ForgeWorldOptions` and `ForgeQuoteOptions`. With `seed` every key, serial
 * number and signature (deterministic ECDSA) is reproducible, so the same options give
 * byte-identical worlds and quotes. Private keys are never on the world object.
 *
 * The parts: `der` (the DER writer), `x509` (certificate encoding), `platform` (PCK extension values
 * and the QE), `certs` (the world's certificates), `crl`, `collateral` (TCB Info and QE Identity),
 * `world` (`createForgeWorld`), `quote` (`forgeQuote`), `secrets` (the keys and seed-derived bytes).
 *
 * ```ts
 * const world = await createForgeWorld({ seed: "sim", now });            // TDX, UpToDate, valid now−1d … now+30d
 * const quote = await forgeQuote(world, { reportData, mrTd, rtMrs });     // TDX v4 TD10
 * verifyQuote(quote, { collateral: world.collateral, now, rootCaDer: world.rootCaDer }); // genuine: false
 * // variations: createForgeWorld({ revoke: { pckLeaf: true } }), { tcbInfo: { tcbLevels: [...] } },
 * // { pckCrl: { nextUpdate } }, forgeQuote(world, { version: 5, body: "td15", tdAttributes: "…" }), …
 * ```
 */
export { createForgeWorld, forgeSignCollateralText, FORGE_DEFAULT_NOW, type ForgeWorld, type ForgeWorldOptions } from "./world.js";
export { forgeQuote, forgeEncryptedPpidCertData, type ForgeQuoteOptions } from "./quote.js";
export type { BytesLike, ForgeCa, ForgeTee } from "./common.js";
export type { ForgeCert, ForgeKeyUsage, ForgeName } from "./x509.js";
export type { ForgeCertificateOptions, ForgeCerts, ForgeCertShape, ForgeOtherSigner, ForgeValidity } from "./certs.js";
export type { ForgeCrlOptions, ForgeRevocationOptions } from "./crl.js";
export type {
  ForgeCollateralOptions,
  ForgeCollateralSigner,
  ForgeIsvLevel,
  ForgeModuleIdentity,
  ForgeQeIdentityOptions,
  ForgeTcbInfoOptions,
  ForgeTcbLevel,
} from "./collateral.js";
export type { ForgePck, ForgePlatformOptions, ForgeQe } from "./platform.js";
export { derOid, derSequence, derTlv } from "./der.js";
