/**
 * The re-verification of a registration that is not a TDX quote, from chain data alone, one case per platform
 * (`reverifyPlatformRegistration`; the audit's `--reverify` and anything else that re-checks a registration call
 * it with the registration's evidence as its events carry it):
 *  - sev-snp: the raw report of its `KmsRegistered` with the VCEK and ASK/ARK chain of its
 *    `KmsSnpEvidencePublished`, at its block time, to AMD's pinned ARK of the product (a test ARK: NOT
 *    GENUINE), then the guest policy rules; AMD's revocation of the ASK re-checked with the CRL of its
 *    `KmsSnpCrlPublished` (the detail says when none was published);
 *  - nitro-enclave: the NSM attestation document of its `KmsRegistered`, which carries its certificate chain:
 *    COSE ES384, the cabundle to AWS's pinned Nitro Enclaves Root-G1 (a test root: NOT GENUINE), every
 *    certificate valid at the document's own timestamp, which must not be after the registration's block time,
 *    then the debug-mode rule (a debug-mode enclave is reported as refused).
 * TDX quotes are not handled here (their collateral-based verification is the caller's).
 */
import { hexToBytes } from "../core/bytes.js";
import { KmsRegistryError, firstLine } from "../core/errors.js";
import { NitroVerificationError, verifyNitroDocument } from "../dstack/platforms/nitro-verify.js";
import { amdCertificatesFromFile, amdCrlsFromFile, sortAmdCertificates, verifySnpReport } from "../dstack/platforms/sev-snp-verify.js";
import type { AttestationPlatform } from "./audit-state.js";
import type { ReverifyContext, ReverifyOutcome } from "./audit.js";

export interface PlatformReverifyOptions {
  /** A test root instead of the platform vendor's pinned one (an SEV-SNP test ARK, a Nitro test root): the result is then NOT GENUINE. */
  testRootDer?: Uint8Array;
}

/** Why an SEV-SNP registration cannot be re-verified from the chain alone. */
export const NO_PUBLISHED_SNP_EVIDENCE = "no VCEK and AMD chain were published on chain for this SEV-SNP registration (no KmsSnpEvidencePublished)";

/** How far a Nitro document's timestamp may be after the block that registered it (clock skew). */
const NITRO_CLOCK_SKEW_SECONDS = 300;

/**
 * Re-verify a registration of `platform` from its evidence (`quote`: the `KmsRegistered` quote) and what its
 * events published (`ctx.registration`); `undefined` for a TDX quote, which this function does not verify.
 */
export function reverifyPlatformRegistration(platform: AttestationPlatform, quote: Uint8Array, ctx: ReverifyContext, opts: PlatformReverifyOptions = {}): ReverifyOutcome | undefined {
  switch (platform) {
    case "sev-snp":
      return reverifySnp(quote, ctx, opts.testRootDer);
    case "nitro-enclave":
      return reverifyNitro(quote, ctx, opts.testRootDer);
    case "tdx":
      return undefined;
  }
}

function reverifySnp(report: Uint8Array, rc: ReverifyContext, testArkDer: Uint8Array | undefined): ReverifyOutcome {
  const evidence = rc.registration.snpEvidence;
  if (!evidence) return { ok: false, detail: NO_PUBLISHED_SNP_EVIDENCE };
  const source = `with the VCEK and AMD chain published on chain, at the registration's block time ${rc.blockTimestamp}`;
  try {
    const chain = sortAmdCertificates(amdCertificatesFromFile(hexToBytes(evidence.amdChain, "amdChain"), "the published AMD chain"), "the published AMD chain");
    const vcek = amdCertificatesFromFile(hexToBytes(evidence.vcek, "vcek"), "the published VCEK");
    const crls = evidence.crl ? amdCrlsFromFile(hexToBytes(evidence.crl, "crl"), "the published AMD CRL") : undefined;
    const r = verifySnpReport(report, {
      vcekDer: vcek[0]!,
      now: rc.blockTimestamp,
      ...(chain.ask ? { askDer: chain.ask } : {}),
      ...(chain.ark ? { arkDer: chain.ark } : {}),
      ...(crls ? { crlDers: crls } : {}),
      ...(testArkDer ? { testArkDer } : {}),
    });
    const genuine = r.genuine ? `, chained to AMD's pinned ARK-${r.product}` : " (NOT GENUINE: test ARK, not AMD's)";
    const revocation = r.crl
      ? `; AMD revocation re-checked with the CRL published on chain (${r.crl.issuers.join(", ")}, next update ${r.crl.nextUpdate}): not revoked`
      : "; AMD revocation NOT re-checked: no CRL was published on chain for this registration (no KmsSnpCrlPublished)";
    if (!r.ok) {
      const refused = r.policy.rules.find((x) => !x.ok)!;
      return { ok: false, detail: `SEV-SNP report (${r.product}) verified${genuine}, but the guest policy is refused: ${refused.name}: ${refused.detail} (${source})` };
    }
    return { ok: true, detail: `verified: SEV-SNP report (${r.product}) signed by its VCEK${genuine}${revocation} (${source})` };
  } catch (e) {
    if (e instanceof KmsRegistryError) return { ok: false, detail: `${e.code}: ${firstLine(e.message)} (${source}${evidence.crl ? ", with the CRL published on chain" : ""})` };
    throw e;
  }
}

function reverifyNitro(document: Uint8Array, rc: ReverifyContext, testRootDer: Uint8Array | undefined): ReverifyOutcome {
  const source = "from the document registered on chain (its own certificate chain), at its timestamp";
  let r;
  try {
    r = verifyNitroDocument(document, testRootDer ? { rootDer: testRootDer } : {});
  } catch (e) {
    if (e instanceof NitroVerificationError || e instanceof KmsRegistryError) return { ok: false, detail: `${e.code}: ${firstLine(e.message)} (${source})` };
    throw e;
  }
  const stamped = Math.floor(r.document.timestamp / 1000);
  const when = new Date(r.document.timestamp).toISOString();
  if (stamped > rc.blockTimestamp + NITRO_CLOCK_SKEW_SECONDS) {
    return { ok: false, detail: `NITRO_TIMESTAMP_INVALID: the document is stamped ${when}, after the block that registered it (block time ${rc.blockTimestamp}) (${source})` };
  }
  const genuine = r.genuine ? ", chained to AWS's pinned Nitro Enclaves Root-G1" : " (NOT GENUINE: a test root, not AWS's)";
  const what = `AWS Nitro Enclave document of module ${r.document.moduleId} stamped ${when}, ES384 signature verified${genuine}`;
  if (!r.ok) {
    const refused = r.policy.rules.find((x) => !x.ok)!;
    return { ok: false, detail: `${what}, but the policy is refused: ${refused.name}: ${refused.detail} (${source})` };
  }
  return { ok: true, detail: `verified: ${what}; os_image_hash ${String(r.report.osImageHash)} (${source})` };
}
