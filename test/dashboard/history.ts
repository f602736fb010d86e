/**
 * A registry history on a real `hardhat node` for the dashboard's tests and its README screenshot:
 * registrar registrations (the real Intel-signed quote re-bound to fresh keys, and a simulated KMS's forged
 * quote under its simulated root), a re-attestation, a liveness proof answered by the simulated KMS over
 * HTTP, a revocation whose reason is hostile (HTML, ANSI escape, bidi override), one anomaly (a registrar that
 * lost its role after registering a KMS), and the on-chain path on the real DcapVerifier under a forged root:
 * two permissionless `registerVerified` registrations of forged quotes binding fresh keys, one of them then
 * rechecked against the same platform's newer collateral whose TCB level is Revoked (it goes stale); and an AMD
 * SEV-SNP KMS registered through the real `registerSnp` (a test AMD world: NOT GENUINE, test ARK).
 * `proveSimLiveness` / `registerNew` write further events while a dashboard runs.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { bytesToHex } from "../../src/core/bytes.js";
import { expectedKmsReportData } from "../../src/dstack/binding.js";
import { deployRegistry, recordOf } from "../../src/registry/deploy.js";
import { toOnChainCollateral } from "../../src/registry/verifier.js";
import { createForgeWorld, forgeQuote, type ForgeWorld } from "../../src/testing/forge/index.js";
import { startDevNode } from "../../src/testing/devnode.js";

import { parseBootstrapInfo } from "../../src/kms/bootstrap.js";
import { accountFromEnv, connect, walletFor } from "../../src/registry/connect.js";
import { kmsRegistryAbi as abi } from "../../src/registry/generated/abi.js";
import { publishKms, type KmsIdentity } from "../../src/registry/publish.js";
import { ethAddress } from "../../src/dstack/signatures.js";
import { HARDHAT_DEV_ACCOUNT_1_KEY } from "../../src/testing/devnode.js";
import { startSimulatedKms, type SimulatedKms } from "../../src/testing/simulator/index.js";
import { proveLiveness } from "../../src/workflows/prove-liveness.js";
import { DEV_ENV, randomKms, type TestChain, type TestKms } from "../registry/chain-helpers.js";
import { nitroTestWorld, registerNitroKms, type NitroRegistration } from "../registry/nitro-helpers.js";
import { registerSnpKms, snpTestWorld, type SnpRegistration, type SnpTestWorld } from "../registry/snp-helpers.js";

export const HOSTILE_REASON = "<img src=x onerror=alert(1)> \u001b[31mkey leaked\u001b[0m \u202Egnp.exe\u202C <script>alert(2)</script>";

export interface History {
  chain: TestChain;
  sim: SimulatedKms;
  /** Registrar-registered, re-attested once. */
  a: TestKms;
  /** The simulated KMS (forged quote, simulated root), with a liveness proof. */
  sim_: KmsIdentity;
  /** Revoked with `HOSTILE_REASON`. */
  revoked: TestKms;
  /** Registered by a registrar that then lost its role (the anomaly). */
  orphan: TestKms;
  /** Registered on chain (registerVerified), then rechecked: stale. */
  stale: TestKms;
  /** Registered on chain (registerVerified), UpToDate. */
  verified: TestKms;
  /** Registered through registerSnp (test ARK: NOT GENUINE). */
  snp: SnpRegistration;
  /** Its test AMD world (`arkFile`: the test ARK, PEM). */
  snpWorld: SnpTestWorld;
  /** Registered through registerNitro (a test Nitro world's root: NOT GENUINE). */
  nitro: NitroRegistration;
  /** The forged world whose root the on-chain verifier trusts. */
  world: ForgeWorld;
  addr: (k: KmsIdentity) => `0x${string}`;
  /** Prove the simulated KMS's liveness once more (a new event). */
  proveSimLiveness: () => Promise<{ block: bigint; tx: `0x${string}` }>;
  /** Register a new KMS through the registrar (a new event). */
  registerNew: () => Promise<{ kms: `0x${string}`; block: bigint }>;
  stop: () => Promise<void>;
}

/** The same forged platform's newer collateral (TCB evaluation data number 18), in which the quote's TCB level is Revoked. */
export function revokedLevelWorld(seed: string, now: number): Promise<ForgeWorld> {
  return createForgeWorld({
    seed,
    now,
    tcbInfo: {
      tcbEvaluationDataNumber: 18,
      edit: (t: Record<string, unknown>) => {
        (t.tcbLevels as { tcbStatus: string }[])[0]!.tcbStatus = "Revoked";
      },
    },
  });
}

/** A node with a registry whose verifier trusts `world`'s root (registrar: dev account #0). */
export async function startVerifiedChain(world: ForgeWorld): Promise<TestChain> {
  const node = await startDevNode();
  try {
    const conn = await connect(node.url);
    const wallet = walletFor(conn, accountFromEnv(DEV_ENV));
    const rec = await deployRegistry({ publicClient: conn.publicClient, walletClient: wallet, verifier: { rootDer: world.rootCaDer }, toolVersion: "test" });
    const tmp = mkdtempSync(path.join(os.tmpdir(), "kms-dashboard-test-"));
    return { node, conn, wallet, registry: rec.address, record: recordOf(rec), tmp };
  } catch (e) {
    await node.stop();
    throw e;
  }
}

