/**
 * AMD's Key Distribution Service (KDS) for SEV-SNP: the VCEK of a chip at a TCB
 * (`/vcek/v1/{product}/{hwid}?blSPL=…&teeSPL=…&snpSPL=…&ucodeSPL=…`, DER), the product's chain
 * (`/vcek/v1/{product}/cert_chain`, PEM: ASK then ARK) and the ARK's CRL (`/vcek/v1/{product}/crl`, DER).
 * Fetched with the PCCS client's rules (timeout, bounded body, redirects only within the KDS's origin) and
 * kept in the on-disk cache while what they hold is valid (a certificate until its notAfter, the CRL until
 * its nextUpdate). Every failure is a `NetworkError` with a `KDS_*` code naming the request.
 */
import { homedir } from "node:os";
import { join } from "node:path";

import { errorMessage, KmsRegistryError, NetworkError, UsageError, type ErrorCode } from "../../core/errors.js";
import { getCached } from "../../dcap/pccs/cache.js";
import { pathOf, type Fetched } from "../../dcap/pccs/client.js";
import { commonName, parseCertificate, parseCrl, pemBlocks } from "../../dcap/x509.js";
import { AMD_PRODUCTS, type AmdProduct } from "./amd-roots.js";
import type { SnpReport } from "./sev-snp.js";
import { decodeTcb } from "./sev-snp-verify.js";

export const AMD_KDS_URL = "https://kdsintf.amd.com";
/** Largest KDS answer accepted (a VCEK is ~1.3 KiB, the chain ~4 KiB, the CRL a few KiB). */
export const MAX_KDS_RESPONSE_BYTES = 256 * 1024;
const DEFAULT_TIMEOUT_MS = 20_000;

export interface KdsOptions {
  /** KDS base URL; default AMD's. */
  kdsUrl?: string;
  /** On-disk cache directory (see `defaultKdsCacheDir`); no caching when absent. */
  cacheDir?: string;
  /** Unix seconds: decides whether cached answers are still valid. */
  now: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface KdsAnswer {
  der: Uint8Array;
  url: string;
  fromCache: boolean;
}

/** `$XDG_CACHE_HOME/dstack-kms-registry/amd-kds`, or `~/.cache/dstack-kms-registry/amd-kds`. */
export function defaultKdsCacheDir(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), ".cache");
  return join(base, "dstack-kms-registry", "amd-kds");
}

/** Normalise a KDS base URL: http(s) only, no query, fragment or trailing `/`. */
export function normalizeKdsBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--kds-url: not a URL: ${JSON.stringify(url)}`, { details: { url } });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--kds-url: only http and https URLs are supported, got ${u.protocol}`, { details: { url } });
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
}

/** The VCEK's KDS URL of the report's chip at its reported TCB (Turin: the first 8 bytes of chip_id and fmcSPL). */
export function kdsVcekUrl(base: string, product: AmdProduct, report: SnpReport): string {
  const chip = report.chipId.slice(2);
  const hwid = product === "Turin" ? chip.slice(0, 16) : chip;
  const t = decodeTcb(report.reportedTcb, product);
  const q = `${product === "Turin" ? `fmcSPL=${t.fmc ?? 0}&` : ""}blSPL=${t.bootloader}&teeSPL=${t.tee}&snpSPL=${t.snp}&ucodeSPL=${t.microcode}`;
  return `${normalizeKdsBase(base)}/vcek/v1/${product}/${hwid}?${q}`;
}

/** The HTTP client's codes as the KDS's. */
const KDS_CODES: Partial<Record<ErrorCode, ErrorCode>> = {
  PCCS_TIMEOUT: "KDS_TIMEOUT",
  PCCS_UNREACHABLE: "KDS_UNREACHABLE",
  PCCS_HTTP_STATUS: "KDS_HTTP_STATUS",
  PCCS_REDIRECT: "KDS_REDIRECT",
  PCCS_BAD_RESPONSE: "KDS_BAD_RESPONSE",
};

/** A PCCS client failure renamed for the KDS (`PCCS_TIMEOUT` → `KDS_TIMEOUT`, …). */
function asKdsError(e: unknown): unknown {
  const code = e instanceof NetworkError ? KDS_CODES[e.code] : undefined;
  if (!code) return e;
  return new NetworkError(code, (e as NetworkError).message, { cause: e, details: (e as NetworkError).details ?? {} });
}

function bad(what: string, f: Fetched, message: string): NetworkError {
  return new NetworkError("KDS_BAD_RESPONSE", `${what}: ${message} (from ${pathOf(f.url)})`, { details: { url: f.url, path: pathOf(f.url) } });
}

