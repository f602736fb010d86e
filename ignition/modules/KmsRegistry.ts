import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Deploys the on-chain DCAP verifier (DcapVerifier) and the (non-upgradeable) KmsRegistry built with it.
 * Parameters: `admin` (DEFAULT_ADMIN_ROLE + REGISTRAR_ROLE, default the deploying account) and the verifier's
 * trust root, `rootX`, `rootY`, `rootSubjectHash`, `rootSerial` (default Intel's SGX Root CA: its P-256 key,
 * keccak256 of its subject Name, its serial number; `verifierRootArgs` in src/registry/verifier.ts computes
 * them for another root, which is then NOT GENUINE):
 *
 *   npx hardhat ignition deploy ignition/modules/KmsRegistry.ts --network sepolia \
 *     --parameters '{"KmsRegistryModule":{"admin":"0x…"}}'
 *
 * With `--strategy create2` both go through CreateX with the salt of hardhat.config.ts
 * (`ignition.strategyConfig.create2.salt`): the same addresses on every chain for the same admin and root.
 */
export const INTEL_ROOT_ARGS = {
  rootX: "0x0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5",
  rootY: "0x67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394",
  rootSubjectHash: "0x3112c8e9428b5c08824e727e3ea896f3597c8a91caeafe57d64a4bc08df71dfb",
  rootSerial: 196359179761366614807367070329177786922392028844n,
} as const;

export default buildModule("KmsRegistryModule", (m) => {
  const admin = m.getParameter("admin", m.getAccount(0));
  const verifier = m.contract("DcapVerifier", [
    m.getParameter("rootX", INTEL_ROOT_ARGS.rootX),
    m.getParameter("rootY", INTEL_ROOT_ARGS.rootY),
    m.getParameter("rootSubjectHash", INTEL_ROOT_ARGS.rootSubjectHash),
    m.getParameter("rootSerial", INTEL_ROOT_ARGS.rootSerial),
  ]);
  const registry = m.contract("KmsRegistry", [admin, verifier]);
  return { verifier, registry };
});
