/**
 * `kms-registry verify-quote <file|-> [--collateral FILE | --pccs URL] [--at UNIX_SECONDS]
 *   [--root-ca FILE] [--accept STATUS,...] [--eventlog FILE] [--allow-sept-ve] [--vcek FILE] [--amd-chain FILE] [--allow-debug]
 *   [--on-chain [RPC_URL] [--verifier ADDR]] [--json]`
 *
 * Read the quote (or the dstack attestation carrying it) and the event log, get the collateral, parse the
 * quote once, verify it and apply the accepted-status policy, replay the event log against its RTMRs, print.
 * A SEV-SNP report (raw or in an attestation) is verified offline with its VCEK (--vcek, or the attestation's
 * cert_chain) and AMD's chain (--amd-chain, else the pinned ARK). Evidence of another platform (a Nitro
 * document, in an attestation or raw) is decoded and reported as not supported yet. With --on-chain the contract
 * verifier runs on the same quote and collateral too, and a disagreement is an error (exit 1).
 */
import { UsageError, firstLine, type ErrorCode } from "../../core/errors.js";
import { oneLine } from "../../core/sanitize.js";
import { QuoteParseError, type Quote } from "../../dcap/quote.js";
import { DEFAULT_ACCEPTED_STATUSES, type Check, type Collateral, type PolicyVerdict, type TcbStatus, type VerificationVerdict, type VerifiedQuote } from "../../dcap/types.js";
import { QuoteVerificationError, verifyQuote } from "../../dcap/verify.js";
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, optFlag, optString, type CommandSpec, type CommandContext } from "../framework.js";
import { verifyNitroDocumentOrThrow, NitroVerificationError, type VerifiedNitroDocument } from "../../dstack/platforms/nitro-verify.js";
import { AMD_KDS_URL, defaultKdsCacheDir, fetchAmdCrl, fetchCertChain, fetchVcek, normalizeKdsBase, parseAmdProduct, snpProductOf } from "../../dstack/platforms/amd-kds.js";
import { AMD_PRODUCTS, type AmdProduct } from "../../dstack/platforms/amd-roots.js";
import { parseSnpReport } from "../../dstack/platforms/sev-snp.js";
import { commonName, parseCertificate } from "../../dcap/x509.js";
import { amdCertificatesFromFile, amdCrlsFromFile, SnpVerificationError, sortAmdCertificates, verifySnpReportOrThrow, type VerifiedSnpReport } from "../../dstack/platforms/sev-snp-verify.js";
import { NO_COLLATERAL_MESSAGE, parseWithCollateral, readRootCaDer, verificationOptionSpecs, verificationOptionsWithoutCollateral } from "../options/verification.js";
import { checksTable, printJson, reportCommandError } from "../output.js";
import { readInputFile, type CliIO } from "../io.js";
import { eventLogJson, readQuoteInput, type QuoteInput } from "../quote-input.js";
import { ON_CHAIN_OPTIONS, onChainHuman, onChainJson, onChainOptions, runOnChain, type OnChainComparison, type OnChainTarget } from "../onchain-verify.js";
import type { VerifierOutcome } from "../../registry/onchain-verify.js";

