/**
 * What every task of the plugin shares: the selected network as viem clients whose account is the network's
 * first configured account (Hardhat signs: a key from the keystore or a configVariable never reaches this
 * code), the project's deployment records directory, output on stdout/stderr, and errors turned into Hardhat's
 * plugin errors (one line with the error's code, no stack trace).
 */
import path from "node:path";

import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import { createPublicClient, createWalletClient, custom, defineChain, getAddress, type Account, type Chain, type PublicClient, type Transport, type WalletClient } from "viem";

import type { Hex } from "../core/bytes.js";
import { InputError, KmsRegistryError, UsageError, errorMessage, firstLine } from "../core/errors.js";
import { oneLine, sanitizeForTerminal } from "../core/sanitize.js";
import { INPUT_KINDS, readInput } from "../core/files.js";
import { parseCollateralJson } from "../dcap/collateral.js";
import { defaultCollateralCacheDir } from "../dcap/pccs/cache.js";
import { fetchCollateral } from "../dcap/pccs/fetch-collateral.js";
import type { Collateral } from "../dcap/types.js";
import { PRIVATE_KEY_ENV, networkName } from "../registry/connect.js";

export const PLUGIN_ID = "dstack-kms-registry";

export interface TaskNetwork {
  connection: NetworkConnection;
  /** The Hardhat network's name (`--network`). */
  name: string;
  chainId: number;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  /** A local development chain (an in-process network, or chain id 31337 / 1337). */
  local: boolean;
}

/** The network selected with `--network`, as viem clients over Hardhat's provider. */
export async function taskNetwork(hre: HardhatRuntimeEnvironment): Promise<TaskNetwork> {
  const connection = await hre.network.getOrCreate();
  const transport = custom(connection.provider);
  const chainId = Number(await createPublicClient({ transport }).getChainId());
  const chain = defineChain({
    id: chainId,
    name: networkName(chainId),
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [] } },
  });
  const local = connection.networkConfig.type === "edr-simulated" || chainId === 31337 || chainId === 1337;
  const publicClient = createPublicClient({ chain, transport, pollingInterval: local ? 100 : 2000 }) as PublicClient<Transport, Chain>;
  return { connection, name: connection.networkName, chainId, chain, publicClient, local };
}

/**
 * A wallet client for the network's first configured account. Transactions go to Hardhat's provider as
 * `eth_sendTransaction`, which signs them with the configured key (`accounts: [configVariable(...)]`) or, on
 * a development node, with the node's own account.
 */
export async function taskWallet(net: TaskNetwork): Promise<WalletClient<Transport, Chain, Account>> {
  const accounts = (await net.connection.provider.request({ method: "eth_accounts" })) as string[];
  const first = accounts[0];
  if (!first) {
    throw new UsageError(
      `network ${net.name} has no account configured: add \`accounts: [configVariable("${PRIVATE_KEY_ENV}")]\` to it in hardhat.config.ts and set the key with \`npx hardhat keystore set ${PRIVATE_KEY_ENV}\` (or in the environment)`,
    );
  }
  return createWalletClient({ chain: net.chain, account: getAddress(first) as Hex, transport: custom(net.connection.provider) }) as WalletClient<Transport, Chain, Account>;
}

/** `--deployments DIR` relative to the project root; default `<project>/deployments`. */
export function deploymentsDirOf(hre: HardhatRuntimeEnvironment, opt: string | undefined): string {
  return path.resolve(hre.config.paths.root, given(opt) ?? "deployments");
}

/** A path option relative to the project root (what the user typed, not Hardhat's working directory). */
export function projectPath(hre: HardhatRuntimeEnvironment, p: string): string {
  return path.resolve(hre.config.paths.root, p);
}

/** A string option: `undefined` when not given (Hardhat's default ""). */
export function given(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

/** `--collateral FILE` or `--pccs URL` (with the on-disk collateral cache); a usage error for neither or both. */
export function collateralLoader(
  hre: HardhatRuntimeEnvironment,
  collateral: string | undefined,
  pccs: string | undefined,
  now: number,
  /** "when-needed": no option given is an error only once a TDX quote asks for collateral (an SEV-SNP or Nitro KMS needs none). */
  required: "now" | "when-needed" = "now",
): (quote: Uint8Array) => Promise<Collateral> {
  const file = given(collateral);
  const pccsUrl = given(pccs);
  if (file !== undefined && pccsUrl !== undefined) throw new UsageError("give either --collateral FILE or --pccs URL, not both");
  if (file !== undefined) {
    return async () => parseCollateralJson(new TextDecoder().decode(await readInput(projectPath(hre, file), INPUT_KINDS.collateral, { label: `collateral file ${JSON.stringify(file)}` })));
  }
  if (pccsUrl !== undefined) return (quote) => fetchCollateral(quote, { pccsUrl, cacheDir: defaultCollateralCacheDir(process.env), now });
  const none = (why = "") => new UsageError(`no collateral: pass --collateral FILE (dcap-qvl QuoteCollateralV3 JSON) or --pccs URL (a PCCS or Intel PCS base URL)${why}`);
  if (required === "now") throw none();
  return () => Promise.reject(none(" (the KMS's attestation is a TDX quote)"));
}

export const out = (text: string): void => void process.stdout.write(text);
export const err = (text: string): void => void process.stderr.write(text);

/** JSON with bigints as decimal strings. */
export function printJson(value: unknown): void {
  out(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
}

/** `[task] stage: detail` on stderr. */
export function progress(task: string): (stage: string, detail: string) => void {
  return (stage, detail) => err(`[${task}] ${stage}: ${oneLine(detail)}\n`);
}

/**
 * viem wraps what Hardhat's provider threw (an unset configuration variable, a refused request) in its own
 * "unknown RPC error": the Hardhat error in the cause chain, when there is one, says what happened.
 */
function innermostHardhatError(e: unknown): Error | undefined {
  let found: Error | undefined;
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 16; cur = cur.cause, depth++) {
    if (/^HHE\d+|Hardhat/.test(cur.name) || /^HHE\d+/.test(cur.message) || "descriptor" in cur) found = cur;
  }
  return found;
}

/** The one line a failed task prints: our errors by code, an unset configuration variable with where its value can come from, anything else its first line. */
function taskErrorLine(task: string, e: unknown): string {
  if (e instanceof HardhatPluginError) return oneLine(firstLine(e.message));
  if (e instanceof KmsRegistryError) return `${task}: ${e.code}: ${oneLine(sanitizeForTerminal(e.shortMessage))}`;
  const line = oneLine(firstLine(errorMessage(innermostHardhatError(e) ?? e)));
  const missing = /Configuration Variable "([A-Za-z0-9_]+)" not found/.exec(line);
  return missing ? `${task}: ${line} (set ${missing[1]} in the environment, or store it with \`npx hardhat keystore set ${missing[1]}\`)` : `${task}: ${line}`;
}

/**
 * Run a task's body. A failure is one line on stderr and the CLI's exit codes — 2 for a usage or input error
 * (an unset configuration variable too), 1 otherwise — printed here rather than thrown to Hardhat, which adds a
 * stack trace whenever it runs in CI.
 */
export async function runTask(task: string, body: () => Promise<unknown>): Promise<void> {
  try {
    await body();
  } catch (e) {
    const line = taskErrorLine(task, e);
    process.stderr.write(`Error in community plugin ${PLUGIN_ID}: ${line}\n`);
    process.exitCode = e instanceof UsageError || e instanceof InputError || /Configuration Variable "[A-Za-z0-9_]+" not found/.test(line) ? 2 : 1;
  }
}
