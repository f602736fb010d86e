/**
 * The ABI of dstack's own on-chain KMS contract, `DstackKms` (upgradeable UUPS; Phala's KMS runs one on Base),
 * written by hand from its interface: the KMS record `kmsInfo() → (k256Pubkey, caPubkey, quote, eventlog)` and
 * its setters, the KMS allow-lists and `isKmsAllowed`, the owner and the events they emit.
 *
 * What the contract does and does not announce: `setKmsInfo` writes the whole record and emits
 * `KmsInfoSet(k256Pubkey)` (the root key only, not the evidence); `setKmsQuote` and `setKmsEventlog` replace the
 * quote or the event log alone and emit NOTHING. Each allow-list change emits its `…Added` / `…Removed` event;
 * ownership and upgrades emit OpenZeppelin's `OwnershipTransferred` and ERC-1967's `Upgraded`.
 */
import { parseAbi } from "viem";

export const dstackKmsAbi = parseAbi([
  "struct KmsInfo { bytes k256Pubkey; bytes caPubkey; bytes quote; bytes eventlog; }",
  "struct AppBootInfo { address appId; bytes32 composeHash; address instanceId; bytes32 deviceId; bytes32 mrAggregated; bytes32 mrSystem; bytes32 osImageHash; string tcbStatus; string[] advisoryIds; }",
  "function kmsInfo() view returns (bytes k256Pubkey, bytes caPubkey, bytes quote, bytes eventlog)",
  "function setKmsInfo(KmsInfo info)",
  "function setKmsQuote(bytes quote)",
  "function setKmsEventlog(bytes eventlog)",
  "function kmsAllowedAggregatedMrs(bytes32) view returns (bool)",
  "function kmsAllowedDeviceIds(bytes32) view returns (bool)",
  "function allowedOsImages(bytes32) view returns (bool)",
  "function addKmsAggregatedMr(bytes32 mrAggregated)",
  "function removeKmsAggregatedMr(bytes32 mrAggregated)",
  "function addKmsDevice(bytes32 deviceId)",
  "function removeKmsDevice(bytes32 deviceId)",
  "function addOsImageHash(bytes32 osImageHash)",
  "function removeOsImageHash(bytes32 osImageHash)",
  "function isKmsAllowed(AppBootInfo bootInfo) view returns (bool isAllowed, string reason)",
  "function gatewayAppId() view returns (string)",
  "function appImplementation() view returns (address)",
  "function registeredApps(address) view returns (bool)",
  "function setGatewayAppId(string appId)",
  "function setAppImplementation(address _implementation)",
  "function registerApp(address appId)",
  "function owner() view returns (address)",
  "function transferOwnership(address newOwner)",
  "function upgradeToAndCall(address newImplementation, bytes data) payable",
  "event KmsInfoSet(bytes k256Pubkey)",
  "event KmsAggregatedMrAdded(bytes32 mrAggregated)",
  "event KmsAggregatedMrRemoved(bytes32 mrAggregated)",
  "event KmsDeviceAdded(bytes32 deviceId)",
  "event KmsDeviceRemoved(bytes32 deviceId)",
  "event OsImageHashAdded(bytes32 osImageHash)",
  "event OsImageHashRemoved(bytes32 osImageHash)",
  "event GatewayAppIdSet(string gatewayAppId)",
  "event AppImplementationSet(address implementation)",
  "event AppRegistered(address appId)",
  "event AppDeployedViaFactory(address indexed appId, address indexed deployer)",
  "event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
  "event Upgraded(address indexed implementation)",
  "event Initialized(uint64 version)",
]);

/** The functions that change the KMS record's evidence without emitting any event. */
export const SILENT_EVIDENCE_SETTERS = ["setKmsQuote", "setKmsEventlog"] as const;

/** The ERC-1967 implementation slot: keccak256("eip1967.proxy.implementation") - 1. */
export const ERC1967_IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc" as const;