export const verifyQuoteCommand: CommandSpec = {
  synopsis:
    "<file|-> [--collateral FILE | --pccs URL] [--at UNIX_SECONDS] [--root-ca FILE] [--accept STATUS,...] [--allow-sept-ve] [--vcek FILE] [--amd-chain FILE] [--amd-crl FILE] [--kds | --kds-url URL] [--amd-product NAME] [--allow-debug] [--on-chain [RPC_URL] [--verifier ADDR]] [--json]",
  help: [
    "The quote file may be binary or hex text (with or without 0x, any whitespace); `-` reads standard input.",
    "It may be a TDX/SGX quote, a dstack attestation (V0 SCALE or V1 msgpack; tdx and gcp-tdx verify their TDX",
    "quote), a raw SEV-SNP report or a raw Nitro COSE_Sign1 document. A SEV-SNP report is verified offline with",
    "its VCEK (--vcek FILE, PEM or DER, or the VCEK in the attestation's cert_chain), the ASK of --amd-chain FILE",
    "(AMD's ASK+ARK cert_chain PEM; the ARK must be AMD's pinned one of the product, which is used when absent),",
    "at --at; no collateral is needed (without a VCEK: exit 1, SNP_VCEK_REQUIRED). --kds (or --kds-url URL) fetches",
    "what is missing from AMD's KDS (the VCEK of the report's chip at its reported TCB, the product's cert_chain,",
    "the ARK's CRL), cached on disk while valid; --amd-crl FILE checks the chain against a CRL offline (signed by",
    "the ARK, current at --at, the ASK not revoked). --root-ca FILE replaces AMD's pinned ARK with a test ARK",
    "(NOT GENUINE).",
    "A guest whose policy allows debugging is refused unless --allow-debug. An AWS Nitro Enclave document is",
    "verified offline: its COSE ES384 signature, its cabundle chain to AWS's pinned Nitro Enclaves Root-G1, each",
    "certificate valid at --at (default: the document's own timestamp), and, in a dstack attestation, user_data =",
    "report_data; a debug-mode enclave (PCR0-2 zero) is refused (NITRO_DEBUG_ENCLAVE) unless --allow-debug.",
    "AWS Nitro TPM and unknown platforms are decoded and reported, exit 1 with PLATFORM_NOT_SUPPORTED.",
    "Collateral comes from --collateral FILE (dcap-qvl's QuoteCollateralV3 JSON) or --pccs URL (a PCCS or",
    "Intel PCS; responses are cached on disk until their nextUpdate). Intel's SGX Root CA is pinned; --root-ca",
    "verifies against another root, and the result is then reported as NOT GENUINE.",
    `Exit 0 when the quote is valid and its status is accepted (default ${DEFAULT_ACCEPTED_STATUSES.join(", ")}), 1 when it`,
    "is invalid or its status is not accepted, 2 for usage or input errors.",
    "The TD must have SEPT_VE_DISABLE set (as a dstack KMS must); --allow-sept-ve accepts a TD without it (a TD",
    "that is not a dstack KMS). The result separates Intel's verdict (verification) from this policy (policy).",
    "--on-chain also runs the contract verifier (contracts/dcap/DcapVerifier.sol) on the same quote, collateral",
    "and time: without a URL on an embedded EDR chain (hardfork osaka; needs the hardhat development dependency)",
    "with a verifier deployed under the root the TypeScript verification used (Intel's, or --root-ca); with",
    "RPC_URL through eth_call against the verifier at --verifier ADDR. Both verdicts are printed with the gas",
    "(eth_estimateGas) and whether they agree (accept/reject, status, advisory IDs, FMSPC, failing step); the",
    "exit code is the TypeScript verdict's, and 1 with ONCHAIN_DISAGREEMENT when the two differ.",
  ].join("\n"),
  options: {
    ...verificationOptionSpecs(),
    eventlog: { type: "string", valueName: "FILE", description: "dstack event log (JSON text or its hex): replay RTMR0–3 against the quote" },
    "allow-sept-ve": { type: "boolean", description: "accept a TD whose SEPT_VE_DISABLE attribute is clear (never for a dstack KMS)" },
    vcek: { type: "string", valueName: "FILE", description: "SEV-SNP: the report's VCEK certificate (PEM or DER)" },
    "amd-chain": { type: "string", valueName: "FILE", description: "SEV-SNP: AMD's ASK and ARK certificates (PEM, KDS cert_chain)" },
    kds: { type: "boolean", description: "SEV-SNP: fetch the VCEK, AMD's chain and CRL from AMD's KDS (https://kdsintf.amd.com), cached on disk" },
    "kds-url": { type: "string", valueName: "URL", description: "SEV-SNP: another KDS base URL (implies --kds)" },
    "amd-crl": { type: "string", valueName: "FILE", description: "SEV-SNP: AMD's CRL of the ARK (DER or PEM, KDS /vcek/v1/<product>/crl), checked offline" },
    "amd-product": { type: "string", valueName: "NAME", description: "SEV-SNP: Milan, Genoa or Turin, for a report that does not name its product (version 2) fetched with --kds" },
    "allow-debug": { type: "boolean", description: "SEV-SNP / Nitro: accept a guest whose policy allows debugging, a debug-mode enclave" },
    ...ON_CHAIN_OPTIONS,
  },
  json: true,
  minPositionals: 1,
  // the quote, and with --on-chain an optional RPC_URL
  maxPositionals: 2,
  async run(ctx) {
    try {
      return await runVerifyQuote(ctx);
    } catch (e) {
      // Without --json the framework prints the one-line error. With --json every failure, including
      // unreadable or undecodable input and unusable collateral, has the documented failure shape
      // { ok: false, error: { code, message }, checks } (no step ran yet, so no checks).
      if (!ctx.json) throw e;
      // an undecodable quote met first by the PCCS path (it reads the PCK chain) is still a failed quote.parse
      return reportCommandError(ctx.io, "verify-quote", e, e instanceof QuoteParseError ? [parseFailure(e)] : []);
    }
  },
};

