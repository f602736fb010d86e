/**
 * The chain side: the generated contract ABIs (registry and on-chain DCAP verifier) and the registry's typed
 * viem client, the verifier's collateral layout both ways, connecting to an RPC, deploying and deployment
 * records, the adaptive log scan, the registry's events, the publish step (journalled `register`), the
 * liveness rules, dapp signature checks and the audit that rebuilds a registry's history from its events;
 * and reading dstack's own on-chain KMS contract (DstackKms: its record, allow-lists and history).
 */
export * from "./generated/abi.js";
export * from "./client.js";
export { accountFromEnv, connect, walletFor, networkName, parseAddress, parseRpcUrl, PRIVATE_KEY_ENV, type Connection } from "./connect.js";
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
  type Create2Info,
  type VerifierRecord,
} from "./deployments.js";
export {
  CREATE2_FACTORY,
  DEFAULT_SALT,
  parseSalt,
  planDeterministic,
  planVerifierDeterministic,
  create2Address,
  factoryInstalled,
  installFactory,
  deployDeterministic,
  type DeterministicPlan,
  type DeterministicOptions,
  type DeterministicResult,
  type VerifierPlan,
} from "./create2.js";
export {
  packageRoot,
  artifactPath,
  verifierArtifactPath,
  loadRegistryArtifact,
  loadVerifierArtifact,
  deployRegistry,
  resolveVerifier,
  verifierRecordAt,
  registryVerifier,
  runtimeMatches,
  INTEL_VERIFIER,
  recordOf,
  recordExistingDeployment,
  checkRegistryCode,
  type RegistryArtifact,
  type DeployOptions,
  type VerifierChoice,
} from "./deploy.js";
export {
  toOnChainCollateral,
  fromOnChainCollateral,
  verifierRootArgs,
  decodeVerifierRevert,
  fromOnChainResult,
  VERIFIER_STEPS,
  VERIFIER_REASONS,
  type OnChainCollateral,
  type OnChainResult,
  type VerifierRevert,
  type VerifierStep,
} from "./verifier.js";
export { dcapVerifierAbi } from "./generated/dcap-verifier-abi.js";
export {
  publishKms,
  findRegistrations,
  defaultStateDir,
  checkIdentityShape,
  type KmsIdentity,
  type PublishOptions,
  type PublishResult,
  type PublishStatus,
  type PublishStage,
} from "./publish.js";
export { journalPath, JOURNAL_FORMAT, type Journal } from "./publish-journal.js";
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
  type AuditReport,
  type AuditResult,
  type AuditOptions,
  type AuditProgress,
  type AuditLogCounts,
  type Reverify,
  type ReverifyOutcome,
  type ReverifyContext,
} from "./audit.js";
export {
  reverifyRegistration,
  NO_PUBLISHED_COLLATERAL,
  NO_PUBLISHED_SNP_EVIDENCE,
  type RegistrationEvidence,
  type RegistrationVerdict,
  type ReverifyRegistrationOptions,
  type CollateralSourceHook,
} from "./reverify.js";
export { REGISTRY_PLATFORMS, platformOfRegisteredQuote, type RegistryPlatformInfo } from "./platforms.js";
export {
  rebuildState,
  checkRegistration,
  type AuditKms,
  type AuditCheck,
  type AuditAttestation,
  type AuditRecheck,
  type AttestationPath,
  type OnChainVerdict,
  type Anomaly,
  type AnomalyKind,
} from "./audit-state.js";
export { decodeRegistryLog, type AuditEvent, type RegisteredEvent } from "./events.js";
export {
  LIVENESS_EPOCH_BLOCKS,
  LIVENESS_MAX_AGE,
  LIVENESS_MAX_FUTURE,
  livenessEpochOf,
  livenessAnchorBlock,
  livenessChallengeFor,
  readLivenessChallenge,
  type LivenessChallenge,
} from "./liveness.js";
export { scanLogs, isRangeLimitError, suggestedRange, statedMaxRange, type RawLog, type ScanOptions, type ScanProgress, type ScanResult } from "./logs.js";
export {
  readKmsInfo,
  readContractFacts,
  isAllowed,
  isKmsAllowed,
  scanHistory,
  findDeploymentBlock,
  recordAsAnnounced,
  locateSilentChange,
  changedFields,
  HISTORY_EVENTS,
  type KmsInfoRecord,
  type KmsInfoField,
  type ContractFacts,
  type AllowList,
  type KmsBootInfo,
  type HistoryEvent,
  type HistoryEventName,
  type HistoryScan,
  type ChangePoint,
  type SilentChange,
} from "./dstack-kms.js";
