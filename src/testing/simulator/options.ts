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
  /** `"legacy"` (default): {quote, eventlog}; `"attestation"`: {attestation} V0 SCALE. */
  format?: "legacy" | "attestation";
  /**
   * Imitate a dstack KMS bootstrapped at start without an operator: do not write bootstrap-info.json;
   * GetMeta says `bootstrap_info: null`.
   */
  omitBootstrapInfo?: boolean;
  /** Seed for the forge world (reproducible collateral); keys are always random. */
  forgeSeed?: string;
}

export interface SimulatorConfig {
  certsDir: string;
  simDir: string;
  host: string;
  /** Current unix seconds. */
  clock: () => number;
  format: "legacy" | "attestation";
  omitBootstrapInfo: boolean;
  forgeSeed: string | undefined;
  /** The forged DCAP root certificate (PEM), served at `/sim/dcap-root-ca.pem`. */
  simRootCaPath: string;
  /** The forged collateral (JSON), served at `/sim/collateral.json`. */
  simCollateralPath: string;
  /** The Bootstrap response, kept outside the certs dir so a KMS without bootstrap-info.json can resume. */
  savedResponsePath: string;
}

export function simulatorConfig(opts: SimulatedKmsOptions): SimulatorConfig {
  if (!opts.certsDir) throw new UsageError("simulate-kms: a certs dir is required");
  const certsDir = resolve(opts.certsDir);
  const simDir = resolve(opts.simDir ?? `${certsDir.replace(/[\\/]+$/, "")}.sim`);
  const now = opts.now;
  return {
    certsDir,
    simDir,
    host: opts.host ?? "127.0.0.1",
    clock: () => (typeof now === "function" ? now() : (now ?? Math.floor(Date.now() / 1000))),
    format: opts.format ?? "legacy",
    omitBootstrapInfo: Boolean(opts.omitBootstrapInfo),
    forgeSeed: opts.forgeSeed,
    simRootCaPath: join(simDir, "dcap-root-ca.pem"),
    simCollateralPath: join(simDir, "collateral.json"),
    savedResponsePath: join(simDir, "bootstrap-response.json"),
  };
}
