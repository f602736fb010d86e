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
            if (k == keccak256("id")) {
                (qe.id, p) = d.slice(p);
                seen |= 1;
            } else if (k == keccak256("version")) {
                (v, p) = d.uintValue(p, 255);
                qe.version = uint8(v);
                seen |= 2;
            } else if (k == keccak256("issueDate")) {
                (v, p) = d.dateValue(p);
                qe.issueDate = uint64(v);
                seen |= 4;
            } else if (k == keccak256("nextUpdate")) {
                (v, p) = d.dateValue(p);
                qe.nextUpdate = uint64(v);
                seen |= 8;
            } else if (k == keccak256("tcbEvaluationDataNumber")) {
                (v, p) = d.uintValue(p, 2 ** 53 - 1);
                qe.tcbEvaluationDataNumber = uint64(v);
                seen |= 16;
            } else if (k == keccak256("miscselect")) {
                (v, p) = d.hexValue(p, 4);
                qe.miscselect = le32(v);
                seen |= 32;
            } else if (k == keccak256("miscselectMask")) {
                (v, p) = d.hexValue(p, 4);
                qe.miscselectMask = le32(v);
                seen |= 64;
            } else if (k == keccak256("attributes")) {
                (v, p) = d.hexValue(p, 16);
                qe.attributes = bytes16(uint128(v));
                seen |= 128;
            } else if (k == keccak256("attributesMask")) {
                (v, p) = d.hexValue(p, 16);
                qe.attributesMask = bytes16(uint128(v));
                seen |= 256;
            } else if (k == keccak256("mrsigner")) {
                (v, p) = d.hexValue(p, 32);
                qe.mrSigner = bytes32(v);
                seen |= 512;
            } else if (k == keccak256("isvprodid")) {
                (v, p) = d.uintValue(p, 0xffff);
                qe.isvProdId = uint16(v);
                seen |= 1024;
            } else if (k == keccak256("tcbLevels")) {
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

    function le32(uint256 v) private pure returns (uint32) {
        return uint32(((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24));
    }

    /// @notice The identity is the one for this kind of quote: `TD_QE` version 2 or 3 for TDX, `QE`
    ///         version 2 for SGX.
    function checkForQuote(bytes memory s, Identity memory qe, bool tdx) internal pure {
        uint256 sl = qe.id;
        uint256 len = uint128(sl);
        uint256 w;
        assembly ("memory-safe") {
            w := mload(add(add(s, 32), shr(128, sl)))
        }
        bool ok = tdx
            ? len == 5 && bytes5(bytes32(w)) == "TD_QE" && (qe.version == 2 || qe.version == 3)
            : len == 2 && bytes2(bytes32(w)) == "QE" && qe.version == 2;
        if (!ok) revert QeIdentityMismatch();
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
        if (mrSigner != qe.mrSigner) revert QeMrSignerMismatch();
        if (uint8(attributes[0]) & 0x02 != 0) revert QeDebug();
        if (isvProdId != qe.isvProdId) revert QeIsvProdIdMismatch();
        if ((miscSelect & qe.miscselectMask) != (qe.miscselect & qe.miscselectMask)) revert QeMiscselectMismatch();
        if (((attributes ^ qe.attributes) & qe.attributesMask) != 0) revert QeAttributesMismatch();
        IntelJson.EnclaveLevel[] memory lv = qe.tcbLevels;
        for (uint256 i; i < lv.length; ++i) {
            if (isvSvn >= lv[i].isvSvn) return (lv[i].status, lv[i].advisories);
        }
        revert QeTcbLevelNotFound();
    }
}
