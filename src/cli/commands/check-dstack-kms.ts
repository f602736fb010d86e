/**
 * `kms-registry check-dstack-kms --contract ADDR --rpc URL [--collateral FILE | --pccs URL] [--at N]
 *   [--root-ca FILE] [--accept STATUS,...] [--allow-debug] [--expect FILE] [--kds | --kds-url URL] [--amd-crl FILE]
 *   [--from-block N] [--range BLOCKS] [--json]`
 *
 * Checks the KMS record of a dstack `DstackKms` contract: verifies `kmsInfo()` as `verify` does, looks the KMS's
 * measurements up in the contract's allow-lists and replays the contract's history. Exit 0 when every check
 * passes, 1 when one fails, 2 for bad input (options, files, an address that is not a DstackKms contract).
 */
import { UsageError } from "../../core/errors.js";
import { oneLine } from "../../core/sanitize.js";
import { defaultCollateralCacheDir } from "../../dcap/pccs/cache.js";
import { AMD_KDS_URL, defaultKdsCacheDir, normalizeKdsBase } from "../../dstack/platforms/amd-kds.js";
import { amdCrlsFromFile } from "../../dstack/platforms/sev-snp-verify.js";
import { connect, parseAddress } from "../../registry/connect.js";
import type { ScanProgress } from "../../registry/logs.js";
import { checkDstackKms, type DstackKmsReport } from "../../workflows/check-dstack-kms.js";
import { EXIT_FAIL, EXIT_OK, optFlag, optInteger, optString, requireString, type CommandSpec } from "../framework.js";
import { readInputFile, type CliIO } from "../io.js";
import { EXPECT_OPTION, readExpectPolicy } from "../options/expect.js";
import { RPC_OPTION, rpcUrl } from "../options/registry.js";
import { readCollateralFile, readRootCaDer, verificationOptionSpecs, verificationOptionsWithoutCollateral } from "../options/verification.js";
import { printJson, table } from "../output.js";

export const checkDstackKmsCommand: CommandSpec = {
  synopsis:
    "--contract ADDR --rpc URL [--collateral FILE | --pccs URL] [--at N] [--root-ca FILE] [--accept STATUS,...] [--allow-debug] [--expect FILE] [--kds | --kds-url URL] [--amd-crl FILE] [--from-block N] [--range BLOCKS] [--json]",
  help: [
    "Checks the KMS record of a dstack DstackKms contract (dstack's own on-chain KMS record, written by its owner).",
    "Reads kmsInfo() → (k256Pubkey, caPubkey, quote, eventlog) at the chain head and verifies it as `verify` does:",
    "the TDX quote (or the dstack attestation in the quote field: TDX, GCP TDX, SEV-SNP, AWS Nitro Enclave), the",
    "report_data binding of the two keys, the event-log replay. A TDX record needs --collateral or --pccs; an SEV-SNP",
    "one its VCEK (cert_chain, else --kds) and optionally --amd-crl; --root-ca is the test root of whichever platform",
    "the record is of (NOT GENUINE). Computes the KMS's mr_aggregated, os_image_hash and device_id as dstack does and looks each",
    "up in the contract's kmsAllowedAggregatedMrs, allowedOsImages and kmsAllowedDeviceIds, and asks its",
    "isKmsAllowed. Replays the contract's KmsInfoSet, allow-list, ownership and upgrade events (block, time,",
    "transaction, sender) and compares the record with what the last KmsInfoSet announced: setKmsQuote and",
    "setKmsEventlog change the evidence without any event (finding EVIDENCE_CHANGED_WITHOUT_EVENT, located when",
    "the node serves historical state). --expect FILE applies a measurement policy as `verify` does.",
    "--from-block defaults to the contract's deployment block (found by binary search), else 0.",
    "Exit 0 when every check passes, 1 when one fails, 2 for bad input.",
  ].join("\n"),
  options: {
    contract: { type: "string", valueName: "ADDR", description: "the DstackKms contract (its proxy) address" },
    ...RPC_OPTION,
    ...verificationOptionSpecs(),
    "allow-debug": { type: "boolean", description: "accept a DEBUG TD, a debug SEV-SNP guest or a debug-mode Nitro enclave (never for production)" },
    kds: { type: "boolean", description: "SEV-SNP: fetch the VCEK, chain and CRL the attestation does not carry from AMD's KDS (cached on disk)" },
    "kds-url": { type: "string", valueName: "URL", description: "SEV-SNP: another KDS base URL (implies --kds)" },
    "amd-crl": { type: "string", valueName: "FILE", description: "SEV-SNP: AMD's CRL of the ARK (DER or PEM), checked offline" },
    ...EXPECT_OPTION,
    "from-block": { type: "string", valueName: "N", description: "first block of the history (default: the deployment block)" },
    range: { type: "string", valueName: "BLOCKS", description: "initial eth_getLogs range (default 10000)" },
  },
  json: true,
  async run(ctx) {
    const { io } = ctx;
    const contract = parseAddress(requireString(ctx, "contract"), "--contract");
    const rpc = rpcUrl(ctx);
    // collateral is needed only for a TDX record; without it a TDX record fails quote.verified (NO_COLLATERAL)
    const opts = verificationOptionsWithoutCollateral(ctx);
    const fromBlock = optInteger(ctx, "from-block", { min: 0 });
    const range = optInteger(ctx, "range", { min: 1 });
    const rootCaDer = await readRootCaDer(io, opts.rootCaFile);
    const policy = await readExpectPolicy(ctx);
    const collateral = opts.collateral?.kind === "file" ? await readCollateralFile(io, opts.collateral.path) : null;
    const kdsUrl = optString(ctx, "kds-url");
    const kds = optFlag(ctx, "kds") || kdsUrl !== undefined ? { url: normalizeKdsBase(kdsUrl ?? AMD_KDS_URL), cacheDir: defaultKdsCacheDir(io.env) } : undefined;
    const crlPath = optString(ctx, "amd-crl");
    const amdCrlDers = crlPath !== undefined ? amdCrlsFromFile(await readInputFile(io, crlPath, "AMD CRL file", "amdCrl"), `AMD CRL file ${JSON.stringify(crlPath)}`) : undefined;
    const conn = await connect(rpc);
    if (fromBlock !== undefined) {
      const head = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
      if (BigInt(fromBlock) > head) throw new UsageError(`--from-block ${fromBlock} is past the chain head (block ${head})`);
    }
    const report = await checkDstackKms({
      publicClient: conn.publicClient,
      contract,
      ...(fromBlock !== undefined ? { fromBlock: BigInt(fromBlock) } : {}),
      ...(range !== undefined ? { initialRange: BigInt(range) } : {}),
      onProgress: progressLines(io),
      verify: {
        collateral,
        ...(opts.collateral?.kind === "pccs" ? { pccsUrl: opts.collateral.url, pccsCacheDir: defaultCollateralCacheDir(io.env) } : {}),
        now: opts.now,
        // --root-ca is the test root of whichever platform the record is of
        ...(rootCaDer ? { rootCaDer, nitroRootDer: rootCaDer, snpTestArkDer: rootCaDer } : {}),
        ...(kds ? { kds } : {}),
        ...(amdCrlDers ? { amdCrlDers } : {}),
        acceptedStatuses: opts.accept,
        ...(optFlag(ctx, "allow-debug") ? { allowDebug: true } : {}),
        ...(policy ? { policy } : {}),
      },
    });
    if (ctx.json) printJson(io, report);
    else printReport(io, report);
    if (!report.ok) io.stderr(`kms-registry: check-dstack-kms: FAIL: failed ${report.failed.join(", ")}\n`);
    else if (!report.genuine) io.stderr(`NOT GENUINE: the ${report.platform} evidence was verified against a test root (--root-ca), not its vendor's; this says nothing about real hardware\n`);
    return report.ok ? EXIT_OK : EXIT_FAIL;
  },
};

