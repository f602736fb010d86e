import { describe, expect, it } from "vitest";

import { parseSignatureChain } from "../../src/cli/commands/check-signature.js";
import { InputError, UsageError } from "../../src/core/errors.js";
import { redactUrl } from "../../src/core/sanitize.js";
import { accountFromEnv, networkName, parseAddress, parseRpcUrl } from "../../src/registry/connect.js";

const KEY = "0x" + "11".repeat(32);

describe("signing key from the environment", () => {
  it("accepts 64 hex digits with or without 0x, either case, surrounding whitespace", () => {
    const a = accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: KEY });
    expect(accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: ` ${KEY.slice(2).toUpperCase()}\n` }).address).toBe(a.address);
    expect(a.type).toBe("local");
  });

  it("missing, malformed or out-of-range keys are usage errors that never contain the value", () => {
    const cases = ["", "   ", KEY.slice(0, 40), KEY + "00", "0x" + "zz".repeat(32), "0x" + "00".repeat(32), "0x" + "ff".repeat(32)];
    for (const v of cases) {
      let err: unknown;
      try {
        accountFromEnv({ KMS_REGISTRY_PRIVATE_KEY: v });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(v)).toBeInstanceOf(UsageError);
      const msg = (err as Error).message;
      if (v.trim().length > 4) expect(msg).not.toContain(v.trim().slice(2, 20));
      expect(msg).toMatch(/KMS_REGISTRY_PRIVATE_KEY/);
    }
    expect(() => accountFromEnv({})).toThrow(/never taken from the command line/);
  });
});

describe("options", () => {
  it("addresses are checksummed; bad ones name the option", () => {
    expect(parseAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3", "--registry")).toBe("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(() => parseAddress("0x5fbd", "--registry")).toThrow(/--registry must be a 20-byte 0x address/);
  });

  it("RPC URLs must be http(s); credentials and API keys are redacted when shown", () => {
    expect(() => parseRpcUrl("ws://x")).toThrow(/http\(s\)/);
    expect(() => parseRpcUrl("not a url")).toThrow(UsageError);
    expect(redactUrl("https://user:pw@eth-sepolia.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUvWxYz012345?key=1")).toBe("https://eth-sepolia.g.alchemy.com/***");
    // a short key in the path (Infura's /v3/KEY) or the query is hidden too
    expect(redactUrl("https://mainnet.infura.io/v3/abc123")).toBe("https://mainnet.infura.io/***");
    expect(redactUrl("https://rpc.example/?apikey=k")).toBe("https://rpc.example/***");
    expect(redactUrl("http://127.0.0.1:8545/")).toBe("http://127.0.0.1:8545");
    expect(networkName(11155111)).toBe("sepolia");
    expect(networkName(84532)).toBe("base-sepolia");
    expect(networkName(999)).toBe("chain-999");
  });

  it("signature chains: dstack's JSON array, D,A, and Sign's [sig, D, A] (last two), each 65 bytes", () => {
    const d = "aa".repeat(64) + "00";
    const a = "bb".repeat(64) + "01";
    for (const text of [JSON.stringify([d, a]), `${d},${a}`, `0x${d} 0x${a}`, JSON.stringify(["cc".repeat(64), d, a])]) {
      const [x, y] = parseSignatureChain(text);
      expect(Buffer.from(x).toString("hex")).toBe(d);
      expect(Buffer.from(y).toString("hex")).toBe(a);
    }
    expect(() => parseSignatureChain(d)).toThrow(/needs two signatures/);
    expect(() => parseSignatureChain(`${d},abcd`)).toThrow(/must be 65 bytes/);
    expect(() => parseSignatureChain("[not json")).toThrow(InputError);
  });
});
