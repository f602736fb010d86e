// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DcapVerifier} from "../dcap/DcapVerifier.sol";
import {IDcapVerifier} from "../dcap/IDcapVerifier.sol";
import {IntelJson} from "../dcap/IntelJson.sol";

/// @title DcapVerifierHarness
/// @notice Measures the execution gas of one `DcapVerifier.verify` call, for gas figures.
contract DcapVerifierHarness {
    /// @notice The gas `verifier.verify(quote, c, time)` consumed (its call, ABI decoding and execution)
    ///         and the status it returned.
    function measure(DcapVerifier verifier, bytes calldata quote, IDcapVerifier.Collateral calldata c, uint64 time)
        external
        view
        returns (uint256 gasUsed, IntelJson.TcbStatus status)
    {
        uint256 g = gasleft();
        IDcapVerifier.Result memory r = verifier.verify(quote, c, time);
        gasUsed = g - gasleft();
        status = r.status;
    }
}
