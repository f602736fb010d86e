// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";

import {IAppAuth} from "./IAppAuth.sol";

/// @title DstackKms (test double)
/// @notice A stand-in for dstack's own on-chain KMS contract, for tests only: the same external functions,
///         events and storage semantics for the KMS record and its allow-lists. The owner writes the record
///         (`setKmsInfo`, announced by `KmsInfoSet` with the root key only) and may later replace its
///         quote or event log alone (`setKmsQuote`, `setKmsEventlog`) WITHOUT any event, exactly as the
///         real contract does. Deployed behind an ERC-1967 proxy (UUPS, owner-authorized upgrades).
///         Not provided: the app factory (`deployAndRegisterApp`) and app boot checks (`isAppAllowed`).
contract DstackKms is Ownable, Initializable, UUPSUpgradeable {
    /// @notice The KMS record: its secp256k1 root key, its CA key and the evidence binding them.
    struct KmsInfo {
        bytes k256Pubkey;
        bytes caPubkey;
        bytes quote;
        bytes eventlog;
    }

    /// @notice The current KMS record.
    KmsInfo public kmsInfo;
    /// @notice The dstack-gateway's app id.
    string public gatewayAppId;
    /// @notice Registered apps.
    mapping(address => bool) public registeredApps;
    /// @notice Aggregated measurements a KMS may run with.
    mapping(bytes32 => bool) public kmsAllowedAggregatedMrs;
    /// @notice Devices a KMS may run on.
    mapping(bytes32 => bool) public kmsAllowedDeviceIds;
    /// @notice OS images a CVM may boot.
    mapping(bytes32 => bool) public allowedOsImages;
    /// @notice The app implementation the factory would deploy.
    address public appImplementation;

    /// @notice An app was registered.
    event AppRegistered(address appId);
    /// @notice The whole KMS record was written (the event names the root key only).
    event KmsInfoSet(bytes k256Pubkey);
    /// @notice An aggregated measurement was allowed.
    event KmsAggregatedMrAdded(bytes32 mrAggregated);
    /// @notice An aggregated measurement was disallowed.
    event KmsAggregatedMrRemoved(bytes32 mrAggregated);
    /// @notice A device was allowed.
    event KmsDeviceAdded(bytes32 deviceId);
    /// @notice A device was disallowed.
    event KmsDeviceRemoved(bytes32 deviceId);
    /// @notice An OS image was allowed.
    event OsImageHashAdded(bytes32 osImageHash);
    /// @notice An OS image was disallowed.
    event OsImageHashRemoved(bytes32 osImageHash);
    /// @notice The gateway's app id was set.
    event GatewayAppIdSet(string gatewayAppId);
    /// @notice The app implementation was set.
    event AppImplementationSet(address implementation);
    /// @notice The factory deployed an app (declared for the ABI; this double has no factory).
    event AppDeployedViaFactory(address indexed appId, address indexed deployer);

    /// @notice The implementation itself is owned by its deployer and can never be initialized.
    constructor() Ownable(msg.sender) {
        _disableInitializers();
    }

    /// @notice Initialize the proxy: its owner and, optionally, the app implementation.
    function initialize(address initialOwner, address _appImplementation) external initializer {
        _transferOwnership(initialOwner);
        if (_appImplementation != address(0)) {
            appImplementation = _appImplementation;
            emit AppImplementationSet(_appImplementation);
        }
    }

    /// @notice Write the whole KMS record.
    function setKmsInfo(KmsInfo calldata info) external onlyOwner {
        kmsInfo = info;
        emit KmsInfoSet(info.k256Pubkey);
    }

    /// @notice Replace the record's quote; no event.
    function setKmsQuote(bytes calldata quote) external onlyOwner {
        kmsInfo.quote = quote;
    }

    /// @notice Replace the record's event log; no event.
    function setKmsEventlog(bytes calldata eventlog) external onlyOwner {
        kmsInfo.eventlog = eventlog;
    }

    /// @notice Set the gateway's app id.
    function setGatewayAppId(string calldata appId) external onlyOwner {
        gatewayAppId = appId;
        emit GatewayAppIdSet(appId);
    }

    /// @notice Register an app (anyone may).
    function registerApp(address appId) public {
        // solhint-disable-next-line gas-custom-errors
        require(appId != address(0), "Invalid app ID");
        registeredApps[appId] = true;
        emit AppRegistered(appId);
    }

    /// @notice Set the app implementation.
    function setAppImplementation(address _implementation) external onlyOwner {
        // solhint-disable-next-line gas-custom-errors
        require(_implementation != address(0), "Invalid implementation address");
        appImplementation = _implementation;
        emit AppImplementationSet(_implementation);
    }

    /// @notice Allow an aggregated measurement.
    function addKmsAggregatedMr(bytes32 mrAggregated) external onlyOwner {
        kmsAllowedAggregatedMrs[mrAggregated] = true;
        emit KmsAggregatedMrAdded(mrAggregated);
    }

    /// @notice Disallow an aggregated measurement.
    function removeKmsAggregatedMr(bytes32 mrAggregated) external onlyOwner {
        kmsAllowedAggregatedMrs[mrAggregated] = false;
        emit KmsAggregatedMrRemoved(mrAggregated);
    }

    /// @notice Allow a device.
    function addKmsDevice(bytes32 deviceId) external onlyOwner {
        kmsAllowedDeviceIds[deviceId] = true;
        emit KmsDeviceAdded(deviceId);
    }

    /// @notice Disallow a device.
    function removeKmsDevice(bytes32 deviceId) external onlyOwner {
        kmsAllowedDeviceIds[deviceId] = false;
        emit KmsDeviceRemoved(deviceId);
    }

    /// @notice Allow an OS image.
    function addOsImageHash(bytes32 osImageHash) external onlyOwner {
        allowedOsImages[osImageHash] = true;
        emit OsImageHashAdded(osImageHash);
    }

    /// @notice Disallow an OS image.
    function removeOsImageHash(bytes32 osImageHash) external onlyOwner {
        allowedOsImages[osImageHash] = false;
        emit OsImageHashRemoved(osImageHash);
    }

    /// @notice Whether a KMS may boot: TCB "UpToDate", then its OS image, aggregated measurement and
    ///         device each allowed, checked in that order; the first refusal is the reason.
    function isKmsAllowed(IAppAuth.AppBootInfo calldata bootInfo) external view returns (bool isAllowed, string memory reason) {
        if (keccak256(bytes(bootInfo.tcbStatus)) != keccak256("UpToDate")) return (false, "TCB status is not up to date");
        if (!allowedOsImages[bootInfo.osImageHash]) return (false, "OS image is not allowed");
        if (!kmsAllowedAggregatedMrs[bootInfo.mrAggregated]) return (false, "Aggregated MR not allowed");
        // solhint-disable-next-line gas-small-strings
        if (!kmsAllowedDeviceIds[bootInfo.deviceId]) return (false, "KMS is not allowed to boot on this device");
        return (true, "");
    }

    /// @dev Upgrades are the owner's.
    // solhint-disable-next-line no-empty-blocks
    function _authorizeUpgrade(address) internal override onlyOwner {}
}
