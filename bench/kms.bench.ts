/**
 * KMS-side timings (median ms), printed as one JSON object:
 *   simBootstrap      simulated KMS Onboard.Bootstrap over HTTP (3 P-256 + 1 secp256k1 keys, 3 certs, forge world + quote, 8 files)
 *   pullHttp          pullBootstrap from a live simulated KMS over http (GetMeta + parse + checks)
 *   pullHttpsPinned   the same over https with SPKI pinning at the handshake (new TLS connection each time)
 *   checkCertsDir     the operator's checklist on a certs dir (≈23 checks, OpenSSL via node:crypto)
 *   verifyBootstrap   quote verification + binding + RTMR replay + runtime-event decoding
 *   eventLogReplay    parse + replay the real 29-event tdx-lite-getquote.json log and compare RTMR0–3
 *   attestationV0     decode the real 9504-byte V0 SCALE attestation
 * Run: `node --import tsx bench/kms.bench.ts` (or `npm run bench`).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parseCollateralJson } from "../src/dcap/collateral.js";
import { decodeDstackAttestation } from "../src/dstack/attestation.js";
import { checkEventLog, parseEventLog } from "../src/dstack/eventlog.js";
import { parseQuote, type TdReport10 } from "../src/dcap/quote.js";
import { certificateDerFromFile } from "../src/dcap/x509.js";
import { hexToBytes } from "../src/core/bytes.js";
import { checkCertsDir } from "../src/kms/certs-dir.js";
import { pullBootstrap } from "../src/kms/pull.js";
import { startSimulatedKms } from "../src/testing/simulator/index.js";
import { verifyBootstrap } from "../src/kms/verify.js";
import { timeMedian } from "./lib.js";


const tmp = await mkdtemp(join(tmpdir(), "kms-bench-"));
let k = 0;
const simBootstrap = await timeMedian(7, async () => {
  const kms = await startSimulatedKms({ certsDir: join(tmp, `b${k++}`), port: 0 });
  const r = await fetch(`${kms.url}/prpc/Onboard.Bootstrap?json`, { method: "POST", body: JSON.stringify({ domain: "kms.bench.example" }) });
  await r.json();
  await kms.close();
});

const http = await startSimulatedKms({ certsDir: join(tmp, "http"), port: 0, autoBootstrapDomain: "kms.bench.example" });
const https = await startSimulatedKms({ certsDir: join(tmp, "https"), port: 0, autoBootstrapDomain: "kms.bench.example", https: true });
const now = Math.floor(Date.now() / 1000);
const first = await pullBootstrap({ kms: https.url }, { now });
const pullHttp = await timeMedian(20, () => pullBootstrap({ kms: http.url }, { now }));
const pullHttpsPinned = await timeMedian(20, () => pullBootstrap({ kms: https.url, caPubkey: first.info.caPubkey }, { now }));
const checkCerts = await timeMedian(20, () => checkCertsDir(https.certsDir, { now, domain: "kms.bench.example" }));
const collateral = parseCollateralJson(await readFile(https.simCollateralPath, "utf8"));
const rootCaDer = certificateDerFromFile(new Uint8Array(await readFile(https.simRootCaPath)), "root");
const verify = await timeMedian(20, () => verifyBootstrap(first.info, { collateral, rootCaDer, now }));

const FIX = new URL("../test/fixtures/dcap/", import.meta.url);
const gq = JSON.parse(await readFile(new URL("tdx-lite-getquote.json", FIX), "utf8")) as { quote: string; event_log: string };
const b = parseQuote(hexToBytes(gq.quote)).body as TdReport10;
const replay = await timeMedian(200, () => checkEventLog(parseEventLog(gq.event_log), [b.rtMr0, b.rtMr1, b.rtMr2, b.rtMr3]));
const v0 = new Uint8Array(await readFile(new URL("dstack-attestation-v0.bin", FIX)));
const att = await timeMedian(200, () => decodeDstackAttestation(v0));

await http.close();
await https.close();
await rm(tmp, { recursive: true, force: true });
process.stdout.write(
  JSON.stringify({ unit: "ms (median)", simBootstrap, pullHttp, pullHttpsPinned, checkCertsDir: checkCerts, verifyBootstrap: verify, eventLogReplay: replay, attestationV0: att }, null, 2) + "\n",
);
