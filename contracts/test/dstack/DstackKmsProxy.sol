// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title DstackKmsProxy
/// @notice The ERC-1967 proxy the test double of dstack's KMS contract is deployed behind (for tests only).
contract DstackKmsProxy is ERC1967Proxy {
    /// @notice Point at `implementation` and run `data` (its initializer) on the proxy's storage.
    constructor(address implementation, bytes memory data) payable ERC1967Proxy(implementation, data) {}
}