async function get<T>(url: string, o: KdsOptions, what: string, decode: (f: Fetched) => { value: T; nextUpdate: number | undefined }): Promise<T> {
  try {
    return await getCached(url, { ...(o.cacheDir !== undefined ? { cacheDir: o.cacheDir } : {}), now: o.now, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxResponseBytes: MAX_KDS_RESPONSE_BYTES, ...(o.fetch ? { fetch: o.fetch } : {}) }, what, (f) => {
      try {
        return decode(f);
      } catch (e) {
        if (e instanceof NetworkError) throw e;
        throw bad(what, f, errorMessage(e));
      }
    });
  } catch (e) {
    throw asKdsError(e);
  }
}

/** The VCEK (DER) of the report's chip at its reported TCB. */
export async function fetchVcek(product: AmdProduct, report: SnpReport, o: KdsOptions): Promise<KdsAnswer> {
  const url = kdsVcekUrl(o.kdsUrl ?? AMD_KDS_URL, product, report);
  const what = `AMD KDS VCEK (${product}, chip ${report.chipId.slice(2, 18)}…)`;
  return get(url, o, what, (f) => {
    const c = parseCertificate(f.body, what);
    if (commonName(c.subject) !== "SEV-VCEK") throw bad(what, f, `the answer's subject is CN=${commonName(c.subject)}, not CN=SEV-VCEK`);
    return { value: { der: f.body, url, fromCache: f.fromCache }, nextUpdate: c.notAfter };
  });
}

/** The product's ASK and ARK (the KDS cert_chain, PEM: ASK then ARK). */
export async function fetchCertChain(product: AmdProduct, o: KdsOptions): Promise<{ ask: Uint8Array; ark: Uint8Array; url: string; fromCache: boolean }> {
  const url = `${normalizeKdsBase(o.kdsUrl ?? AMD_KDS_URL)}/vcek/v1/${product}/cert_chain`;
  const what = `AMD KDS cert_chain (${product})`;
  return get(url, o, what, (f) => {
    const blocks = pemBlocks(new TextDecoder().decode(f.body), what);
    if (blocks.length !== 2) throw bad(what, f, `expected 2 PEM certificates (ASK, ARK), got ${blocks.length}`);
    const [ask, ark] = blocks.map((b, i) => ({ der: b, cert: parseCertificate(b, `${what} certificate ${i + 1}`) }));
    if (commonName(ask!.cert.subject) !== `SEV-${product}` || commonName(ark!.cert.subject) !== `ARK-${product}`) {
      throw bad(what, f, `expected CN=SEV-${product} then CN=ARK-${product}, got CN=${commonName(ask!.cert.subject)}, CN=${commonName(ark!.cert.subject)}`);
    }
    return { value: { ask: ask!.der, ark: ark!.der, url, fromCache: f.fromCache }, nextUpdate: Math.min(ask!.cert.notAfter, ark!.cert.notAfter) };
  });
}

/** The product's CRL (DER, issued by the ARK), cached until its nextUpdate. */
export async function fetchAmdCrl(product: AmdProduct, o: KdsOptions): Promise<KdsAnswer> {
  const url = `${normalizeKdsBase(o.kdsUrl ?? AMD_KDS_URL)}/vcek/v1/${product}/crl`;
  const what = `AMD KDS CRL (${product})`;
  return get(url, o, what, (f) => {
    const crl = parseCrl(f.body, what);
    if (crl.nextUpdate === undefined) throw bad(what, f, "the CRL has no nextUpdate");
    return { value: { der: f.body, url, fromCache: f.fromCache }, nextUpdate: crl.nextUpdate };
  });
}

/** The product of a report: its CPUID (report version 3+) when known, else `fallback`; a usage error when neither tells. */
export function snpProductOf(report: SnpReport, fallback: AmdProduct | undefined): AmdProduct {
  const cpuid = report.cpuid;
  const byCpuid: AmdProduct | undefined = cpuid
    ? cpuid.family === 0x19 && cpuid.model === 0x01
      ? "Milan"
      : cpuid.family === 0x19 && cpuid.model === 0x11
        ? "Genoa"
        : cpuid.family === 0x1a && cpuid.model === 0x02
          ? "Turin"
          : undefined
    : undefined;
  const p = byCpuid ?? fallback;
  if (!p) throw new UsageError(`the SEV-SNP report (version ${report.version}) does not name its product (no known CPUID): pass --amd-product (${AMD_PRODUCTS.join(", ")})`);
  return p;
}

/** Parse `--amd-product`. */
export function parseAmdProduct(v: string): AmdProduct {
  const p = AMD_PRODUCTS.find((x) => x.toLowerCase() === v.toLowerCase());
  if (!p) throw new UsageError(`--amd-product: ${JSON.stringify(v)} is not one of ${AMD_PRODUCTS.join(", ")}`);
  return p;
}

/** True for the errors of a KDS request (for callers that report them as a failed step). */
export function isKdsError(e: unknown): e is KmsRegistryError {
  return e instanceof NetworkError && e.code.startsWith("KDS_");
}
