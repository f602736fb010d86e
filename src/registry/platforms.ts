/**
 * The platforms a registry records (`platformOf(kms)`), one entry each: the number the contract stores, how a
 * `KmsRegistered.quote` of the platform is told apart from the others (its shape: the registry's entry points
 * each accept one layout), the vendor root a genuine registration chains to, the event that publishes the
 * evidence needed to re-verify it from chain data, and the measurement the record's image measurement is
 * taken from. A new platform is one entry here and one case in `reverifyRegistration` (`reverify.ts`).
 */
import { parseQuote } from "../dcap/quote.js";
import { decodeNitroDocument, looksLikeCoseSign1 } from "../dstack/platforms/nitro.js";
import { looksLikeSnpReport, parseSnpReport, SNP_REPORT_LENGTH } from "../dstack/platforms/sev-snp.js";

export interface RegistryPlatformInfo {
  /** `platformOf(kms)`. */
  id: number;
  /** Human name. */
  label: string;
  /** The root a genuine registration chains to. */
  vendorRoot: string;
  /** The registry event that carries what re-verification needs besides the quote. */
  evidenceEvent: string;
  /** The main measurement, as the platform names it. */
  measurement: string;
  /** Whether a registered quote has this platform's layout (TDX is the fallback: checked last). */
  matches: (quote: Uint8Array) => boolean;
  /** The 64 bytes that bind the KMS keys, read from a registered quote (throws when it does not parse). */
  reportData: (quote: Uint8Array) => Uint8Array;
  /** What the audit's `quote-parse` check says of a quote that parsed. */
  parsed: (quote: Uint8Array) => string;
}

export const REGISTRY_PLATFORMS = {
  "sev-snp": {
    id: 1,
    label: "AMD SEV-SNP",
    vendorRoot: "AMD's pinned ARK of the product",
    evidenceEvent: "KmsSnpEvidencePublished",
    measurement: "MEASUREMENT",
    matches: looksLikeSnpReport,
    reportData: (q) => parseSnpReport(q).reportData,
    parsed: () => `SEV-SNP report parses (${SNP_REPORT_LENGTH} bytes; report_data at 0x50)`,
  },
  "nitro-enclave": {
    id: 2,
    label: "AWS Nitro Enclave",
    vendorRoot: "AWS's pinned Nitro Enclaves Root-G1",
    evidenceEvent: "KmsRegistered",
    measurement: "os_image_hash",
    matches: looksLikeCoseSign1,
    reportData: (q) => {
      const userData = decodeNitroDocument(q).userData;
      if (!userData) throw new Error("the Nitro attestation document has no user_data (where its report_data is)");
      return userData;
    },
    parsed: (q) => `Nitro attestation document decodes (${q.length} bytes; report_data is its user_data)`,
  },
  tdx: {
    id: 0,
    label: "Intel TDX",
    vendorRoot: "Intel's SGX Root CA",
    evidenceEvent: "KmsCollateralPublished",
    measurement: "MRTD",
    matches: () => true,
    reportData: (q) => parseQuote(q).body.reportData,
    parsed: (q) => `quote parses (${q.length} bytes)`,
  },
} as const satisfies Record<string, RegistryPlatformInfo>;

/** A platform the registry records. */
export type RegistryPlatform = keyof typeof REGISTRY_PLATFORMS;

const ENTRIES = Object.entries(REGISTRY_PLATFORMS) as [RegistryPlatform, RegistryPlatformInfo][];

/** The platform of a registered quote, told by its shape (the first entry whose layout it has). */
export function platformOfRegisteredQuote(quote: Uint8Array): RegistryPlatform {
  return ENTRIES.find(([, p]) => p.matches(quote))![0];
}

/** The platform name of a `platformOf` value (`platform N` for a number this client does not know). */
export function platformName(n: number): RegistryPlatform | `platform ${number}` {
  return ENTRIES.find(([, p]) => p.id === n)?.[0] ?? `platform ${n}`;
}