/** The history scan's progress on stderr, at most once a second (a long scan of a hosted chain's history). */
function progressLines(io: CliIO): (p: ScanProgress) => void {
  const started = Date.now();
  let lastPrint = started;
  return (p) => {
    const t = Date.now();
    if (t - lastPrint < 1000) return;
    lastPrint = t;
    io.stderr(`[check-dstack-kms] history: scanned blocks ${p.fromBlock}…${p.scannedTo} of ${p.toBlock} (${p.logs} logs, ${p.requests} requests)\n`);
  };
}

const time = (t: number | undefined) => (t === undefined ? "-" : new Date(t * 1000).toISOString().replace(".000Z", "Z"));

function printReport(io: CliIO, r: DstackKmsReport): void {
  io.stdout(`${r.verdict}${r.ok && !r.genuine ? ` (NOT GENUINE: ${r.platform} evidence under a test root)` : ""}\n\n`);
  io.stdout(
    table([
      ["contract", `${r.contract} on chain ${r.chainId}, read at block ${r.block}`],
      ["owner", r.owner ?? "- (no owner())"],
      ["implementation", r.implementation ?? "- (not an ERC-1967 proxy)"],
      ["KMS address", r.record.kmsAddress ?? "-"],
      ["k256Pubkey", r.record.k256Pubkey],
      ["platform", r.platform],
      ["quote", `${r.record.quoteBytes} bytes (${r.record.quoteKind})`],
      ["eventlog", `${r.record.eventlogBytes} bytes`],
    ]),
  );
  io.stdout("\n" + table(r.checks.map((c) => [c.ok ? "✓" : "✗", c.name, c.detail])));
  if (r.allowLists.length) {
    io.stdout("\nAllow-lists\n" + table(r.allowLists.map((a) => [a.list, a.value ?? (a.applicable ? "not measured" : "not applicable"), a.allowed === null ? "-" : a.allowed ? "allowed" : "NOT allowed", a.lastChange ? `${a.lastChange.event} @${a.lastChange.block} by ${a.lastChange.from ?? "?"}` : "-"]), ["list", "value", "state", "last change"]));
  }
  io.stdout(`\nHistory (blocks ${r.history.fromBlock}…${r.history.toBlock}, ${r.history.events.length} events)\n`);
  if (r.history.events.length) {
    io.stdout(table(r.history.events.map((e) => [String(e.block), time(e.timestamp), e.event, Object.entries(e.args).map(([k, v]) => `${k}=${v.length > 70 ? `${v.slice(0, 66)}…` : v}`).join(" "), e.from ?? "?", e.tx]), ["block", "time", "event", "args", "from", "tx"]));
  }
  if (r.findings.length) {
    io.stdout("\nFindings\n" + table(r.findings.map((f) => [f.severity, f.code, f.block === undefined ? "-" : String(f.block), f.detail]), ["severity", "code", "block", "detail"]));
  }
  for (const w of r.verification?.warnings ?? []) io.stdout(`warning: ${oneLine(w)}\n`);
}