export async function writeHistory(): Promise<History> {
  const now = Math.floor(Date.now() / 1000) - 120;
  const SEED = "dashboard-history";
  const world = await createForgeWorld({ seed: SEED, now });
  const chain = await startVerifiedChain(world);
  let sim: SimulatedKms | undefined;
  try {
    const pc = chain.conn.publicClient;
    const pub = (identity: KmsIdentity, wallet = chain.wallet) => publishKms({ publicClient: pc, walletClient: wallet, registry: chain.registry, identity, journalDir: `${chain.tmp}/state` });
    const wait = async (hash: `0x${string}`) => {
      const r = await pc.waitForTransactionReceipt({ hash });
      if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
      return r;
    };
    const addr = (k: KmsIdentity) => ethAddress(k.k256Pubkey) as `0x${string}`;
    const a = randomKms();
    await pub(a);
    sim = await startSimulatedKms({ certsDir: path.join(chain.tmp, "sim-certs"), port: 0, autoBootstrapDomain: "kms.dashboard.example" });
    const info = parseBootstrapInfo(JSON.parse(readFileSync(path.join(sim.certsDir, "bootstrap-info.json"), "utf8")));
    const simId: KmsIdentity = { caPubkey: info.caPubkey, k256Pubkey: info.k256Pubkey, quote: info.quote! };
    await pub(simId);
    const q2 = a.quote.slice();
    q2[200] = q2[200]! ^ 1;
    await pub({ ...a, quote: q2 });
    const s = sim;
    const proveSimLiveness = async () => {
      // a fresh client: viem caches the block number per client, and the challenge depends on it
      const { publicClient } = await connect(chain.node.url);
      const r = await proveLiveness({ publicClient, walletClient: chain.wallet, registry: chain.registry, kms: addr(simId), kmsUrl: s.url });
      return { block: r.blockNumber, tx: r.txHash };
    };
    await proveSimLiveness();
    const revoked = randomKms();
    await pub(revoked);
    await wait(await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "revoke", args: [addr(revoked), HOSTILE_REASON] }));
    // a second registrar registers a KMS, then loses the role: the audit's registrar-lost-role anomaly
    const second = walletFor(chain.conn, accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: HARDHAT_DEV_ACCOUNT_1_KEY }));
    const role = await pc.readContract({ address: chain.registry, abi, functionName: "REGISTRAR_ROLE" });
    await wait(await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "grantRole", args: [role, second.account.address] }));
    const orphan = randomKms();
    await pub(orphan, second);
    await wait(await chain.wallet.writeContract({ address: chain.registry, abi, functionName: "revokeRole", args: [role, second.account.address] }));
    // the on-chain path: anyone (here the account without the role) registers KMSes whose forged quotes bind their keys
    const onChain = async (k: TestKms) => {
      const quote = await forgeQuote(world, { reportData: expectedKmsReportData(k.caPubkey, k.k256Pubkey) });
      const col = toOnChainCollateral(quote, world.collateral);
      await wait(await second.writeContract({ address: chain.registry, abi, functionName: "registerVerified", args: [bytesToHex(k.caPubkey), bytesToHex(k.k256Pubkey), bytesToHex(quote), col] }));
      return { ...k, quote };
    };
    const verified = await onChain(randomKms());
    const stale = await onChain(randomKms());
    // Intel's newer collateral for the same platform revokes the quote's TCB level: the recheck makes it stale
    const revokedLevel = await revokedLevelWorld(SEED, now);
    await wait(
      await second.writeContract({ address: chain.registry, abi, functionName: "recheck", args: [addr(stale), bytesToHex(stale.quote), toOnChainCollateral(stale.quote, revokedLevel.collateral)] }),
    );
    // an AMD SEV-SNP KMS (its report binds its keys; VCEK and ASK/ARK chain of a test AMD world published)
    const snpWorld = snpTestWorld(chain.tmp, now);
    const snp = await registerSnpKms(chain, snpWorld, { hostData: new Uint8Array(32).fill(0xd5) });
    // an AWS Nitro Enclave KMS (its NSM document's user_data binds its keys; a test Nitro world's root)
    const nitro = await registerNitroKms(chain, nitroTestWorld(chain.tmp, now), { moduleId: "i-0feedc0ffee123456-enc0123456789abcdef" });
    const registerNew = async () => {
      const k = randomKms();
      const r = await pub(k);
      return { kms: addr(k), block: r.blockNumber! };
    };
    return {
      chain,
      sim,
      a,
      sim_: simId,
      revoked,
      orphan,
      stale,
      verified,
      snp,
      snpWorld,
      nitro,
      world,
      addr,
      proveSimLiveness,
      registerNew,
      stop: async () => {
        await s.close();
        await chain.node.stop();
      },
    };
  } catch (e) {
    await sim?.close();
    await chain.node.stop();
    throw e;
  }
}
