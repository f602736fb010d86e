/**
 * The quote-verification options of `verify-quote`, `verify`, `publish` and `audit --reverify`: where the
 * collateral comes from (`--collateral FILE` or `--pccs URL`), the verification time (`--at`), the trust root
 * (`--root-ca FILE`, Intel's by default) and the accepted TCB statuses (`--accept`). `verificationOptions`
 * parses them once, before any input is read; the root CA file and the collateral are read later, when the
 * command gets to them (`readRootCaDer`, `loadCollateral`, `parseWithCollateral`).
 */
import { UsageError } from "../../core/errors.js";
import { parseCollateralJson } from "../../dcap/collateral.js";
import { defaultCollateralCacheDir } from "../../dcap/pccs/cache.js";
import { normalizePccsBase } from "../../dcap/pccs/client.js";
import { fetchCollateral } from "../../dcap/pccs/fetch-collateral.js";
import { QuoteParseError, parseQuote, type Quote } from "../../dcap/quote.js";
import { parseAcceptedStatuses } from "../../dcap/tcb-policy.js";
import { DEFAULT_ACCEPTED_STATUSES, type Collateral, type TcbStatus } from "../../dcap/types.js";
import { certificateDerFromFile } from "../../dcap/x509.js";
import { nowOption, optString, type CommandContext, type OptionSpec } from "../framework.js";
import { readInputFile, type CliIO } from "../io.js";

export const NO_COLLATERAL_MESSAGE =
  "no collateral was supplied: pass --collateral FILE (a JSON file in dcap-qvl's QuoteCollateralV3 layout) or --pccs URL (a PCCS or Intel PCS base URL, e.g. https://api.trustedservices.intel.com)";

/** The options of the group; `context` (e.g. " for --reverify") is appended to each description. */
export function verificationOptionSpecs(context = ""): Record<string, OptionSpec> {
  return {
    collateral: { type: "string", valueName: "FILE", description: `collateral JSON (dcap-qvl QuoteCollateralV3 layout)${context}` },
    pccs: { type: "string", valueName: "URL", description: `fetch collateral from a PCCS / Intel PCS base URL${context}` },
    at: { type: "string", valueName: "UNIX_SECONDS", description: `verification time (default: now)${context}` },
    "root-ca": {
      type: "string",
      valueName: "FILE",
      description: `trust this root CA (PEM or DER) instead of Intel's; result is NOT GENUINE${context}`,
    },
    accept: { type: "string", valueName: "STATUS,...", description: `accepted TCB statuses (default ${DEFAULT_ACCEPTED_STATUSES.join(",")})${context}` },
  };
}

export type CollateralSource = { kind: "file"; path: string } | { kind: "pccs"; url: string };

export interface VerificationOptions {
  collateral: CollateralSource;
  /** The verification time, unix seconds. */
  now: number;
  accept: TcbStatus[];
  /** `--root-ca FILE`, read by `readRootCaDer`; undefined: Intel's pinned root. */
  rootCaFile: string | undefined;
}

/** Parse the group; `UsageError` for a missing or doubled collateral source, a bad time or status list. */
export function verificationOptions(ctx: CommandContext): VerificationOptions {
  return { collateral: collateralSource(ctx), now: nowOption(ctx), accept: acceptedStatuses(ctx), rootCaFile: optString(ctx, "root-ca") };
}

/**
 * The group without its collateral requirement (`collateral` undefined when neither --collateral nor --pccs
 * was given): for an input that may need no collateral (SEV-SNP evidence verified with its VCEK).
 */
export function verificationOptionsWithoutCollateral(ctx: CommandContext): Omit<VerificationOptions, "collateral"> & { collateral: CollateralSource | undefined } {
  const given = optString(ctx, "collateral") !== undefined || optString(ctx, "pccs") !== undefined;
  return { collateral: given ? collateralSource(ctx) : undefined, now: nowOption(ctx), accept: acceptedStatuses(ctx), rootCaFile: optString(ctx, "root-ca") };
}

/** The options of the group that were given (for a command that takes them only with another flag). */
export function givenVerificationOptions(ctx: CommandContext): string[] {
  return Object.keys(verificationOptionSpecs()).filter((o) => optString(ctx, o) !== undefined);
}

function collateralSource(ctx: CommandContext): CollateralSource {
  const file = optString(ctx, "collateral");
  const pccs = optString(ctx, "pccs");
  if (file !== undefined && pccs !== undefined) throw new UsageError("give either --collateral FILE or --pccs URL, not both");
  if (file !== undefined) return { kind: "file", path: file };
  if (pccs !== undefined) return { kind: "pccs", url: pccs };
  throw new UsageError(NO_COLLATERAL_MESSAGE);
}

function acceptedStatuses(ctx: CommandContext): TcbStatus[] {
  return parseAcceptedStatuses(optString(ctx, "accept"), "--accept");
}

/** The `--root-ca` certificate as DER (the file may be PEM or DER), or undefined for Intel's root. */
export async function readRootCaDer(io: CliIO, file: string | undefined): Promise<Uint8Array | undefined> {
  if (file === undefined) return undefined;
  return certificateDerFromFile(await readInputFile(io, file, "root CA file", "certificate"), `root CA file ${JSON.stringify(file)}`);
}

/** The collateral of a `--collateral` file. */
export async function readCollateralFile(io: CliIO, path: string): Promise<Collateral> {
  return parseCollateralJson(new TextDecoder().decode(await readInputFile(io, path, "collateral file", "collateral")));
}

/** The collateral for `quote`: the file's, or fetched from the PCCS (cached on disk until its nextUpdate). */
export async function loadCollateral(io: CliIO, src: CollateralSource, quote: Uint8Array | Quote, now: number): Promise<Collateral> {
  if (src.kind === "file") return readCollateralFile(io, src.path);
  return fetchCollateral(quote, { pccsUrl: src.url, cacheDir: defaultCollateralCacheDir(io.env), now });
}

/**
 * The quote, parsed once, and its collateral. The collateral file is read first (or `fileCollateral` used, when
 * the caller read it already), and an undecodable quote is then returned as its `QuoteParseError`: a failed
 * verification of this quote. The PCCS is asked with the parsed quote (its certification data names what to
 * fetch), so there a bad URL and then an undecodable quote are thrown before any request.
 */
export async function parseWithCollateral(
  io: CliIO,
  src: CollateralSource,
  quoteBytes: Uint8Array,
  now: number,
  fileCollateral?: Collateral,
): Promise<{ quote: Quote; collateral: Collateral } | QuoteParseError> {
  if (src.kind === "pccs") {
    normalizePccsBase(src.url); // a bad --pccs URL is a usage error before the quote is looked at
    const quote = parseQuote(quoteBytes);
    return { quote, collateral: await loadCollateral(io, src, quote, now) };
  }
  const collateral = fileCollateral ?? (await readCollateralFile(io, src.path));
  try {
    return { quote: parseQuote(quoteBytes), collateral };
  } catch (e) {
    if (e instanceof QuoteParseError) return e;
    throw e;
  }
}
