/**
 * Connecting to a JSON-RPC endpoint and to the signing account. The private key comes only from the
 * environment (`KMS_REGISTRY_PRIVATE_KEY`), is validated without echoing it, and never leaves this module
 * except inside a viem account object.
 */
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  isAddress,
  type Account,
  type Chain,
  type HttpTransport,
  type HttpTransportConfig,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

import type { Hex } from "../core/bytes.js";
import { redactErrorText, redactUrl, secretRedactor } from "../core/sanitize.js";
import { NetworkError, UsageError, errorMessage, firstLine } from "../core/errors.js";

export const PRIVATE_KEY_ENV = "KMS_REGISTRY_PRIVATE_KEY";

const KNOWN_NETWORKS: Record<number, string> = {
  1: "mainnet",
  11155111: "sepolia",
  17000: "holesky",
  560048: "hoodi",
  8453: "base",
  84532: "base-sepolia",
  10: "optimism",
  11155420: "optimism-sepolia",
  42161: "arbitrum",
  421614: "arbitrum-sepolia",
  31337: "localhost",
};

export function networkName(chainId: number): string {
  return KNOWN_NETWORKS[chainId] ?? `chain-${chainId}`;
}

/** Parse and checksum an address option; `UsageError` naming the option. */
export function parseAddress(value: string, what: string): Hex {
  if (!isAddress(value, { strict: false })) throw new UsageError(`${what} must be a 20-byte 0x address, got ${JSON.stringify(value.slice(0, 48))}`);
  return getAddress(value) as Hex;
}

export function parseRpcUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--rpc must be an http(s) URL, got ${JSON.stringify(url.slice(0, 80))}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--rpc must be an http(s) URL, got protocol ${u.protocol}`);
  return url;
}

/**
 * The signing account from `env[KMS_REGISTRY_PRIVATE_KEY]`. Throws `UsageError` when missing or
 * malformed; the message never contains the value.
 */
export function accountFromEnv(env: Record<string, string | undefined>): Account {
  const raw = env[PRIVATE_KEY_ENV];
  if (raw === undefined || raw.trim() === "") {
    throw new UsageError(`no signing key: set ${PRIVATE_KEY_ENV} in the environment (private keys are never taken from the command line)`);
  }
  const s = raw.trim();
  const body = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  if (!/^[0-9a-fA-F]{64}$/.test(body)) {
    throw new UsageError(`${PRIVATE_KEY_ENV} is not a private key: expected 64 hex digits with an optional 0x prefix (value not shown)`);
  }
  try {
    return privateKeyToAccount(`0x${body.toLowerCase()}` as Hex);
  } catch {
    throw new UsageError(`${PRIVATE_KEY_ENV} is not a valid secp256k1 private key (zero or ≥ the curve order; value not shown)`);
  }
}

export interface Connection {
  rpcUrl: string;
  chainId: number;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
}

/** Connect to `rpcUrl` and read its chain id (`NetworkError` `RPC_UNREACHABLE` when it does not answer). */
export async function connect(rpcUrl: string, opts: { timeoutMs?: number; pollingIntervalMs?: number } = {}): Promise<Connection> {
  parseRpcUrl(rpcUrl);
  const transport = redactingHttp(rpcUrl, { timeout: opts.timeoutMs ?? 30_000, retryCount: 2 });
  const probe = createPublicClient({ transport });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (e) {
    throw new NetworkError("RPC_UNREACHABLE", `JSON-RPC endpoint ${redactUrl(rpcUrl)} did not answer eth_chainId: ${shortMessage(e)}`, { cause: e });
  }
  const chain = defineChain({
    id: chainId,
    name: networkName(chainId),
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: opts.pollingIntervalMs ?? (chainId === 31337 ? 100 : 2000) });
  return { rpcUrl, chainId, chain, publicClient };
}

export function walletFor(conn: Connection, account: Account): WalletClient<Transport, Chain, Account> {
  return createWalletClient({ chain: conn.chain, account, transport: redactingHttp(conn.rpcUrl, { timeout: 60_000, retryCount: 2 }) });
}

/**
 * viem's http transport to `rpcUrl` whose errors never carry the URL's credentials, path or query: viem puts
 * the URL (and the server's answer, which may echo an API key) into its messages ("URL: …", "Details: …");
 * every error a request throws has that text redacted before anything wraps or prints it, and its
 * "Request body: …" line (our own request, often kilobytes of hex) dropped. viem's shortMessage stays.
 */
export function redactingHttp(rpcUrl: string, config: HttpTransportConfig): HttpTransport {
  const inner = http(rpcUrl, config);
  const redactUrls = secretRedactor([rpcUrl]);
  const redact = (text: string) => redactUrls(text).replace(/^Request body: .*(?:\n|$)/gm, "");
  return ((params: Parameters<HttpTransport>[0]) => {
    const t = inner(params);
    const request = (async (args: unknown, options: unknown) => {
      try {
        return await (t.request as (a: unknown, o: unknown) => Promise<unknown>)(args, options);
      } catch (e) {
        throw redactErrorText(e, redact);
      }
    }) as typeof t.request;
    return { ...t, request };
  }) as HttpTransport;
}

/** viem's short message, one line. */
export function shortMessage(e: unknown): string {
  return firstLine((e as { shortMessage?: string }).shortMessage ?? errorMessage(e));
}