async function runVerifyQuote(ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  // options first: usage errors before any file is read (SEV-SNP options make the collateral optional)
  const vcekPath = optString(ctx, "vcek");
  const amdChainPath = optString(ctx, "amd-chain");
  const amdCrlPath = optString(ctx, "amd-crl");
  const kdsUrlOpt = optString(ctx, "kds-url");
  const kds = optFlag(ctx, "kds") || kdsUrlOpt !== undefined ? normalizeKdsBase(kdsUrlOpt ?? AMD_KDS_URL) : undefined;
  const amdProductOpt = optString(ctx, "amd-product");
  const amdProduct = amdProductOpt !== undefined ? parseAmdProduct(amdProductOpt) : undefined;
  // the collateral is required only once the input turns out to be a TDX/SGX quote (SEV-SNP and Nitro need none)
  const maybeOpts = verificationOptionsWithoutCollateral(ctx);
  const allowSeptVe = optFlag(ctx, "allow-sept-ve");
  const eventLogPath = optString(ctx, "eventlog");
  const { quotePath, target: onChainTarget } = onChainOptions(ctx);
  if (onChainTarget && (vcekPath !== undefined || amdChainPath !== undefined || amdCrlPath !== undefined || kds !== undefined)) {
    throw new UsageError("--on-chain verifies TDX quotes only (not with --vcek / --amd-chain / --amd-crl / --kds)");
  }
  if (onChainTarget && allowSeptVe) throw new UsageError("--on-chain compares with the on-chain verifier, whose TD attribute policy requires SEPT_VE_DISABLE: --allow-sept-ve cannot apply");
  const fromStdin = [
    ["quote", quotePath],
    ["--collateral", maybeOpts.collateral?.kind === "file" ? maybeOpts.collateral.path : undefined],
    ["--root-ca", maybeOpts.rootCaFile],
    ["--eventlog", eventLogPath],
    ["--vcek", vcekPath],
    ["--amd-chain", amdChainPath],
    ["--amd-crl", amdCrlPath],
  ].filter(([, v]) => v === "-");
  if (fromStdin.length > 1) throw new UsageError(`only one input can be read from standard input (-), got ${fromStdin.map(([n]) => n).join(" and ")}`);

  const input = await readQuoteInput(io, quotePath, eventLogPath);
  if (onChainTarget && (input.snp || input.nitro || input.unsupported || input.platform === "sgx")) throw new UsageError(`--on-chain verifies TDX quotes only; the input is ${input.platform}`);
  if (input.snp) return runVerifySnp(ctx, input, input.snp, { vcekPath, amdChainPath, amdCrlPath, kds, amdProduct, now: maybeOpts.now, testArkDer: await readRootCaDer(io, maybeOpts.rootCaFile) });
  if (input.nitro) return runVerifyNitro(ctx, input, input.nitro, { now: optString(ctx, "at") !== undefined ? maybeOpts.now : undefined, rootCaDer: await readRootCaDer(io, maybeOpts.rootCaFile) });
  if (input.unsupported) return reportUnsupported(ctx, input, input.unsupported);
  const collateralSource = maybeOpts.collateral;
  if (!collateralSource) {
    const snpGiven = vcekPath !== undefined || amdChainPath !== undefined || amdCrlPath !== undefined || kds !== undefined;
    throw new UsageError(snpGiven ? `${NO_COLLATERAL_MESSAGE} (--vcek, --amd-chain, --amd-crl and --kds apply to SEV-SNP evidence only; the input is ${input.platform})` : NO_COLLATERAL_MESSAGE);
  }
  const opts = { ...maybeOpts, collateral: collateralSource };
  const rootCaDer = await readRootCaDer(io, opts.rootCaFile);
  const parsed = await parseWithCollateral(io, opts.collateral, input.quote, opts.now);
  if (parsed instanceof QuoteParseError) return reportFailure(ctx, parsed, input, undefined);
  const { quote, collateral } = parsed;

  let r: VerifiedQuote;
  try {
    r = verifyQuote(quote, { collateral, now: opts.now, acceptStatuses: opts.accept, ...(allowSeptVe ? { allowSeptVe: true } : {}), ...(rootCaDer ? { rootCaDer } : {}) });
  } catch (e) {
    // a failed step (exit 1) is reported with the checks so far; anything else (bad options, bad root
    // file) is left to the framework's one-line error
    if (e instanceof QuoteVerificationError) {
      const chain = onChainTarget ? await compareOnChain(ctx, onChainTarget, { ok: false, step: e.checks.at(-1)?.name ?? "?" }, input.quote, collateral, opts.now, rootCaDer) : undefined;
      const code = reportFailure(ctx, e, input, quote, chain);
      return chain && !chain.agree ? reportDisagreement(ctx, chain) : code;
    }
    throw e;
  }
  const chain = onChainTarget ? await compareOnChain(ctx, onChainTarget, { ok: true, status: r.status, advisoryIds: r.advisoryIds, fmspc: String(r.pck.fmspc) }, input.quote, collateral, opts.now, rootCaDer) : undefined;
  if (!r.genuine) {
    io.stderr(`NOT GENUINE: verified against a non-Intel root CA (--root-ca ${opts.rootCaFile ?? "?"}); this result says nothing about real Intel hardware\n`);
  }
  const eventlog = eventLogJson(input, quote);
  const rtmrsOk = eventlog === null || eventlog.rtmrsMatch === true;
  if (ctx.json) printJson(io, { ...verifyResultJson(r, r.accepted && rtmrsOk, input.platform), ...(input.attestation ? { attestation: input.attestation } : {}), ...(eventlog ? { eventlog } : {}), ...(chain ? onChainJson(chain) : {}) });
  else
    io.stdout(
      renderHuman(r, opts.accept) + (eventlog ? `\nevent log (${String(eventlog.source)}): RTMR0–3 ${rtmrsOk ? "match the quote" : "DO NOT match the quote"}\n` : "") + tpmQuoteLine(input) + (chain ? onChainHuman(chain, chain.ts) : ""),
    );
  if (!r.accepted) io.stderr(`kms-registry: verify-quote: TCB status ${r.status} is not accepted (accepted: ${opts.accept.join(", ")})\n`);
  if (!rtmrsOk) io.stderr("kms-registry: verify-quote: the event log does not replay to the quote's RTMRs\n");
  if (chain && !chain.agree) return reportDisagreement(ctx, chain);
  return r.accepted && rtmrsOk ? EXIT_OK : EXIT_FAIL;
}

