// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IKmsRegistry} from "../IKmsRegistry.sol";
import {KmsRegistry} from "../KmsRegistry.sol";

/// @dev Fuzz tests of the registry's Nitro document reader (`nitroDocumentFields`, as `registerNitro` reads it):
///      a well-formed NSM-shaped document is read exactly; every truncation and arbitrary bytes revert with
///      one of the reader's errors, never a panic or an empty revert.
/// @dev The reader's largest timestamp (2^53 - 1).
library NitroMax {
    uint256 internal constant TIMESTAMP = 0x1fffffffffffff;
}

contract NitroDocumentFuzzTest {
    KmsRegistry internal registry;

    function setUp() public {
        registry = new KmsRegistry(address(this), address(0));
    }

    /// @dev A CBOR byte string head of length n (n < 65536).
    function _bstrHead(uint256 n) internal pure returns (bytes memory) {
        if (n < 24) return abi.encodePacked(uint8(0x40 + n));
        if (n < 256) return abi.encodePacked(uint8(0x58), uint8(n));
        return abi.encodePacked(uint8(0x59), uint16(n));
    }

    function _bstr(bytes memory b) internal pure returns (bytes memory) {
        return bytes.concat(_bstrHead(b.length), b);
    }

    function _text(string memory t) internal pure returns (bytes memory) {
        uint256 n = bytes(t).length;
        bytes memory h = n < 24 ? abi.encodePacked(uint8(0x60 + n)) : abi.encodePacked(uint8(0x78), uint8(n));
        return bytes.concat(h, bytes(t));
    }

    function _fill(bytes32 seed, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 i = 0; i < n; ++i) out[i] = keccak256(abi.encode(seed, i))[0];
    }

    /// @dev An NSM-shaped document: an indefinite payload map (as the NSM writes it) of module_id, digest,
    ///      timestamp, pcrs (0–3), certificate, cabundle (2), public_key null, user_data, nonce null.
    function _document(bytes32 seed, uint64 ts, bool tagged) internal pure returns (bytes memory doc, bytes memory pcr012, bytes memory userData) {
        bytes memory pcrs = hex"a4";
        pcr012 = _fill(seed, 144);
        for (uint256 i = 0; i < 4; ++i) {
            bytes memory v = new bytes(48);
            if (i < 3) for (uint256 j = 0; j < 48; ++j) v[j] = pcr012[i * 48 + j];
            pcrs = bytes.concat(pcrs, abi.encodePacked(uint8(i)), _bstr(v));
        }
        userData = _fill(keccak256(abi.encode(seed, "user")), 64);
        bytes memory payload = bytes.concat(hex"bf", _text("module_id"), _text("i-0123456789abcdef0-enc0123456789abcdef"));
        payload = bytes.concat(payload, _text("digest"), _text("SHA384"), _text("timestamp"));
        payload = bytes.concat(payload, abi.encodePacked(uint8(0x1b), ts), _text("pcrs"), pcrs);
        payload = bytes.concat(payload, _text("certificate"), _bstr(_fill(seed, 300)), _text("cabundle"));
        payload = bytes.concat(payload, hex"82", _bstr(_fill(seed, 200)), _bstr(_fill(seed, 250)));
        payload = bytes.concat(payload, _text("public_key"), hex"f6", _text("user_data"));
        payload = bytes.concat(payload, _bstr(userData), _text("nonce"), hex"f6ff");
        doc = bytes.concat(hex"84", _bstr(hex"a1013822"), hex"a0", _bstr(payload), _bstr(_fill(seed, 96)));
        if (tagged) doc = bytes.concat(hex"d2", doc);
    }

    /// @dev Whether `err` is one of the reader's typed errors (or ReportDataMismatch-free: the reader's only).
    function _isReaderError(bytes memory err) internal pure returns (bool) {
        if (err.length < 4) return false;
        bytes4 s = bytes4(err);
        return s == IKmsRegistry.CborTruncated.selector || s == IKmsRegistry.CborUnsupported.selector
            || s == IKmsRegistry.NitroDocumentMalformed.selector || s == IKmsRegistry.NitroFieldMissing.selector
            || s == IKmsRegistry.NitroUserDataLengthMismatch.selector;
    }

    /// @dev A well-formed document: user_data, sha256(PCR0 ‖ PCR1 ‖ PCR2) and the timestamp, tagged or not.
    function testFuzz_ReadsUserDataPcrsAndTimestamp(bytes32 seed, uint64 ts, bool tagged) public view {
        ts = uint64(1 + (uint256(ts) % NitroMax.TIMESTAMP));
        (bytes memory doc, bytes memory pcr012, bytes memory userData) = _document(seed, ts, tagged);
        (bytes32 high, bytes32 low, bytes32 image, uint64 stamped) = registry.nitroDocumentFields(doc);
        bytes32 wantHigh;
        bytes32 wantLow;
        assembly ("memory-safe") {
            wantHigh := mload(add(userData, 0x20))
            wantLow := mload(add(userData, 0x40))
        }
        require(high == wantHigh && low == wantLow, "user_data");
        require(image == sha256(pcr012), "image");
        require(stamped == ts, "timestamp");
    }

    /// @dev A timestamp of 0 or above 2^53 - 1 reverts NitroDocumentMalformed("timestamp").
    function testFuzz_TimestampOutOfRangeReverts(bytes32 seed, uint64 above) public view {
        uint64 ts = above == 0 ? 0 : uint64(NitroMax.TIMESTAMP + 1 + (uint256(above) % (type(uint64).max - NitroMax.TIMESTAMP)));
        (bytes memory doc,,) = _document(seed, ts, false);
        try registry.nitroDocumentFields(doc) {
            revert("accepted");
        } catch (bytes memory err) {
            require(keccak256(err) == keccak256(abi.encodeWithSelector(IKmsRegistry.NitroDocumentMalformed.selector, bytes32("timestamp"))), "wrong error");
        }
    }

    /// @dev Every strict prefix of a well-formed document reverts with a reader error.
    function testFuzz_TruncationsRevertTyped(bytes32 seed, uint16 cut) public view {
        (bytes memory doc,,) = _document(seed, 1_700_000_000_000, false);
        uint256 n = uint256(cut) % doc.length;
        bytes memory prefix = new bytes(n);
        for (uint256 i = 0; i < n; ++i) prefix[i] = doc[i];
        try registry.nitroDocumentFields(prefix) {
            revert("accepted a truncated document");
        } catch (bytes memory err) {
            require(_isReaderError(err), "not a reader error");
        }
    }

    /// @dev One byte of a well-formed document changed: it reads (the change was in skipped or read
    ///      content) or reverts with a reader error.
    function testFuzz_FlippedByteRevertsTypedOrReads(bytes32 seed, uint16 at, uint8 value) public view {
        (bytes memory doc,,) = _document(seed, 1_700_000_000_000, false);
        doc[uint256(at) % doc.length] = bytes1(value);
        try registry.nitroDocumentFields(doc) {}
        catch (bytes memory err) {
            require(_isReaderError(err), "not a reader error");
        }
    }

    /// @dev Arbitrary bytes (often deeply nested or huge counts) revert with a reader error.
    function testFuzz_ArbitraryBytesRevertTyped(bytes calldata junk) public view {
        try registry.nitroDocumentFields(junk) {
            revert("accepted arbitrary bytes");
        } catch (bytes memory err) {
            require(_isReaderError(err), "not a reader error");
        }
    }

    /// @dev Reserved additional information (0x1c) where the payload should be reverts CborUnsupported.
    function test_ReservedInfoRevertsUnsupported() public view {
        bytes memory doc = hex"8444a1013822a05c00";
        try registry.nitroDocumentFields(doc) {
            revert("accepted");
        } catch (bytes memory err) {
            require(bytes4(err) == IKmsRegistry.CborUnsupported.selector, "wrong error");
        }
    }

    /// @dev A definite map claiming 2^64-1 entries reverts CborTruncated at once.
    function test_HugeCountRevertsTruncated() public view {
        bytes memory doc = bytes.concat(hex"8444a1013822a049bbffffffffffffffff", _bstr(new bytes(96)));
        try registry.nitroDocumentFields(doc) {
            revert("accepted");
        } catch (bytes memory err) {
            require(bytes4(err) == IKmsRegistry.CborTruncated.selector, "wrong error");
        }
    }

    /// @dev user_data of 32 bytes reverts NitroUserDataLengthMismatch(32, 64).
    function test_ShortUserDataRevertsLength() public view {
        bytes memory pcrs = hex"a3";
        for (uint256 i = 0; i < 3; ++i) pcrs = bytes.concat(pcrs, abi.encodePacked(uint8(i)), _bstr(new bytes(48)));
        bytes memory payload = bytes.concat(hex"a3", _text("timestamp"), hex"01", _text("pcrs"));
        payload = bytes.concat(payload, pcrs, _text("user_data"), _bstr(new bytes(32)));
        bytes memory doc = bytes.concat(hex"8444a1013822a0", _bstr(payload), _bstr(new bytes(96)));
        try registry.nitroDocumentFields(doc) {
            revert("accepted");
        } catch (bytes memory err) {
            require(
                keccak256(err) == keccak256(abi.encodeWithSelector(IKmsRegistry.NitroUserDataLengthMismatch.selector, 32, 64)),
                "wrong error"
            );
        }
    }
}
