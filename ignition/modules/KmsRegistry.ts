import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * Deploys the (non-upgradeable) KmsRegistry. Parameter `admin` (DEFAULT_ADMIN_ROLE + REGISTRAR_ROLE)
 * defaults to the deploying account:
 *
 *   npx hardhat ignition deploy ignition/modules/KmsRegistry.ts --network sepolia \
 *     --parameters '{"KmsRegistryModule":{"admin":"0x…"}}'
 */
export default buildModule("KmsRegistryModule", (m) => {
  const admin = m.getParameter("admin", m.getAccount(0));
  const registry = m.contract("KmsRegistry", [admin, "0x0000000000000000000000000000000000000000"]);
  return { registry };
});