/** The on-chain verifier on the quote the TypeScript one verified, with its progress on stderr. */
async function compareOnChain(
  ctx: CommandContext,
  target: OnChainTarget,
  ts: VerifierOutcome,
  quote: Uint8Array,
  collateral: Collateral,
  now: number,
  rootCaDer: Uint8Array | undefined,
): Promise<OnChainComparison & { ts: VerifierOutcome }> {
  if (!ctx.json) ctx.io.stderr(target.kind === "embedded" ? "verify-quote: starting an embedded chain and deploying the on-chain verifier…\n" : "verify-quote: calling the on-chain verifier…\n");
  return { ...(await runOnChain(target, ts, quote, collateral, now, rootCaDer)), ts };
}

const DISAGREEMENT_CODE: ErrorCode = "ONCHAIN_DISAGREEMENT";

/** The two verifiers disagree: a named error on stderr, exit 1 whatever the TypeScript verdict was. */
function reportDisagreement(ctx: CommandContext, chain: OnChainComparison): number {
  ctx.io.stderr(`kms-registry: verify-quote: ${DISAGREEMENT_CODE}: the on-chain verifier and the TypeScript verifier disagree: ${firstLine(chain.differences.join("; "))}\n`);
  return EXIT_FAIL;
}

/** A GCP TDX attestation's TPM quote is reported, not verified. */
function tpmQuoteLine(input: QuoteInput): string {
  const tpm = input.attestation?.tpmQuote as { present: boolean } | undefined;
  if (input.platform !== "gcp-tdx" || !tpm) return "";
  return tpm.present ? "\ngcp-tdx: the attestation carries a TPM quote; it was not verified (only the TDX quote is)\n" : "\ngcp-tdx: the attestation carries no TPM quote\n";
}

