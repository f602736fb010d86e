/**
 * Start a simulated KMS: resolve the options, open the certs dir (resuming a bootstrapped KMS from it),
 * boot the CVM, bootstrap at start when asked, and listen.
 */
import type { ServerResponse } from "node:http";

import { InputError } from "../../core/errors.js";
import { bootSimulatedCvm } from "./cvm.js";
import { handleRequest } from "./http.js";
import { openCertsDir } from "./keys.js";
import { simulatorConfig, type SimulatedKmsOptions, type SimulatorPlatform } from "./options.js";
import { SimulatorServer } from "./server.js";
import { RpcError, SimulatorState } from "./state.js";

export interface SimulatedKms {
  /** Current base URL (`http://…` in onboard mode; `https://…` after Finish when `https`). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly mode: "onboard" | "normal";
  readonly certsDir: string;
  readonly simDir: string;
  readonly bootstrapped: boolean;
  /** Paths of the simulated DCAP root (PEM) and collateral JSON, once bootstrapped. */
  readonly simRootCaPath: string;
  readonly simCollateralPath: string;
  /** SEV-SNP: the test ARK (PEM) and its CRL (DER), once bootstrapped. */
  readonly simArkPath: string;
  readonly simAmdCrlPath: string;
  /** AWS Nitro: the test root (PEM) standing in for AWS's, once bootstrapped. */
  readonly simNitroRootPath: string;
  readonly platform: SimulatorPlatform;
  /** Bootstrap programmatically (same as the RPC). */
  bootstrap(domain: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** Start the simulator. Resolves once it listens. */
export async function startSimulatedKms(opts: SimulatedKmsOptions): Promise<SimulatedKms> {
  const config = simulatorConfig(opts);
  const keys = await openCertsDir(config);
  // the CVM's event log is fixed at boot (a fresh instance id per start), before any bootstrap
  const state = new SimulatorState(config, bootSimulatedCvm({ platform: config.platform, eventLogVersion: config.eventLogVersion }), keys);
  if (!state.keys && opts.autoBootstrapDomain) {
    try {
      await state.bootstrap(opts.autoBootstrapDomain);
    } catch (e) {
      if (e instanceof RpcError) throw new InputError("BAD_DOMAIN", `--auto-bootstrap: ${e.message}`);
      throw e;
    }
    state.mode = "normal";
  }
  // after Finish an HTTPS simulator moves to TLS once the answer to Finish is sent
  const onFinish = (res: ServerResponse): void => {
    if (opts.https) res.once("finish", () => server.switchToHttps());
  };
  const server: SimulatorServer = new SimulatorServer(
    config.host,
    opts.port ?? 0,
    (req, res) => void handleRequest({ state, onFinish }, req, res),
    () => ({ cert: state.keys!.rpcCertPem, key: state.keys!.rpcKeyPem }),
  );
  await server.start(opts.https && state.mode === "normal" ? "https" : "http");
  return simulatedKms(state, server);
}

function simulatedKms(state: SimulatorState, server: SimulatorServer): SimulatedKms {
  const { config } = state;
  return {
    get url() {
      return server.url;
    },
    get port() {
      return server.port;
    },
    host: config.host,
    get mode() {
      return state.mode;
    },
    certsDir: config.certsDir,
    simDir: config.simDir,
    get bootstrapped() {
      return state.keys !== null;
    },
    simRootCaPath: config.simRootCaPath,
    simCollateralPath: config.simCollateralPath,
    simArkPath: config.simArkPath,
    simAmdCrlPath: config.simAmdCrlPath,
    simNitroRootPath: config.simNitroRootPath,
    platform: config.platform,
    async bootstrap(domain: string) {
      try {
        return await state.bootstrap(domain);
      } catch (e) {
        if (e instanceof RpcError) throw new InputError(e.bootstrapCode, e.message);
        throw e;
      }
    },
    close: () => server.close(),
  };
}
