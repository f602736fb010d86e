// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IKmsRegistry} from "../IKmsRegistry.sol";

/// @title ReaderBatch
/// @notice Calls a registry's evidence readers (`nitroDocumentFields`, `snpReportFields`) on many inputs in one
///         call, each as its own static call, and returns each outcome untouched: whether it returned, and its
///         return data or its revert data. For the differential tests, which compare thousands of readings
///         with the off-chain readers' (one JSON-RPC call per input would dominate their run time).
contract ReaderBatch {
    /// @notice `registry.nitroDocumentFields(documents[i])` for each i.
    /// @param registry The registry whose reader runs.
    /// @param documents The inputs.
    /// @return ok Whether each call returned.
    /// @return data Each call's return data (ok) or revert data.
    function nitro(IKmsRegistry registry, bytes[] calldata documents)
        external
        view
        returns (bool[] memory ok, bytes[] memory data)
    {
        (ok, data) = (new bool[](documents.length), new bytes[](documents.length));
        for (uint256 i = 0; i < documents.length; ++i) {
            (ok[i], data[i]) =
                address(registry).staticcall(abi.encodeCall(IKmsRegistry.nitroDocumentFields, (documents[i])));
        }
    }

    /// @notice `registry.snpReportFields(reports[i])` for each i.
    /// @param registry The registry whose reader runs.
    /// @param reports The inputs.
    /// @return ok Whether each call returned.
    /// @return data Each call's return data (ok) or revert data.
    function snp(IKmsRegistry registry, bytes[] calldata reports)
        external
        view
        returns (bool[] memory ok, bytes[] memory data)
    {
        (ok, data) = (new bool[](reports.length), new bytes[](reports.length));
        for (uint256 i = 0; i < reports.length; ++i) {
            (ok[i], data[i]) = address(registry).staticcall(abi.encodeCall(IKmsRegistry.snpReportFields, (reports[i])));
        }
    }
}