/**
 * Evidence of a platform whose verification is not supported yet (SEV-SNP, Nitro, an unknown V1 kind):
 * what it is and its decoded fields, exit 1 with PLATFORM_NOT_SUPPORTED.
 */
function reportUnsupported(ctx: CommandContext, input: QuoteInput, unsupported: NonNullable<QuoteInput["unsupported"]>): number {
  const { io } = ctx;
  const { error, report } = unsupported;
  if (ctx.json) {
    printJson(io, { ok: false, platform: input.platform, error: { code: error.code, message: error.message }, checks: [], ...(input.attestation ? { attestation: input.attestation } : {}), report });
  } else {
    const rows = Object.entries(report).filter(([, v]) => v === null || typeof v !== "object");
    const width = Math.max(...rows.map(([k]) => k.length), "platform".length);
    const lines = [`NOT VERIFIED: ${error.code} — ${oneLine(error.message)}`, "", `${"platform".padEnd(width)}  ${oneLine(input.platform)}`, ...rows.map(([k, v]) => `${k.padEnd(width)}  ${oneLine(String(v))}`)];
    io.stdout(lines.join("\n") + "\n");
  }
  io.stderr(`kms-registry: verify-quote: ${oneLine(firstLine(error.message))}\n`);
  return EXIT_FAIL;
}

function parseFailure(e: QuoteParseError): Check {
  return { name: "quote.parse", ok: false, detail: e.message };
}

/**
 * An undecodable quote (exit 2) or one that failed a verification step or the policy (exit 1), reported with
 * the checks so far; after the quote parsed also what was attested, Intel's verdict apart from the policy's,
 * and whether the event log replays to the (unverified) quote.
 */
function reportFailure(ctx: CommandContext, e: QuoteVerificationError | QuoteParseError, input: QuoteInput, quote: Quote | undefined, chain?: OnChainComparison & { ts: VerifierOutcome }): number {
  const { io } = ctx;
  const failed = e instanceof QuoteVerificationError ? e : null;
  const checks = e instanceof QuoteVerificationError ? e.checks : [parseFailure(e)];
  const error = { code: e.code, message: e.message };
  const eventlog = failed && quote ? eventLogOfUnverified(input, quote) : null;
  const attested = failed?.verification
    ? { ...(failed.report ? { report: failed.report } : {}), ...(failed.pck ? { pck: failed.pck } : {}), verification: failed.verification, policy: failed.policy ?? null }
    : {};
  if (ctx.json) printJson(io, { ok: false, platform: input.platform, error, checks, ...attested, ...(eventlog ? { eventlog } : {}), ...(chain ? onChainJson(chain) : {}) });
  else {
    const byPolicy = failed?.verification?.ok === true && failed.policy ? renderPolicyRefusal(error.code, failed.verification, failed.policy, checks) : null;
    const eventlogLine = eventlog ? `\nevent log (${String(eventlog.source)}): RTMR0–3 ${eventlog.rtmrsMatch === true ? "match" : "DO NOT match"} the (unverified) quote\n` : "";
    io.stdout((byPolicy ?? `INVALID: ${error.code}\n\n${checksTable(checks)}`) + eventlogLine + (chain ? onChainHuman(chain, chain.ts) : ""));
  }
  io.stderr(`kms-registry: verify-quote: ${oneLine(firstLine(error.message))}\n`);
  return failed ? EXIT_FAIL : EXIT_USAGE;
}

/** The event log replayed against a quote that failed verification; null when it cannot be replayed. */
function eventLogOfUnverified(input: QuoteInput, quote: Quote): Record<string, unknown> | null {
  try {
    return eventLogJson(input, quote);
  } catch {
    return null;
  }
}

/** The `--json` document of a successful verification (keys as documented in the README). */
function verifyResultJson(r: VerifiedQuote, accepted: boolean, platform: string): Record<string, unknown> {
  return {
    ok: true,
    platform,
    accepted,
    status: r.status,
    advisoryIds: r.advisoryIds,
    genuine: r.genuine,
    warnings: r.warnings,
    checks: r.checks,
    report: r.report,
    pck: r.pck,
    collateral: r.collateral,
    verification: r.verification,
    policy: r.policy,
  };
}

