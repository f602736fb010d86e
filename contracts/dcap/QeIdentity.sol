// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Comparisons follow Intel's rules (≥, ≤), `parse` follows the document's schema, and the memory
// structs are never stored, so slot packing does not apply.
// solhint-disable gas-strict-inequalities, gas-struct-packing, function-max-lines

import {IntelJson} from "./IntelJson.sol";

/// @title QeIdentity
/// @notice Intel's QE Identity document (the `enclaveIdentity` object, the exact signed text) on
///         chain: read strictly by `parse`, then the quote's QE report checked against it (`check`).
library QeIdentity {
    using IntelJson for IntelJson.Doc;

    // keccak256 of the keys and status names compared (hashes, so no literal is hashed at run time)
    bytes32 private constant K_ATTRIBUTES = 0xa400e15477493b58388b48f7b160ed2fb67c4a5ddc41d82fa2a63f904d2e622b;
    bytes32 private constant K_ATTRIBUTES_MASK = 0x17c4cfec1552be72636a92eab6688a6f9dc4a883e1e7d7f4bbacb37d473e14b5;
    bytes32 private constant K_ID = 0xa709fd3aa96d9faf770e44a5aef2f4808a6fe3a5ddf546568f36ad3a3873f31d;
    bytes32 private constant K_ISSUE_DATE = 0x6076d2bbe55ad3c4b6ee7953ef9ae2e5b181f22d3eba84d569dbda4b99713e82;
    bytes32 private constant K_ISVPRODID = 0x930cd84e6ba04258f5ad32400f8aaf42263bb2b57105dab5bedd61b2bf8ceb75;
    bytes32 private constant K_MISCSELECT = 0x355e097d35df62dadf6ff6c8a506f838c49019cee633e5834f0c8328a79243be;
    bytes32 private constant K_MISCSELECT_MASK = 0x52b593a1791fdc596f47be468717d77cb65fb4ca41a49cc2251c93a07ee007e3;
    bytes32 private constant K_MRSIGNER = 0xc6289de500ffb547b5e0b7a91f7777325c606b45d58329945f4f303ea7a9424a;
    bytes32 private constant K_NEXT_UPDATE = 0x763eaaeea7af2e6dd24f817d656a3a2f55700b655f70efd88231fddddb3c8228;
    bytes32 private constant K_TCB_EVALUATION_DATA_NUMBER = 0x4e781c4bf4f96634340ceb53dcdb4730bdc24be94fdc96d345fdaa60d3d6d7b9;
    bytes32 private constant K_TCB_LEVELS = 0xd6d591efa424a0827fb062970a57c851088716066a090ed22b00fe6502c11435;
    bytes32 private constant K_VERSION = 0xba1b4dd49a85c82b73f138b112d5135149203ed36c1ec80c46f8c572daa7c5ec;

    /// @notice The parsed document. `id` and the levels' strings are slices of the text;
    ///         `miscselect` / `miscselectMask` are the 4 hex bytes read little-endian, as in a report.
    struct Identity {
        uint256 id;
        uint8 version;
        uint64 issueDate;
        uint64 nextUpdate;
        uint64 tcbEvaluationDataNumber;
        uint32 miscselect;
        uint32 miscselectMask;
        bytes16 attributes;
        bytes16 attributesMask;
        bytes32 mrSigner;
        uint16 isvProdId;
        IntelJson.EnclaveLevel[] tcbLevels;
    }

    /// @notice The identity is not the one for this kind of quote (TDX: `TD_QE` v2/v3; SGX: `QE` v2).
    error QeIdentityMismatch();
    error QeMrSignerMismatch();
    /// @notice The QE report has the DEBUG attribute set.
    error QeDebug();
    error QeIsvProdIdMismatch();
    error QeMiscselectMismatch();
    error QeAttributesMismatch();
    /// @notice No QE TCB level the report's ISVSVN reaches (or none at all).
    error QeTcbLevelNotFound();

    uint256 private constant MAX_LEVELS = 64;
    uint256 private constant F_REQUIRED = 4095;

    /// @notice Parses the `qe_identity` text. Reverts with an `IntelJson` error (malformed, duplicate
    ///         key, wrong type, missing field).
    function parse(bytes memory s) internal pure returns (Identity memory qe) {
        unchecked {
            (IntelJson.Doc memory d, uint256 p) = IntelJson.open(s);
            uint256 o = p;
            uint256 kb = d.top;
            uint256 seen;
            bool more;
            (more, p) = d.objectOpen(p);
            while (more) {
                bytes32 k;
                uint256 v;
                (k, p) = d.key(p, kb);
                if (k == K_ID) {
                    (qe.id, p) = d.slice(p);
                    seen |= 1;
                } else if (k == K_VERSION) {
                    (v, p) = d.uintValue(p, 255);
                    qe.version = uint8(v);
                    seen |= 2;
                } else if (k == K_ISSUE_DATE) {
                    (v, p) = d.dateValue(p);
                    qe.issueDate = uint64(v);
                    seen |= 4;
                } else if (k == K_NEXT_UPDATE) {
                    (v, p) = d.dateValue(p);
                    qe.nextUpdate = uint64(v);
                    seen |= 8;
                } else if (k == K_TCB_EVALUATION_DATA_NUMBER) {
                    (v, p) = d.uintValue(p, 2 ** 53 - 1);
                    qe.tcbEvaluationDataNumber = uint64(v);
                    seen |= 16;
                } else if (k == K_MISCSELECT) {
                    (v, p) = d.hexValue(p, 4);
                    qe.miscselect = le32(v);
                    seen |= 32;
                } else if (k == K_MISCSELECT_MASK) {
                    (v, p) = d.hexValue(p, 4);
                    qe.miscselectMask = le32(v);
                    seen |= 64;
                } else if (k == K_ATTRIBUTES) {
                    (v, p) = d.hexValue(p, 16);
                    qe.attributes = bytes16(uint128(v));
                    seen |= 128;
                } else if (k == K_ATTRIBUTES_MASK) {
                    (v, p) = d.hexValue(p, 16);
                    qe.attributesMask = bytes16(uint128(v));
                    seen |= 256;
                } else if (k == K_MRSIGNER) {
                    (v, p) = d.hexValue(p, 32);
                    qe.mrSigner = bytes32(v);
                    seen |= 512;
                } else if (k == K_ISVPRODID) {
                    (v, p) = d.uintValue(p, 0xffff);
                    qe.isvProdId = uint16(v);
                    seen |= 1024;
                } else if (k == K_TCB_LEVELS) {
                    (qe.tcbLevels, p) = IntelJson.enclaveLevels(d, p, MAX_LEVELS);
                    seen |= 2048;
                } else {
                    p = d.skip(p, 1);
                }
                (more, p) = d.next(p, 0x7d);
            }
            d.top = kb;
            d.close(p);
            if (seen != F_REQUIRED) revert IntelJson.JsonMissingKey(o - d.base, F_REQUIRED & ~seen);
        }
    }

    function le32(uint256 v) private pure returns (uint32) {
        return uint32(((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24));
    }

    /// @notice The identity is the one for this kind of quote: `TD_QE` version 2 or 3 for TDX, `QE`
    ///         version 2 for SGX.
    function checkForQuote(bytes memory s, Identity memory qe, bool tdx) internal pure {
        if (!isForQuote(s, qe, tdx)) revert QeIdentityMismatch();
    }

    /// @notice Whether `checkForQuote` passes.
    function isForQuote(bytes memory s, Identity memory qe, bool tdx) internal pure returns (bool ok) {
        uint256 sl = qe.id;
        uint256 len = uint128(sl);
        uint256 w;
        assembly ("memory-safe") {
            w := mload(add(add(s, 32), shr(128, sl)))
        }
        ok = tdx
            ? len == 5 && bytes5(bytes32(w)) == "TD_QE" && (qe.version == 2 || qe.version == 3)
            : len == 2 && bytes2(bytes32(w)) == "QE" && qe.version == 2;
    }

    /// @notice The QE report against the identity: same MRSIGNER and ISVPRODID, not DEBUG, MISCSELECT
    ///         and ATTRIBUTES equal under the identity's masks; then the first TCB level (document
    ///         order) its ISVSVN reaches gives the QE's status.
    /// @return status the QE's TCB status
    /// @return advisories the slice of that level's `advisoryIDs` (0 when none)
    function check(
        Identity memory qe,
        bytes32 mrSigner,
        bytes16 attributes,
        uint16 isvProdId,
        uint32 miscSelect,
        uint16 isvSvn
    ) internal pure returns (IntelJson.TcbStatus status, uint256 advisories) {
        bytes4 err;
        (status, advisories, err) = tryCheck(qe, mrSigner, attributes, isvProdId, miscSelect, isvSvn);
        if (err != 0) {
            assembly ("memory-safe") {
                mstore(0x00, err)
                revert(0x00, 0x04)
            }
        }
    }

    /// @notice `check` with its error (one of the `Qe…` errors, none of which has arguments) returned
    ///         as its selector (0 when the QE passes).
    function tryCheck(
        Identity memory qe,
        bytes32 mrSigner,
        bytes16 attributes,
        uint16 isvProdId,
        uint32 miscSelect,
        uint16 isvSvn
    ) internal pure returns (IntelJson.TcbStatus status, uint256 advisories, bytes4 err) {
        if (mrSigner != qe.mrSigner) return (status, 0, QeMrSignerMismatch.selector);
        if (uint8(attributes[0]) & 0x02 != 0) return (status, 0, QeDebug.selector);
        if (isvProdId != qe.isvProdId) return (status, 0, QeIsvProdIdMismatch.selector);
        if ((miscSelect & qe.miscselectMask) != (qe.miscselect & qe.miscselectMask)) {
            return (status, 0, QeMiscselectMismatch.selector);
        }
        if (((attributes ^ qe.attributes) & qe.attributesMask) != 0) return (status, 0, QeAttributesMismatch.selector);
        IntelJson.EnclaveLevel[] memory lv = qe.tcbLevels;
        for (uint256 i; i < lv.length; ++i) {
            if (isvSvn >= lv[i].isvSvn) return (lv[i].status, lv[i].advisories, 0);
        }
        return (status, 0, QeTcbLevelNotFound.selector);
    }
}
