/**
 * A simulated dstack KMS for development and the end-to-end demo: a real `node:http` (or `node:https`)
 * server with the dstack KMS's prpc API shapes.
 *
 * Onboard mode (fresh certs dir): `GET /` onboarding page; `POST /prpc/Onboard.Bootstrap?json
 * {"domain"}` generates REAL keys and certificates (see `generate.ts`), writes exactly the 8 files and
 * answers the BootstrapResponse; a second Bootstrap fails with "Bootstrap already completed" and
 * touches nothing; `Onboard.GetAttestationInfo` (mr_aggregated, os_image_hash… of the simulated CVM,
 * for allow-listing before Bootstrap); `GET /finish` / `POST /prpc/Onboard.Finish` switch to normal mode
 * (over TLS with rpc.crt/rpc.key when `https` is set).
 * Normal mode: `KMS.GetMeta`, `KMS.GetAppEnvEncryptPubKey {"app_id"}` (messages B and C signed by the
 * root k256 key), and SIMULATOR-ONLY calls `Sim.GetAppKey {"app_id"}` (app key pubkey + message-A
 * `k256_signature`) and `Sim.GetKey {"app_id","path","purpose"}` (derived pubkey + chain [D, A]).
 *
 * The quote and event log are produced with the DCAP forge under a SIMULATED root: report_data binds
 * the generated keys and the event log replays to the quote's RTMRs. The forge's public root
 * certificate and collateral are written OUTSIDE the certs dir (default `<certs-dir>.sim/`, which also
 * keeps the saved Bootstrap response) and served at `GET /sim/dcap-root-ca.pem` and
 * `GET /sim/collateral.json`. Verification against them says `genuine: false`; against Intel's root
 * it fails.
 *
 * The parts: `options` (settings), `keys` (the certs dir), `cvm` (the simulated CVM, its event log and
 * quotes), `bootstrap`, `state` (keys, mode, the one Bootstrap), `rpc` (the prpc methods), `http` (the
 * routes), `page` (HTML), `server` (the socket), `start` (`startSimulatedKms`).
 */
export { startSimulatedKms, type SimulatedKms } from "./start.js";
export { SIMULATOR_PLATFORMS, type SimulatedKmsOptions, type SimulatorPlatform } from "./options.js";
export { SIMULATED_MR_TD, simulatedKmsEventLog } from "./cvm.js";