/** The verdict when Intel's rules passed but a report rule of the policy refused the quote. */
function renderPolicyRefusal(code: string, verification: VerificationVerdict, policy: PolicyVerdict, checks: Check[]): string {
  const adv = verification.advisoryIds.length ? ` [${verification.advisoryIds.join(", ")}]` : "";
  const refused = policy.rules.find((x) => !x.ok && x.name !== "tcb.status") ?? policy.rules.find((x) => !x.ok);
  const hint = refused?.name === "td.sept-ve-disable" ? " (--allow-sept-ve accepts it for a TD that is not a dstack KMS)" : "";
  return [
    `REJECTED BY POLICY: ${code} — Intel's verification passed (${String(verification.status)}${adv}${verification.genuine ? "" : "; NOT GENUINE: non-Intel root CA"}), but ${refused ? `${refused.name}: ${refused.detail}` : "a policy rule refused the quote"}${hint}`,
    "",
    checksTable(checks),
    "",
    checksTable(policy.rules, "policy rule"),
  ].join("\n");
}

function renderHuman(r: VerifiedQuote, accept: readonly TcbStatus[]): string {
  const adv = r.advisoryIds.length ? ` [${r.advisoryIds.join(", ")}]` : "";
  const what = `${r.report.type} quote, FMSPC ${String(r.pck.fmspc).slice(2).toUpperCase()}`;
  // a result under a non-Intel root says so in the verdict itself, not only in a warning
  const valid = r.genuine ? "VALID" : "VALID (NOT GENUINE: non-Intel root CA)";
  const verdict = r.accepted
    ? `${valid}: ${r.status}${adv} — accepted (${what})`
    : `${valid} but NOT ACCEPTED: ${r.status}${adv} is not one of ${accept.join(", ")} (${what})`;
  const lines = [verdict, ...r.warnings.map((w) => `warning: ${w}`), "", checksTable(r.checks)];
  return lines.join("\n");
}

/**
 * SEV-SNP evidence: the VCEK from --vcek (else from the attestation's cert_chain, else from the KDS with --kds),
 * the ASK (and ARK) from --amd-chain (else the cert_chain, else the KDS), the ARK's CRL from --amd-crl (else
 * the KDS with --kds), verified offline (`verifySnpReportOrThrow`) at `now`. Without a VCEK: exit 1 with
 * SNP_VCEK_REQUIRED and the decoded report.
 */
