// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDcapVerifier} from "../dcap/IDcapVerifier.sol";

/// @title IntelRootForTest
/// @notice TEST ONLY. Runs a real `DcapVerifier` (deployed under a forged root) and reports its result
///         as if that root were Intel's: nobody outside Intel can make Intel-rooted collateral for a
///         quote that binds fresh keys, so this is how the tests reach the registry's
///         `isVerifiedOnChain` = true states. Every check is the inner verifier's; reverts pass through
///         unchanged.
contract IntelRootForTest is IDcapVerifier {
    /// @notice The real verifier under the forged root.
    IDcapVerifier public immutable INNER;

    /// @param inner The real verifier.
    constructor(IDcapVerifier inner) {
        INNER = inner;
    }

    /// @inheritdoc IDcapVerifier
    function isIntelRoot() external pure returns (bool) {
        return true;
    }

    /// @inheritdoc IDcapVerifier
    function verify(bytes calldata quote, Collateral calldata c, uint64 time) external view returns (Result memory r) {
        r = INNER.verify(quote, c, time);
        r.isIntelRoot = true;
    }
}
