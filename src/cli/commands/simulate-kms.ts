/**
 * `kms-registry simulate-kms --port P --certs-dir DIR [--host 127.0.0.1] [--auto-bootstrap DOMAIN]
 *   [--https] [--format legacy|attestation] [--sim-dir DIR] [--no-bootstrap-info]`
 *
 * Runs the simulated dstack KMS of the test worlds (`startSimulatedKms`) until SIGINT/SIGTERM.
 */
import { UsageError } from "../../core/errors.js";
import { startSimulatedKms } from "../../testing/index.js";
import { EXIT_OK, optFlag, optInteger, optString, requireString, type CommandSpec } from "../framework.js";
import { resolvePath } from "../io.js";
import { printJson } from "../output.js";

export const simulateKmsCommand: CommandSpec = {
  synopsis: "--port P --certs-dir DIR [--host 127.0.0.1] [--auto-bootstrap DOMAIN] [--https] [--format legacy|attestation]",
  help: [
    "A real HTTP server with the dstack KMS API shapes, for development and the demo. Onboard mode: GET / (page with",
    "a Bootstrap form), POST /prpc/Onboard.Bootstrap?json {\"domain\"} (generates real keys and the 8 files, mode 0600",
    "keys), POST /prpc/Onboard.GetAttestationInfo?json (mr_aggregated … before Bootstrap), GET /finish. Normal mode: GET /prpc/KMS.GetMeta, POST /prpc/KMS.GetAppEnvEncryptPubKey?json {\"app_id\"}.",
    "SIMULATOR ONLY: POST /prpc/Sim.GetAppKey?json {\"app_id\"} → app key pubkey + k256_signature (message A);",
    "POST /prpc/Sim.GetKey?json {\"app_id\",\"path\",\"purpose\"} → derived pubkey + signature_chain [D, A].",
    "The quote is FORGED under a simulated DCAP root: its root certificate and collateral are written to",
    "<certs-dir>.sim/ (dcap-root-ca.pem, collateral.json) and served at /sim/dcap-root-ca.pem and /sim/collateral.json.",
    "--https serves normal mode over TLS with rpc.crt/rpc.key. Port 0 picks a free port. Stops on Ctrl-C.",
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
    format: { type: "string", valueName: "F", description: "bootstrap info format: legacy (quote+eventlog, default) or attestation" },
    "sim-dir": { type: "string", valueName: "DIR", description: "where the simulated DCAP root, collateral and saved response go (default <certs-dir>.sim)" },
    "no-bootstrap-info": { type: "boolean", description: "imitate an auto-bootstrapped dstack KMS: no bootstrap-info.json, GetMeta bootstrap_info null" },
  },
  async run(ctx) {
    const { io } = ctx;
    const port = optInteger(ctx, "port", { min: 0, max: 65535 });
    if (port === undefined) throw new UsageError("--port is required (0 = any free port)");
    const dirArg = requireString(ctx, "certs-dir");
    const format = optString(ctx, "format") ?? "legacy";
    if (format !== "legacy" && format !== "attestation") throw new UsageError(`--format must be legacy or attestation, got ${JSON.stringify(format)}`);
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
        genuine: false,
      });
      io.stderr("NOT GENUINE: quotes are forged under a simulated root. Stop with Ctrl-C.\n");
    } else {
      io.stdout(`simulated KMS listening on ${kms.url} (${kms.mode} mode${kms.bootstrapped ? ", bootstrapped" : ""})\n`);
      io.stdout(`certs dir: ${kms.certsDir}\nsimulated DCAP root: ${kms.simRootCaPath}\nsimulated collateral: ${kms.simCollateralPath}\n`);
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