async function runVerifySnp(
  ctx: CommandContext,
  input: QuoteInput,
  snp: NonNullable<QuoteInput["snp"]>,
  o: { vcekPath: string | undefined; amdChainPath: string | undefined; amdCrlPath: string | undefined; kds: string | undefined; amdProduct: AmdProduct | undefined; now: number; testArkDer: Uint8Array | undefined },
): Promise<number> {
  const { io } = ctx;
  const carried = snp.certChain.length ? sortAmdCertificates(snp.certChain.flatMap((c, i) => amdCertificatesFromFile(c, `the attestation's cert_chain ${i}`)), "the attestation's cert_chain") : {};
  const given = o.vcekPath !== undefined ? sortAmdCertificates(await readAmdFile(io, o.vcekPath, "VCEK file", "vcek"), `VCEK file ${JSON.stringify(o.vcekPath)}`) : {};
  const chain = o.amdChainPath !== undefined ? sortAmdCertificates(await readAmdFile(io, o.amdChainPath, "AMD chain file", "amdChain"), `AMD chain file ${JSON.stringify(o.amdChainPath)}`) : {};
  const crlFile = o.amdCrlPath !== undefined ? amdCrlsFromFile(await readInputFile(io, o.amdCrlPath, "AMD CRL file", "amdCrl"), `AMD CRL file ${JSON.stringify(o.amdCrlPath)}`) : undefined;
  if (o.vcekPath !== undefined && !given.vcek) throw new UsageError(`--vcek ${o.vcekPath}: the file holds no VCEK (a certificate with subject CN=SEV-VCEK)`);
  let vcekDer = given.vcek ?? carried.vcek;
  let askDer = chain.ask ?? given.ask ?? carried.ask;
  let arkDer = chain.ark ?? given.ark ?? carried.ark;
  let crlDers = crlFile;
  const fetched: Record<string, { url: string; fromCache: boolean }> = {};
  if (o.kds !== undefined) {
    const report = parseSnpReport(snp.report);
    const product = snpProductOf(report, o.amdProduct ?? productOfChain(askDer ?? arkDer));
    const kdsOpts = { kdsUrl: o.kds, cacheDir: defaultKdsCacheDir(io.env), now: o.now };
    if (!vcekDer) {
      const v = await fetchVcek(product, report, kdsOpts);
      vcekDer = v.der;
      fetched.vcek = { url: v.url, fromCache: v.fromCache };
    }
    if (!askDer) {
      const c = await fetchCertChain(product, kdsOpts);
      askDer = c.ask;
      arkDer = c.ark;
      fetched.certChain = { url: c.url, fromCache: c.fromCache };
    }
    if (!crlDers) {
      const c = await fetchAmdCrl(product, kdsOpts);
      crlDers = [c.der];
      fetched.crl = { url: c.url, fromCache: c.fromCache };
    }
  }
  if (!vcekDer) {
    const error = new SnpVerificationError(
      "SNP_VCEK_REQUIRED",
      `the input is a sev-snp ${input.attestation ? "attestation" : "report"} without its VCEK: verifying it offline needs --vcek FILE, or --kds to fetch it from AMD's KDS (https://kdsintf.amd.com/vcek/v1/<product>/<chip_id>?blSPL=…)`,
      [],
    );
    return reportUnsupported(ctx, input, { report: input.unsupported!.report, error });
  }
  const kdsJson = Object.keys(fetched).length ? { kds: { url: o.kds, ...fetched } } : {};
  let r: VerifiedSnpReport;
  try {
    r = verifySnpReportOrThrow(snp.report, { vcekDer, now: o.now, ...(askDer ? { askDer } : {}), ...(arkDer ? { arkDer } : {}), ...(crlDers ? { crlDers } : {}), ...(o.testArkDer ? { testArkDer: o.testArkDer } : {}), allowDebug: optFlag(ctx, "allow-debug") });
  } catch (e) {
    if (!(e instanceof SnpVerificationError)) throw e;
    const error = { code: e.code, message: e.message };
    if (ctx.json) printJson(io, { ok: false, platform: "sev-snp", error, checks: e.checks, ...(e.report ? { report: e.report } : {}), verification: e.verification ?? null, policy: e.policy ?? null, ...(input.attestation ? { attestation: input.attestation } : {}), ...kdsJson });
    else io.stdout(`${e.code === "SNP_POLICY_REFUSED" ? "REJECTED BY POLICY" : "INVALID"}: ${e.code}\n\n${checksTable(e.checks)}${e.policy ? `\n\n${checksTable(e.policy.rules, "policy rule")}` : ""}\n`);
    io.stderr(`kms-registry: verify-quote: ${oneLine(firstLine(e.message))}\n`);
    return EXIT_FAIL;
  }
  if (!r.genuine) io.stderr(`NOT GENUINE: verified against a test ARK (--root-ca), not AMD's pinned ARK-${r.product}; this says nothing about real AMD hardware\n`);
  if (ctx.json) {
    printJson(io, { ok: true, platform: "sev-snp", product: r.product, genuine: r.genuine, checks: r.verification.checks, verification: r.verification, policy: r.policy, report: r.report, vcek: r.vcek, crl: r.crl, ...(input.attestation ? { attestation: input.attestation } : {}), ...kdsJson });
  } else {
    const rep = r.report;
    const revocation = r.crl ? `revocation checked against AMD's CRL (next update ${r.crl.nextUpdate})` : "revocation NOT checked: no CRL (--amd-crl FILE or --kds)";
    const lines = [
      `VALID${r.genuine ? "" : " (NOT GENUINE: test ARK)"}: SEV-SNP report (${r.product}) signed by its VCEK, chained to ${r.genuine ? "AMD's pinned" : "the test"} ARK-${r.product}; ${revocation}; accepted by the guest policy`,
      "",
      checksTable(r.verification.checks),
      "",
      checksTable(r.policy.rules, "policy rule"),
      "",
      ...["measurement", "hostData", "reportData", "chipId", "reportedTcb", "policy", "version", "vmpl"].map((k) => `${k.padEnd(12)}  ${String(rep[k])}`),
      ...Object.entries(fetched).map(([k, f]) => `kds ${k.padEnd(8)}  ${f.fromCache ? "(cached) " : ""}${f.url}`),
    ];
    io.stdout(lines.join("\n") + "\n");
  }
  return EXIT_OK;
}

