/**
 * `kms-registry simulate-kms --port P --certs-dir DIR [--host 127.0.0.1] [--auto-bootstrap DOMAIN]
 *   [--https] [--format legacy|attestation|attestation-v1] [--event-log v1|v2] [--platform tdx|sev-snp|nitro-enclave|gcp-tdx] [--sim-dir DIR] [--no-bootstrap-info]`
 *
 * Runs the simulated dstack KMS of the test worlds (`startSimulatedKms`) until SIGINT/SIGTERM.
 */
import { UsageError } from "../../core/errors.js";
import { SIMULATOR_PLATFORMS, startSimulatedKms, type SimulatorPlatform } from "../../testing/index.js";
import { EXIT_OK, optFlag, optInteger, optString, requireString, type CommandSpec } from "../framework.js";
import { resolvePath } from "../io.js";
import { printJson } from "../output.js";

export const simulateKmsCommand: CommandSpec = {
  synopsis: "--port P --certs-dir DIR [--host 127.0.0.1] [--auto-bootstrap DOMAIN] [--https] [--format legacy|attestation|attestation-v1] [--event-log v1|v2] [--platform tdx|sev-snp|nitro-enclave|gcp-tdx]",
  help: [
    "A real HTTP server with the dstack KMS API shapes, for development and the demo. Onboard mode: GET / (page with",
    "a Bootstrap form), POST /prpc/Onboard.Bootstrap?json {\"domain\"} (generates real keys and the 8 files, mode 0600",
    "keys), POST /prpc/Onboard.GetAttestationInfo?json (mr_aggregated … before Bootstrap), GET /finish. Normal mode: GET /prpc/KMS.GetMeta, POST /prpc/KMS.GetAppEnvEncryptPubKey?json {\"app_id\"}.",
    "SIMULATOR ONLY: POST /prpc/Sim.GetAppKey?json {\"app_id\"} → app key pubkey + k256_signature (message A);",
    "POST /prpc/Sim.GetKey?json {\"app_id\",\"path\",\"purpose\"} → derived pubkey + signature_chain [D, A].",
    "The quote is FORGED under a simulated DCAP root: its root certificate and collateral are written to",
    "<certs-dir>.sim/ (dcap-root-ca.pem, collateral.json) and served at /sim/dcap-root-ca.pem and /sim/collateral.json.",
    "--https serves normal mode over TLS with rpc.crt/rpc.key. Port 0 picks a free port. Stops on Ctrl-C.",
    "--format attestation / attestation-v1 publishes a V0 SCALE / V1 msgpack attestation instead of quote+eventlog;",
    "--event-log v2 makes the runtime events event-log v2 (JCS JSON preimages). --platform sev-snp runs an SEV-SNP",
    "guest: its attestation carries a report of a TEST SNP world (test ARK → ASK → VCEK) binding the keys like TDX,",
    "with the cert_chain; the test ARK and its CRL are written to <certs-dir>.sim/amd-ark.pem and amd-crl.der",
    "(verify with --root-ca <certs-dir>.sim/amd-ark.pem --amd-crl <certs-dir>.sim/amd-crl.der).",
    "--platform nitro-enclave runs an AWS Nitro Enclave: its attestation carries an NSM document of a TEST Nitro",
    "world (not AWS's root) whose user_data binds the keys; the test root is written to <certs-dir>.sim/nitro-root.pem",
    "(verify with --root-ca <certs-dir>.sim/nitro-root.pem). --platform gcp-tdx: the forged TDX quote with a TPM quote",
    "stand-in of the simulator's making (no TPM signed it; verifiers only report it).",
    "--json prints one JSON document when the server is ready ({url, port, mode, bootstrapped, certsDir, simDir,",
    "simRootCaPath, simCollateralPath, genuine: false}) — for scripts that start it with --port 0.",
  ].join("\n"),
  json: true,
  options: {
    port: { type: "string", valueName: "P", description: "TCP port (0 = any free port)" },
    "certs-dir": { type: "string", valueName: "DIR", description: "where the KMS keeps its 8 files" },
    host: { type: "string", valueName: "ADDR", description: "listen address (default 127.0.0.1)" },
    "auto-bootstrap": { type: "string", valueName: "DOMAIN", description: "bootstrap at start for DOMAIN" },
    https: { type: "boolean", description: "serve normal mode over TLS (rpc.crt signed by the KMS root CA)" },
    format: { type: "string", valueName: "F", description: "bootstrap info format: legacy (quote+eventlog, default), attestation (V0 SCALE) or attestation-v1 (V1 msgpack)" },
    "event-log": { type: "string", valueName: "V", description: "runtime events of event-log v1 (default) or v2" },
    platform: { type: "string", valueName: "P", description: "tdx (default), sev-snp, nitro-enclave or gcp-tdx (all but tdx need --format attestation or attestation-v1)" },
    "sim-dir": { type: "string", valueName: "DIR", description: "where the simulated DCAP root, collateral and saved response go (default <certs-dir>.sim)" },
    "no-bootstrap-info": { type: "boolean", description: "imitate an auto-bootstrapped dstack KMS: no bootstrap-info.json, GetMeta bootstrap_info null" },
  },
  async run(ctx) {
    const { io } = ctx;
    const port = optInteger(ctx, "port", { min: 0, max: 65535 });
    if (port === undefined) throw new UsageError("--port is required (0 = any free port)");
    const dirArg = requireString(ctx, "certs-dir");
    const format = optString(ctx, "format") ?? "legacy";
    if (format !== "legacy" && format !== "attestation" && format !== "attestation-v1") throw new UsageError(`--format must be legacy, attestation or attestation-v1, got ${JSON.stringify(format)}`);
    const eventLog = optString(ctx, "event-log") ?? "v1";
    if (eventLog !== "v1" && eventLog !== "v2") throw new UsageError(`--event-log must be v1 or v2, got ${JSON.stringify(eventLog)}`);
    const platform = (optString(ctx, "platform") ?? "tdx") as SimulatorPlatform;
    if (!SIMULATOR_PLATFORMS.includes(platform)) throw new UsageError(`--platform must be ${SIMULATOR_PLATFORMS.join(", ")}, got ${JSON.stringify(platform)}`);
    const simDir = optString(ctx, "sim-dir");
    const auto = optString(ctx, "auto-bootstrap");
    const kms = await startSimulatedKms({
      port,
      host: optString(ctx, "host") ?? "127.0.0.1",
      certsDir: resolvePath(io, dirArg),
      ...(simDir ? { simDir: resolvePath(io, simDir) } : {}),
      ...(auto ? { autoBootstrapDomain: auto } : {}),
      https: optFlag(ctx, "https"),
      format,
      eventLogVersion: eventLog === "v2" ? 2 : 1,
      platform,
      omitBootstrapInfo: optFlag(ctx, "no-bootstrap-info"),
    });
    if (ctx.json) {
      printJson(io, {
        url: kms.url,
        port: kms.port,
        mode: kms.mode,
        bootstrapped: kms.bootstrapped,
        certsDir: kms.certsDir,
        simDir: kms.simDir,
        simRootCaPath: kms.simRootCaPath,
        simCollateralPath: kms.simCollateralPath,
        platform: kms.platform,
        ...(kms.platform === "sev-snp" ? { simArkPath: kms.simArkPath, simAmdCrlPath: kms.simAmdCrlPath } : {}),
        ...(kms.platform === "nitro-enclave" ? { simNitroRootPath: kms.simNitroRootPath } : {}),
        genuine: false,
      });
      io.stderr("NOT GENUINE: quotes are forged under a simulated root. Stop with Ctrl-C.\n");
    } else {
      io.stdout(`simulated KMS listening on ${kms.url} (${kms.mode} mode${kms.bootstrapped ? ", bootstrapped" : ""})\n`);
      if (kms.platform === "sev-snp") io.stdout(`certs dir: ${kms.certsDir}\ntest AMD ARK: ${kms.simArkPath}\ntest AMD CRL: ${kms.simAmdCrlPath}\n`);
      else if (kms.platform === "nitro-enclave") io.stdout(`certs dir: ${kms.certsDir}\ntest Nitro root (not AWS's): ${kms.simNitroRootPath}\n`);
      else io.stdout(`certs dir: ${kms.certsDir}\nsimulated DCAP root: ${kms.simRootCaPath}\nsimulated collateral: ${kms.simCollateralPath}\n`);
      io.stdout("NOT GENUINE: quotes are forged under a simulated root. Stop with Ctrl-C.\n");
    }
    await new Promise<void>((done) => {
      const off = io.onSignal?.(() => {
        off?.();
        done();
      });
    });
    await kms.close();
    io.stderr("simulated KMS stopped\n");
    return EXIT_OK;
  },
};
