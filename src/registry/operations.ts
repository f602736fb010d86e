/**
 * Registry operations (issue #6): deploy and deployment records, publish, liveness, dapp signature checks,
 * audit, the adaptive log scan, and the local JSON-RPC node helper. Re-exported by the package root.
 */
export { accountFromEnv, connect, walletFor, networkName, parseAddress, parseRpcUrl, redactUrl, PRIVATE_KEY_ENV, type Connection } from "./connect.js";
export {
  DEPLOYMENT_FORMAT,
  deploymentPath,
  validateDeploymentRecord,
  readDeployment,
  readDeploymentFile,
  findDeploymentByAddress,
  writeDeployment,
  checkChainAgainstRecord,
  type DeploymentRecord,
} from "./deployments.js";
export { packageRoot, artifactPath, loadRegistryArtifact, deployRegistry, recordOf, recordExistingDeployment, checkRegistryCode, type RegistryArtifact, type DeployOptions } from "./deploy.js";
export {
  publishKms,
  findRegistrations,
  defaultStateDir,
  journalPath,
  revertReason,
  checkIdentityShape,
  type KmsIdentity,
  type PublishOptions,
  type PublishResult,
  type PublishStatus,
  type PublishStage,
} from "./publish.js";
export { verifyForPublish, type GateInput, type GateOptions, type GateResult } from "./verify-gate.js";
export { proveLiveness, getAppEnvEncryptPubKey, getKmsK256Pubkey, fetchJsonPost, type EnvEncryptAnswer, type LivenessResult, type JsonPost } from "./liveness.js";
export {
  checkAppKeySignature,
  checkEnvKeySignature,
  checkKeyChain,
  type SignatureCheckResult as KmsSignatureCheckResult,
  type SideVerdict,
  type SignatureKind,
} from "./check-signature.js";
export {
  auditRegistry,
  auditJson,
  rebuildState,
  checkRegistration,
  decodeRegistryLog,
  type AuditEvent,
  type AuditKms,
  type AuditCheck,
  type AuditReport,
  type AuditOptions,
  type Anomaly,
  type AnomalyKind,
  type Reverify,
  type ReverifyOutcome,
} from "./audit.js";
export { scanLogs, isRangeLimitError, suggestedRange, statedMaxRange, type RawLog, type ScanOptions, type ScanProgress, type ScanResult } from "./logs.js";
export { startDevNode, freePort, stopChild, hardhatCli, type DevNode } from "./devnode.js";