/** The product an ASK or ARK names (CN=SEV-<product> / ARK-<product>), if any. */
function productOfChain(der: Uint8Array | undefined): AmdProduct | undefined {
  if (!der) return undefined;
  const cn = commonName(parseCertificate(der, "AMD certificate").subject).replace(/^(SEV|ARK)-/, "");
  return (AMD_PRODUCTS as readonly string[]).includes(cn) ? (cn as AmdProduct) : undefined;
}

/** The certificates of a VCEK or AMD chain file (PEM or DER), read with its size cap. */
async function readAmdFile(io: CliIO, path: string, what: string, kind: "vcek" | "amdChain"): Promise<Uint8Array[]> {
  return amdCertificatesFromFile(await readInputFile(io, path, what, kind), `${what} ${JSON.stringify(path)}`);
}

/**
 * AWS Nitro Enclave evidence, verified offline (`verifyNitroDocumentOrThrow`) at --at or at the document's
 * timestamp; from a dstack attestation also user_data = report_data and the config's os_image_hash.
 */
async function runVerifyNitro(
  ctx: CommandContext,
  input: QuoteInput,
  nitro: NonNullable<QuoteInput["nitro"]>,
  o: { now: number | undefined; rootCaDer: Uint8Array | undefined },
): Promise<number> {
  const { io } = ctx;
  let r: VerifiedNitroDocument;
  try {
    r = verifyNitroDocumentOrThrow(nitro.document, {
      ...(o.now !== undefined ? { now: o.now } : {}),
      ...(o.rootCaDer ? { rootDer: o.rootCaDer } : {}),
      ...(nitro.reportData ? { expectedUserData: nitro.reportData } : {}),
      ...(nitro.configOsImageHash !== undefined ? { configOsImageHash: nitro.configOsImageHash } : {}),
      allowDebug: optFlag(ctx, "allow-debug"),
    });
  } catch (e) {
    if (!(e instanceof NitroVerificationError)) throw e;
    const error = { code: e.code, message: e.message };
    if (ctx.json) printJson(io, { ok: false, platform: input.platform, error, checks: e.checks, ...(e.report ? { report: e.report } : {}), verification: e.verification ?? null, policy: e.policy ?? null, ...(input.attestation ? { attestation: input.attestation } : {}) });
    else io.stdout(`${e.policy ? "REJECTED BY POLICY" : "INVALID"}: ${e.code}\n\n${checksTable(e.checks)}${e.policy ? `\n\n${checksTable(e.policy.rules, "policy rule")}` : ""}\n`);
    io.stderr(`kms-registry: verify-quote: ${oneLine(firstLine(e.message))}\n`);
    return EXIT_FAIL;
  }
  if (!r.genuine) io.stderr("NOT GENUINE: verified against a root other than AWS's Nitro Enclaves Root-G1 (--root-ca); this says nothing about real AWS hardware\n");
  if (ctx.json) {
    printJson(io, { ok: true, platform: "nitro-enclave", genuine: r.genuine, at: r.at, atSource: r.atSource, checks: r.verification.checks, verification: r.verification, policy: r.policy, report: r.report, ...(input.attestation ? { attestation: input.attestation } : {}) });
  } else {
    const rep = r.report;
    const lines = [
      `VALID${r.genuine ? "" : " (NOT GENUINE: non-AWS root)"}: AWS Nitro Enclave attestation document signed by its certificate, chained to ${r.genuine ? "AWS's pinned Nitro Enclaves Root-G1" : "the given root"}, verified at ${new Date(r.at * 1000).toISOString()} (${r.atSource === "now" ? "--at" : "the document's timestamp"}); accepted by the policy (AWS's CRLs were not checked)`,
      "",
      checksTable(r.verification.checks),
      "",
      checksTable(r.policy.rules, "policy rule"),
      "",
      ...["moduleId", "digest", "timestamp", "pcr0", "pcr1", "pcr2", "osImageHash", "userData", "nonce", "publicKey"].map((k) => `${k.padEnd(12)}  ${oneLine(String(rep[k]))}`),
    ];
    io.stdout(lines.join("\n") + "\n");
  }
  return EXIT_OK;
}
