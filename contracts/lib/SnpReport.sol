// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IKmsRegistry} from "../IKmsRegistry.sol";

/// @title SnpReport
/// @notice Reads the fields the registry needs from an AMD SEV-SNP ATTESTATION_REPORT (the 1184-byte
///         structure the AMD secure processor signs; integers little-endian): its version and signature
///         algorithm (1, ECDSA P-384 with SHA-384, the only one AMD defines), report_data
///         (64 bytes at 0x50) and the launch measurement (48 bytes at 0x90). Decoding only: the report's
///         ECDSA P-384 signature by the VCEK and the AMD chain VCEK ← ASK ← ARK are not checked on chain.
/// @dev Reverts with the registry's `SnpReportLengthMismatch`, `UnsupportedSnpReportVersion` and
///      `UnsupportedSnpSignatureAlgorithm`. Report
///      versions 2 to 5 share these offsets and the length (later versions only fill in what was reserved).
library SnpReport {
    /// @notice Length of an SNP attestation report (0x4A0).
    uint256 internal constant LENGTH = 1184;
    /// @notice Offset of report_data (64 bytes).
    uint256 internal constant REPORT_DATA = 0x50;
    /// @notice Offset of the launch measurement (a SHA-384 digest, 48 bytes).
    uint256 internal constant MEASUREMENT = 0x90;
    /// @notice Size of the launch measurement.
    uint256 internal constant MEASUREMENT_SIZE = 48;
    /// @notice The lowest and the highest report version read.
    uint32 internal constant MIN_VERSION = 2;
    uint32 internal constant MAX_VERSION = 5;

    /// @notice The signature algorithm read (ECDSA P-384 with SHA-384) and its offset.
    uint32 internal constant SIGNATURE_ALGORITHM = 1;
    uint256 internal constant SIGNATURE_ALGORITHM_OFFSET = 0x34;

    /// @dev Right shift bringing byte 0 of the report (the version's least significant byte) to the
    ///      lowest byte of the first word.
    uint256 private constant VERSION_SHIFT = 248;

    /// @notice report_data and the image measurement of an SNP report, after checking its length and version.
    /// @param report The raw report.
    /// @return high report_data[0:32].
    /// @return low report_data[32:64].
    /// @return image keccak256(measurement), the 48 bytes at 0x90.
    function read(bytes calldata report) internal pure returns (bytes32 high, bytes32 low, bytes32 image) {
        if (report.length != LENGTH) revert IKmsRegistry.SnpReportLengthMismatch(report.length, LENGTH);
        uint256 w;
        assembly ("memory-safe") {
            w := calldataload(report.offset)
        }
        uint32 version;
        unchecked {
            // constant shifts, folded at compile time; each term keeps a single byte
            version = uint32(
                (w >> VERSION_SHIFT) | (((w >> (VERSION_SHIFT - 8)) & 0xff) << 8)
                    | (((w >> (VERSION_SHIFT - 16)) & 0xff) << 16) | (((w >> (VERSION_SHIFT - 24)) & 0xff) << 24)
            );
        }
        if (version < MIN_VERSION || version > MAX_VERSION) revert IKmsRegistry.UnsupportedSnpReportVersion(version);
        uint32 algorithm;
        assembly ("memory-safe") {
            let a := shr(224, calldataload(add(report.offset, SIGNATURE_ALGORITHM_OFFSET)))
            // the little-endian u32: its four bytes reversed
            algorithm := or(or(shr(24, a), and(shr(8, a), 0xff00)), or(and(shl(8, a), 0xff0000), and(shl(24, a), 0xff000000)))
        }
        if (algorithm != SIGNATURE_ALGORITHM) revert IKmsRegistry.UnsupportedSnpSignatureAlgorithm(algorithm);
        assembly ("memory-safe") {
            high := calldataload(add(report.offset, REPORT_DATA))
            low := calldataload(add(report.offset, add(REPORT_DATA, 32)))
            let m := mload(0x40)
            calldatacopy(m, add(report.offset, MEASUREMENT), MEASUREMENT_SIZE)
            image := keccak256(m, MEASUREMENT_SIZE)
        }
    }
}
