// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IAppAuth
/// @notice The boot-authorization interface of dstack's on-chain KMS contracts, with the same struct and
///         function signature, so that the test double's ABI equals the deployed contract's.
interface IAppAuth {
    /// @notice What a CVM presents when it asks to boot: its identity and dstack's measurements of it.
    struct AppBootInfo {
        address appId;
        bytes32 composeHash;
        address instanceId;
        bytes32 deviceId;
        bytes32 mrAggregated;
        bytes32 mrSystem;
        bytes32 osImageHash;
        string tcbStatus;
        string[] advisoryIds;
    }

    /// @notice Whether the app described by `bootInfo` may boot, and why not.
    function isAppAllowed(AppBootInfo calldata bootInfo) external view returns (bool isAllowed, string memory reason);
}
