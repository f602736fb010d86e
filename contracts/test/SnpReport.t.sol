// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IKmsRegistry} from "../IKmsRegistry.sol";
import {KmsRegistry} from "../KmsRegistry.sol";

/// @dev Fuzz tests of the registry's SEV-SNP report reader (`snpReportFields`, as `registerSnp` reads it).
contract SnpReportFuzzTest {
    KmsRegistry internal registry;

    function setUp() public {
        registry = new KmsRegistry(address(this), address(0));
    }

    /// @dev A 1184-byte report of a version 2–5 and signature algorithm 1 with arbitrary contents: report_data is bytes 0x50–0x8F and the
    ///      image measurement keccak256 of bytes 0x90–0xBF.
    function testFuzz_ReadsReportDataAndMeasurement(bytes32 seed, uint8 versionPick) public view {
        bytes memory r = new bytes(1184);
        for (uint256 i = 0; i < 1184; i += 32) {
            bytes32 w = keccak256(abi.encode(seed, i));
            for (uint256 j = 0; j < 32 && i + j < 1184; ++j) r[i + j] = w[j];
        }
        uint32 version = 2 + uint32(versionPick % 4);
        r[0] = bytes1(uint8(version));
        r[1] = 0;
        r[2] = 0;
        r[3] = 0;
        r[0x34] = 0x01;
        r[0x35] = 0;
        r[0x36] = 0;
        r[0x37] = 0;
        (bytes32 high, bytes32 low, bytes32 image) = registry.snpReportFields(r);
        bytes32 wantHigh;
        bytes32 wantLow;
        bytes memory m = new bytes(48);
        assembly ("memory-safe") {
            wantHigh := mload(add(r, add(0x20, 0x50)))
            wantLow := mload(add(r, add(0x20, 0x70)))
        }
        for (uint256 j = 0; j < 48; ++j) m[j] = r[0x90 + j];
        require(high == wantHigh && low == wantLow, "report_data");
        require(image == keccak256(m), "measurement");
    }

    /// @dev Any other length reverts with SnpReportLengthMismatch(length, 1184).
    function testFuzz_RejectsOtherLengths(uint16 length) public view {
        uint256 n = uint256(length) % 4096;
        if (n == 1184) n = 1185;
        bytes memory r = new bytes(n);
        if (n > 0) r[0] = 0x02;
        try registry.snpReportFields(r) {
            revert("accepted a report of the wrong length");
        } catch (bytes memory err) {
            require(
                keccak256(err) == keccak256(abi.encodeWithSelector(IKmsRegistry.SnpReportLengthMismatch.selector, n, 1184)),
                "wrong error"
            );
        }
    }

    /// @dev Versions outside 2–5 revert with UnsupportedSnpReportVersion(version).
    function testFuzz_RejectsOtherVersions(uint32 version) public view {
        if (version >= 2 && version <= 5) version += 4;
        bytes memory r = new bytes(1184);
        r[0] = bytes1(uint8(version));
        r[1] = bytes1(uint8(version >> 8));
        r[2] = bytes1(uint8(version >> 16));
        r[3] = bytes1(uint8(version >> 24));
        try registry.snpReportFields(r) {
            revert("accepted an unsupported version");
        } catch (bytes memory err) {
            require(
                keccak256(err) == keccak256(abi.encodeWithSelector(IKmsRegistry.UnsupportedSnpReportVersion.selector, version)),
                "wrong error"
            );
        }
    }

    /// @dev Signature algorithms other than 1 revert with UnsupportedSnpSignatureAlgorithm(algorithm).
    function testFuzz_RejectsOtherSignatureAlgorithms(uint32 algorithm) public view {
        if (algorithm == 1) algorithm = 2;
        bytes memory r = new bytes(1184);
        r[0] = 0x03;
        r[0x34] = bytes1(uint8(algorithm));
        r[0x35] = bytes1(uint8(algorithm >> 8));
        r[0x36] = bytes1(uint8(algorithm >> 16));
        r[0x37] = bytes1(uint8(algorithm >> 24));
        try registry.snpReportFields(r) {
            revert("accepted another signature algorithm");
        } catch (bytes memory err) {
            require(
                keccak256(err)
                    == keccak256(abi.encodeWithSelector(IKmsRegistry.UnsupportedSnpSignatureAlgorithm.selector, algorithm)),
                "wrong error"
            );
        }
    }
}
