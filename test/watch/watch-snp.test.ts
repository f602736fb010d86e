/**
 * `kms-registry watch` on SEV-SNP registrations: a real `hardhat node`, the registry's real `registerSnp` with
 * a test AMD world's report (binding fresh keys), VCEK and ASK/ARK chain. Each registration is a proper
 * `registered` finding naming the platform, re-verified from the VCEK and AMD chain it published at its block
 * time, with no collateral option: under the test ARK given with `--root-ca` it verifies and is NOT GENUINE;
 * under AMD's pinned ARK it is not verifiable (the chain ends at a test ARK: a critical finding). A report
 * whose guest policy allows debugging is refused by the policy rule. A TDX registration next to them, without
 * collateral given, is not re-verified (as before).
 */
import { describe, expect, it } from "vitest";

import type { TestChain } from "../registry/chain-helpers.js";
import { registerSnpKms, snpTestWorld, type SnpRegistration, type SnpTestWorld } from "../registry/snp-helpers.js";
import { startWatch } from "./helpers.js";
import { findingsOf, usePlatformHistory, watchBase } from "./platform-watch.js";

let chain: TestChain;
let w: SnpTestWorld;
let good: SnpRegistration;
let debug: SnpRegistration;
let tdx: string;
usePlatformHistory(
  async (c) => {
    w = snpTestWorld(c.tmp);
    return { good: await registerSnpKms(c, w), debug: await registerSnpKms(c, w, { policy: 0x30000n | (1n << 19n) }) };
  },
  (h) => ({ chain, good, debug, tdx } = h),
);

const of = findingsOf;
const base = () => watchBase(chain);

describe("watch: SEV-SNP registrations", () => {
  it("--root-ca <test ARK>: registered, platform sev-snp, verified from the published VCEK and AMD chain, NOT GENUINE; the debug policy is refused", async () => {
    const p = startWatch([...base(), "--root-ca", w.arkFile]);
    try {
      const fs = await p.until((f) => of(f, "registered", tdx).length === 1, "the three registrations");
      const reg = of(fs, "registered", good.kms);
      expect(reg).toHaveLength(1);
      expect(reg[0]!.severity).toBe("info");
      expect(reg[0]!.message).toMatch(/^registered by 0x[0-9a-fA-F]{40} \(attestation #1, sev-snp, quote 0x[0-9a-f]{16}…\): quote hash, KMS address and key binding ok; re-verified: verified: SEV-SNP report \(Milan\) signed by its VCEK \(NOT GENUINE: test ARK, not AMD's\); AMD revocation NOT re-checked: no CRL was published on chain for this registration \(no KmsSnpCrlPublished\) \(with the VCEK and AMD chain published on chain, at the registration's block time \d+\)$/);
      expect(of(fs, "quote-not-verifiable", good.kms)).toEqual([]);
      expect(of(fs, "quote-unparseable", good.kms)).toEqual([]);
      // the debug policy: verified, then refused by the policy rule (a critical finding)
      expect(of(fs, "registered", debug.kms)[0]!.message).toMatch(/sev-snp.*guest policy is refused: snp\.policy\.debug/);
      expect(of(fs, "quote-not-verifiable", debug.kms)).toEqual([expect.objectContaining({ severity: "critical", message: expect.stringMatching(/snp\.policy\.debug: the guest policy allows debugging/) as unknown })]);
      // TDX without collateral: not re-verified, as before
      expect(of(fs, "registered", tdx)[0]!.message).toMatch(/\(attestation #1, tdx, quote .*key binding ok$/);
      expect(fs.filter((f) => f.kind === "quote-unparseable")).toEqual([]);
      expect(await p.stop("SIGTERM")).toBe(0);
    } finally {
      await p.stop("SIGKILL");
    }
  });

  it("under AMD's pinned ARK (no --root-ca): the published chain ends at a test ARK, a critical quote-not-verifiable finding naming SNP_ARK_NOT_PINNED", async () => {
    const p = startWatch(base());
    try {
      const fs = await p.until((f) => of(f, "registered", tdx).length === 1, "the three registrations");
      expect(of(fs, "registered", good.kms)[0]!.message).toMatch(/\(attestation #1, sev-snp, .*re-verified: SNP_ARK_NOT_PINNED: .*not the pinned ARK-Milan/);
      expect(of(fs, "quote-not-verifiable", good.kms)).toEqual([expect.objectContaining({ severity: "critical", message: expect.stringMatching(/SNP_ARK_NOT_PINNED/) as unknown })]);
      expect(p.stderr()).toMatch(/re-verifying SEV-SNP and AWS Nitro Enclave registrations/);
      expect(await p.stop("SIGTERM")).toBe(0);
    } finally {
      await p.stop("SIGKILL");
    }
  });
});
