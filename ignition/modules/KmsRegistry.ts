import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import { INTEL_SGX_ROOT_CA_DER } from "../../src/dcap/intel-root.js";
import { verifierRootArgs } from "../../src/registry/verifier.js";

const [ROOT_X, ROOT_Y, ROOT_SUBJECT_HASH, ROOT_SERIAL] = verifierRootArgs(INTEL_SGX_ROOT_CA_DER);

/**
 * The on-chain DCAP verifier, pinned to Intel's SGX Root CA (parameters `rootX`, `rootY`, `rootSubjectHash`,
 * `rootSerial` pin another root — development only).
 */
export const DcapVerifierModule = buildModule("DcapVerifierModule", (m) => {
  const verifier = m.contract("DcapVerifier", [
    m.getParameter("rootX", ROOT_X),
    m.getParameter("rootY", ROOT_Y),
    m.getParameter("rootSubjectHash", ROOT_SUBJECT_HASH),
    m.getParameter("rootSerial", ROOT_SERIAL),
  ]);
  return { verifier };
});

/**
 * Deploys the DcapVerifier and the (non-upgradeable) KmsRegistry using it. Parameter `admin`
 * (DEFAULT_ADMIN_ROLE + REGISTRAR_ROLE) defaults to the deploying account:
 *
 *   npx hardhat ignition deploy ignition/modules/KmsRegistry.ts --network sepolia \
 *     --parameters '{"KmsRegistryModule":{"admin":"0x…"}}'
 *
 * With `--strategy create2` both go through CreateX with the salt of hardhat.config.ts
 * (`ignition.strategyConfig.create2.salt`): the same addresses on every chain for the same admin.
 */
export default buildModule("KmsRegistryModule", (m) => {
  const admin = m.getParameter("admin", m.getAccount(0));
  const { verifier } = m.useModule(DcapVerifierModule);
  const registry = m.contract("KmsRegistry", [admin, verifier]);
  return { registry, verifier };
});
