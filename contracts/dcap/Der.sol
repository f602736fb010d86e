// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Der
/// @notice A strict, bounds-checked DER reader over calldata. Positions are byte offsets into the
///         `bytes calldata` being read. Every element read must end by the `limit` it is read
///         under (the end of the enclosing element, at most the input's length), so no read ever
///         leaves the input. Only low tag numbers and definite lengths of one to four bytes are
///         accepted. Malformed input reverts with one of the errors below, never a panic.
library Der {
    /// @notice An element's header or content runs past the end of the element enclosing it.
    error DerTruncated(uint256 pos);
    /// @notice An indefinite length, or a length of more than four bytes.
    error DerBadLength(uint256 pos);
    /// @notice A high-tag-number form tag.
    error DerHighTag(uint256 pos);
    /// @notice An element has another tag than the one the structure requires.
    error DerUnexpectedTag(uint256 pos, uint256 expected, uint256 found);
    /// @notice An INTEGER is empty, negative or has more than 32 significant bytes.
    error DerBadInteger(uint256 pos);
    /// @notice A structure ends before one of its required elements, or holds more than it may.
    error DerBadStructure(uint256 pos);

    /// @notice Reads the element at `pos`, which must end by `limit` (`limit` ≤ `b.length`).
    /// @return tag the tag byte
    /// @return cs where the content starts
    /// @return end where the element ends
    function read(bytes calldata b, uint256 pos, uint256 limit)
        internal
        pure
        returns (uint256 tag, uint256 cs, uint256 end)
    {
        uint256 len;
        uint256 bad; // 1 truncated, 2 bad length, 3 high tag
        assembly ("memory-safe") {
            let w := calldataload(add(b.offset, pos))
            tag := byte(0, w)
            len := byte(1, w)
            cs := add(pos, 2)
            end := add(cs, len)
        }
        // the common element, a low tag number with a short-form length, ending by `limit`, read as
        // below in fewer steps (pos, limit < 2^64: no overflow)
        if (len < 0x80 && !(end > limit) && tag & 0x1f != 0x1f) return (tag, cs, end);
        assembly ("memory-safe") {
            // pos + 2 > limit, written so that it cannot overflow (limit ≤ b.length < 2^64)
            switch gt(add(pos, 2), limit)
            case 1 { bad := 1 }
            default {
                let w := calldataload(add(b.offset, pos))
                tag := byte(0, w)
                len := byte(1, w)
                cs := add(pos, 2)
                if eq(and(tag, 0x1f), 0x1f) { bad := 3 }
                if and(iszero(bad), shr(7, len)) {
                    let n := and(len, 0x7f)
                    switch or(iszero(n), gt(n, 4))
                    case 1 { bad := 2 }
                    default {
                        switch gt(add(cs, n), limit)
                        case 1 { bad := 1 }
                        default {
                            len := shr(sub(256, shl(3, n)), shl(16, w))
                            cs := add(cs, n)
                        }
                    }
                }
                if iszero(bad) {
                    if gt(len, sub(limit, cs)) { bad := 1 }
                }
                end := add(cs, len)
            }
        }
        if (bad != 0) {
            if (bad == 1) revert DerTruncated(pos);
            if (bad == 2) revert DerBadLength(pos);
            revert DerHighTag(pos);
        }
    }

    /// @notice Reads the element at `pos` (ending by `limit`) and requires its tag to be `tag`.
    function expect(bytes calldata b, uint256 pos, uint256 limit, uint256 tag)
        internal
        pure
        returns (uint256 cs, uint256 end)
    {
        uint256 t;
        uint256 len;
        assembly ("memory-safe") {
            let w := calldataload(add(b.offset, pos))
            t := byte(0, w)
            len := byte(1, w)
            cs := add(pos, 2)
            end := add(cs, len)
        }
        // `read`'s common element with the tag wanted (`tag` is never a high-tag-number form)
        if (t == tag && len < 0x80 && !(end > limit)) return (cs, end);
        (t, cs, end) = read(b, pos, limit);
        if (t != tag) revert DerUnexpectedTag(pos, tag, t);
    }

    /// @notice The tag byte at `pos` (which must be before `limit`), without reading the element.
    function peek(bytes calldata b, uint256 pos, uint256 limit) internal pure returns (uint256 tag) {
        if (!(pos < limit)) revert DerBadStructure(pos);
        assembly ("memory-safe") {
            tag := byte(0, calldataload(add(b.offset, pos)))
        }
    }

    /// @notice The unsigned value of INTEGER content `[cs, end)`: leading zero bytes are dropped;
    ///         it must be non-empty, non-negative and have at most 32 significant bytes.
    function uintAt(bytes calldata b, uint256 cs, uint256 end) internal pure returns (uint256 v) {
        if (!(end > cs)) revert DerBadInteger(cs);
        uint256 first;
        assembly ("memory-safe") {
            first := byte(0, calldataload(add(b.offset, cs)))
        }
        if (first > 0x7f) revert DerBadInteger(cs);
        return unsignedAt(b, cs, end);
    }

    /// @notice The big-endian value of `[cs, end)` with leading zero bytes dropped (at most 32
    ///         significant bytes; an empty range is 0). The sign bit is not looked at.
    function unsignedAt(bytes calldata b, uint256 cs, uint256 end) internal pure returns (uint256 v) {
        unchecked {
            uint256 p = cs;
            uint256 len = end - cs;
            if (len > 32) {
                // only zero bytes may precede the last 32
                uint256 skip = len - 32;
                uint256 q;
                while (q < skip) {
                    uint256 chunk = skip - q < 32 ? skip - q : 32;
                    uint256 w;
                    assembly ("memory-safe") {
                        w := shr(sub(256, shl(3, chunk)), calldataload(add(b.offset, add(p, q))))
                    }
                    if (w != 0) revert DerBadInteger(cs);
                    q += chunk;
                }
                p = cs + skip;
                len = 32;
            }
            if (len == 0) return 0;
            assembly ("memory-safe") {
                v := shr(sub(256, shl(3, len)), calldataload(add(b.offset, p)))
            }
        }
    }

    /// @notice The first `n` (1…32) bytes at `pos`, left-aligned in a word.
    function word(bytes calldata b, uint256 pos, uint256 n) internal pure returns (bytes32 w) {
        assembly ("memory-safe") {
            w := and(calldataload(add(b.offset, pos)), not(shr(shl(3, n), not(0))))
        }
    }
}
