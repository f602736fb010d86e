// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title LowerHex
/// @notice Word-at-a-time lower-case hex encoding (no `0x`) of calldata bytes into memory, used to
///         rebuild dstack's ASCII messages (report_data binding string, key-chain message) on chain.
/// @dev Why not OpenZeppelin `Strings.toHexString(bytes)` or solady `LibString.toHexStringNoPrefix(bytes)`:
///      both work one byte at a time on a memory copy. For a 33-byte key they cost ≈ 3,900 gas against
///      ≈ 1,450 here (≈ 10,200 vs ≈ 2,800 for the 91-byte CA key), which would push `verifyKeyChain` past
///      25,000 gas on Osaka (bench/gas.bench.ts). The Solidity fuzz tests check this encoder against
///      OpenZeppelin's and against a lookup-table reference for arbitrary inputs.
library LowerHex {
    /// @dev Input bytes encoded per step (into one 32-byte word of hex).
    uint256 private constant STEP = 16;

    /// @notice Writes lowerhex(data) at memory address `dest`.
    /// @dev Works STEP (16) input bytes → 32 output bytes per step, so it writes whole 32-byte words: up
    ///      to 31 bytes past `dest + 2 * data.length` are overwritten with junk. The caller owns that memory
    ///      (it must lie beyond the free memory pointer or be rewritten afterwards). The loop is bounded
    ///      by the calldata length.
    /// @param dest Memory address of the first hex character.
    /// @param data The bytes to encode.
    function writeHex(uint256 dest, bytes calldata data) internal pure {
        uint256 n = data.length;
        uint256 src;
        assembly ("memory-safe") {
            src := data.offset
        }
        for (uint256 i = 0; i < n; i += STEP) {
            bytes32 chunk;
            assembly ("memory-safe") {
                chunk := calldataload(add(src, i))
            }
            bytes32 h = hex16(bytes16(chunk));
            assembly ("memory-safe") {
                mstore(add(dest, shl(1, i)), h)
            }
        }
    }

    /// @notice Lower-case hex of 16 bytes as 32 ASCII bytes (nibble spreading, then a branch-free
    ///         '0'..'9' / 'a'..'f' mapping).
    /// @param data The 16 bytes to encode.
    /// @return result Their 32 hex characters.
    function hex16(bytes16 data) internal pure returns (bytes32 result) {
        uint256 r = uint256(bytes32(data));
        r = (r & 0xFFFFFFFFFFFFFFFF000000000000000000000000000000000000000000000000)
            | ((r & 0x0000000000000000FFFFFFFFFFFFFFFF00000000000000000000000000000000) >> 64);
        r = (r & 0xFFFFFFFF000000000000000000000000FFFFFFFF000000000000000000000000)
            | ((r & 0x00000000FFFFFFFF000000000000000000000000FFFFFFFF0000000000000000) >> 32);
        r = (r & 0xFFFF000000000000FFFF000000000000FFFF000000000000FFFF000000000000)
            | ((r & 0x0000FFFF000000000000FFFF000000000000FFFF000000000000FFFF00000000) >> 16);
        r = (r & 0xFF000000FF000000FF000000FF000000FF000000FF000000FF000000FF000000)
            | ((r & 0x00FF000000FF000000FF000000FF000000FF000000FF000000FF000000FF0000) >> 8);
        r = ((r & 0xF000F000F000F000F000F000F000F000F000F000F000F000F000F000F000F000) >> 4)
            | ((r & 0x0F000F000F000F000F000F000F000F000F000F000F000F000F000F000F000F00) >> 8);
        unchecked {
            // each byte is now a nibble 0..15; add '0', and 39 more ('a' - '0' - 10) for 10..15
            result = bytes32(
                0x3030303030303030303030303030303030303030303030303030303030303030 + r
                    + (((r + 0x0606060606060606060606060606060606060606060606060606060606060606) >> 4)
                        & 0x0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F) * 39
            );
        }
    }
}
