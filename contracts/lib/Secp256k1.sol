// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Secp256k1
/// @notice secp256k1 public-key helpers: point decompression (square root through the modexp
///         precompile at 0x05), on-curve checks and Ethereum addresses. Every function reports failure
///         through its return value and never reverts, so the registry's `verify*` views stay total.
library Secp256k1 {
    /// @dev Field prime p of secp256k1.
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @dev (p + 1) / 4: since p ≡ 3 (mod 4), a^((p+1)/4) is a square root of a whenever one exists.
    uint256 internal constant SQRT_EXPONENT = 0x3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFBFFFFF0C;

    /// @notice Decompresses a SEC1 point given its prefix (0x02 even y, 0x03 odd y) and x coordinate.
    /// @return ok False when the prefix is not 2/3, x ≥ p, or x³+7 has no square root (x not on the curve).
    /// @return y The y coordinate (0 when `ok` is false).
    function decompress(uint256 prefix, uint256 x) internal view returns (bool ok, uint256 y) {
        if ((prefix != 2 && prefix != 3) || x > P - 1) return (false, 0);
        uint256 y2 = addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
        bool success;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, 0x20) // base length
            mstore(add(m, 0x20), 0x20) // exponent length
            mstore(add(m, 0x40), 0x20) // modulus length
            mstore(add(m, 0x60), y2)
            mstore(add(m, 0x80), SQRT_EXPONENT)
            mstore(add(m, 0xa0), P)
            success := staticcall(gas(), 0x05, m, 0xc0, m, 0x20)
            y := mload(m)
        }
        if (!success || mulmod(y, y, P) != y2) return (false, 0);
        if ((y & 1) != (prefix & 1)) y = P - y;
        return (true, y);
    }

    /// @notice True when (x, y) is an affine point of secp256k1 (y² = x³ + 7 over F_p, coordinates < p).
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x > P - 1 || y > P - 1) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
    }

    /// @notice Ethereum address of the point (x, y): the last 20 bytes of keccak256(x ‖ y).
    function toAddress(uint256 x, uint256 y) internal pure returns (address a) {
        assembly ("memory-safe") {
            mstore(0x00, x)
            mstore(0x20, y)
            a := and(keccak256(0x00, 0x40), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @notice Ethereum address of a 33-byte compressed or 65-byte uncompressed (0x04 ‖ x ‖ y) SEC1 key.
    /// @return The address, or address(0) when the key is malformed or not on the curve.
    function addressOf(bytes calldata pubkey) internal view returns (address) {
        uint256 prefix;
        uint256 x;
        uint256 y;
        assembly ("memory-safe") {
            prefix := byte(0, calldataload(pubkey.offset))
            x := calldataload(add(pubkey.offset, 1))
            y := calldataload(add(pubkey.offset, 33))
        }
        if (pubkey.length == 33) {
            bool ok;
            (ok, y) = decompress(prefix, x);
            return ok ? toAddress(x, y) : address(0);
        }
        if (pubkey.length == 65 && prefix == 4 && isOnCurve(x, y)) return toAddress(x, y);
        return address(0);
    }
}
