/**
 * The simulator's options and the settings resolved from them once at start: absolute paths of the
 * certs dir and the sim dir (forged DCAP root, collateral, saved Bootstrap response), the clock, the
 * answer format.
 */
import { join, resolve } from "node:path";

import { UsageError } from "../../core/errors.js";

export interface SimulatedKmsOptions {
  port?: number;
  host?: string;
  certsDir: string;
  /** Where the forge's public root + collateral and the saved Bootstrap response go. Default `<certsDir>.sim`. */
  simDir?: string;
  /** Bootstrap at start with this domain (then start in normal mode). */
  autoBootstrapDomain?: string;
  /** Serve normal mode over TLS with rpc.crt / rpc.key. */
  https?: boolean;
  /** Unix seconds used for certificates, the forge world's collateral window and signature timestamps. Default: the clock. */
  now?: number | (() => number);
  /** `"legacy"` (default): {quote, eventlog}; `"attestation"`: {attestation} V0 SCALE; `"attestation-v1"`: {attestation} V1 msgpack. */
  format?: SimulatorFormat;
  /** Runtime events of event-log v1 (binary preimage, default) or v2 (JCS canonical JSON preimage). */
  eventLogVersion?: 1 | 2;
  /**
   * The CVM's platform: `tdx` (default, a forged TDX quote), `sev-snp` (a report of a test SNP world),
   * `nitro-enclave` (an NSM document of a test Nitro world) or `gcp-tdx` (the forged TDX quote and a TPM quote
   * stand-in of the simulator's making); all but `tdx` need an attestation format.
   */
  platform?: SimulatorPlatform;
  /**
   * Imitate a dstack KMS bootstrapped at start without an operator: do not write bootstrap-info.json;
   * GetMeta says `bootstrap_info: null`.
   */
  omitBootstrapInfo?: boolean;
  /** Seed for the forge world (reproducible collateral); keys are always random. */
  forgeSeed?: string;
}

export type SimulatorFormat = "legacy" | "attestation" | "attestation-v1";
export type SimulatorPlatform = "tdx" | "sev-snp" | "nitro-enclave" | "gcp-tdx";
export const SIMULATOR_PLATFORMS: readonly SimulatorPlatform[] = ["tdx", "sev-snp", "nitro-enclave", "gcp-tdx"];
const PLATFORM_NAMES: Record<SimulatorPlatform, string> = { tdx: "a TDX", "sev-snp": "an SEV-SNP", "nitro-enclave": "an AWS Nitro Enclave", "gcp-tdx": "a GCP TDX" };

export interface SimulatorConfig {
  certsDir: string;
  simDir: string;
  host: string;
  /** Current unix seconds. */
  clock: () => number;
  format: SimulatorFormat;
  eventLogVersion: 1 | 2;
  platform: SimulatorPlatform;
  omitBootstrapInfo: boolean;
  forgeSeed: string | undefined;
  /** The forged DCAP root certificate (PEM), served at `/sim/dcap-root-ca.pem`. */
  simRootCaPath: string;
  /** The forged collateral (JSON), served at `/sim/collateral.json`. */
  simCollateralPath: string;
  /** The Bootstrap response, kept outside the certs dir so a KMS without bootstrap-info.json can resume. */
  savedResponsePath: string;
  /** SEV-SNP: the test ARK (PEM) and its CRL (DER) of the simulated SNP world. */
  simArkPath: string;
  simAmdCrlPath: string;
  /** AWS Nitro: the test root (PEM) standing in for AWS's Nitro Enclaves Root-G1. */
  simNitroRootPath: string;
}

export function simulatorConfig(opts: SimulatedKmsOptions): SimulatorConfig {
  if (!opts.certsDir) throw new UsageError("simulate-kms: a certs dir is required");
  const certsDir = resolve(opts.certsDir);
  const simDir = resolve(opts.simDir ?? `${certsDir.replace(/[\\/]+$/, "")}.sim`);
  const now = opts.now;
  const format = opts.format ?? "legacy";
  const platform = opts.platform ?? "tdx";
  if (!SIMULATOR_PLATFORMS.includes(platform)) throw new UsageError(`simulate-kms: --platform must be ${SIMULATOR_PLATFORMS.join(", ")}, got ${JSON.stringify(platform)}`);
  if (platform !== "tdx" && format === "legacy") throw new UsageError(`simulate-kms: ${PLATFORM_NAMES[platform]} KMS publishes an attestation: use --format attestation or attestation-v1`);
  if (opts.eventLogVersion !== undefined && opts.eventLogVersion !== 1 && opts.eventLogVersion !== 2) throw new UsageError(`simulate-kms: --event-log must be v1 or v2`);
  // a V0 SCALE event has no version field: dstack emits V1 when event-log v2 is on
  if (opts.eventLogVersion === 2 && format === "attestation") throw new UsageError("simulate-kms: event-log v2 is carried by V1 attestations (dstack emits V1 when it is on): use --format attestation-v1 (or legacy)");
  return {
    certsDir,
    simDir,
    host: opts.host ?? "127.0.0.1",
    clock: () => (typeof now === "function" ? now() : (now ?? Math.floor(Date.now() / 1000))),
    format,
    eventLogVersion: opts.eventLogVersion ?? 1,
    platform,
    omitBootstrapInfo: Boolean(opts.omitBootstrapInfo),
    forgeSeed: opts.forgeSeed,
    simRootCaPath: join(simDir, "dcap-root-ca.pem"),
    simCollateralPath: join(simDir, "collateral.json"),
    savedResponsePath: join(simDir, "bootstrap-response.json"),
    simArkPath: join(simDir, "amd-ark.pem"),
    simAmdCrlPath: join(simDir, "amd-crl.der"),
    simNitroRootPath: join(simDir, "nitro-root.pem"),
  };
}
