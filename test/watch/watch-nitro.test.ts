/**
 * `kms-registry watch` on AWS Nitro Enclave registrations: a real `hardhat node`, the registry's real
 * `registerNitro` with a test Nitro world's NSM documents (binding fresh keys). Each registration is a proper
 * `registered` finding naming the platform, re-verified from the document it registered (its own certificate
 * chain, at its timestamp), with no collateral option: under the test root given with `--root-ca` it verifies
 * and is NOT GENUINE; under AWS's pinned Nitro Enclaves Root-G1 it is not verifiable (the cabundle starts at a
 * test root: a critical finding). A debug-mode enclave (PCR0–2 all zero) is refused by the policy rule. A TDX
 * registration next to them, without collateral given, is not re-verified.
 */
import { describe, expect, it } from "vitest";

import { debugPcrs } from "../../src/testing/platforms/nitro-world.js";
import type { TestChain } from "../registry/chain-helpers.js";
import { nitroTestWorld, registerNitroKms, type NitroRegistration, type NitroTestWorld } from "../registry/nitro-helpers.js";
import { startWatch } from "./helpers.js";
import { findingsOf, usePlatformHistory, watchBase } from "./platform-watch.js";

let chain: TestChain;
let w: NitroTestWorld;
let good: NitroRegistration;
let debug: NitroRegistration;
let tdx: string;
usePlatformHistory(
  async (c) => {
    w = nitroTestWorld(c.tmp);
    return { good: await registerNitroKms(c, w), debug: await registerNitroKms(c, w, { pcrs: debugPcrs() }) };
  },
  (h) => ({ chain, good, debug, tdx } = h),
);

const of = findingsOf;
const base = () => watchBase(chain);

describe("watch: AWS Nitro Enclave registrations", () => {
  it("--root-ca <test root>: registered, platform nitro-enclave, verified from the document's own chain, NOT GENUINE; the debug-mode enclave is refused", async () => {
    const p = startWatch([...base(), "--root-ca", w.rootFile]);
    try {
      const fs = await p.until((f) => of(f, "registered", tdx).length === 1, "the three registrations");
      const reg = of(fs, "registered", good.kms);
      expect(reg).toHaveLength(1);
      expect(reg[0]!.severity).toBe("info");
      expect(reg[0]!.tx).toBe(good.tx);
      expect(reg[0]!.message).toMatch(
        /^registered by 0x[0-9a-fA-F]{40} \(attestation #1, nitro-enclave, quote 0x[0-9a-f]{16}…\): quote hash, KMS address and key binding ok; re-verified: verified: AWS Nitro Enclave document of module i-0123456789abcdef0-enc0123456789abcdef stamped \d{4}-\d\d-\d\dT[\d:.]+Z, ES384 signature verified \(NOT GENUINE: a test root, not AWS's\); os_image_hash [0-9a-f]{64} \(from the document registered on chain \(its own certificate chain\), at its timestamp\)$/,
      );
      expect(of(fs, "quote-not-verifiable", good.kms)).toEqual([]);
      expect(of(fs, "quote-unparseable", good.kms)).toEqual([]);
      // the debug-mode enclave: verified, then refused by the policy rule (a critical finding)
      expect(of(fs, "registered", debug.kms)[0]!.message).toMatch(/nitro-enclave.*the policy is refused: enclave\.debug/);
      expect(of(fs, "quote-not-verifiable", debug.kms)).toEqual([expect.objectContaining({ severity: "critical", message: expect.stringMatching(/enclave\.debug: PCR0, PCR1 and PCR2 are all zero/) as unknown })]);
      // TDX without collateral: not re-verified
      expect(of(fs, "registered", tdx)[0]!.message).toMatch(/\(attestation #1, tdx, quote .*key binding ok$/);
      expect(fs.filter((f) => f.kind === "quote-unparseable")).toEqual([]);
      expect(p.stderr()).toMatch(/re-verifying SEV-SNP and AWS Nitro Enclave registrations/);
      expect(await p.stop("SIGTERM")).toBe(0);
    } finally {
      await p.stop("SIGKILL");
    }
  });

  it("under AWS's pinned root (no --root-ca): the cabundle starts at a test root, a critical quote-not-verifiable finding naming NITRO_ROOT_NOT_PINNED", async () => {
    const p = startWatch(base());
    try {
      const fs = await p.until((f) => of(f, "registered", tdx).length === 1, "the three registrations");
      expect(of(fs, "registered", good.kms)[0]!.message).toMatch(/\(attestation #1, nitro-enclave, .*re-verified: NITRO_ROOT_NOT_PINNED: .*not AWS's Nitro Enclaves Root-G1/);
      expect(of(fs, "quote-not-verifiable", good.kms)).toEqual([expect.objectContaining({ severity: "critical", message: expect.stringMatching(/NITRO_ROOT_NOT_PINNED/) as unknown })]);
      expect(await p.stop("SIGTERM")).toBe(0);
    } finally {
      await p.stop("SIGKILL");
    }
  });
});
