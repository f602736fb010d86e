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
    /// @dev The constant b of the curve equation y² = x³ + b.
    uint256 internal constant B = 7;
    /// @dev Address of the modexp precompile.
    uint256 internal constant MODEXP = 0x05;

    /// @dev SEC1 prefix bytes: compressed with even y, compressed with odd y, uncompressed.
    uint256 internal constant PREFIX_EVEN = 0x02;
    uint256 internal constant PREFIX_ODD = 0x03;
    uint256 internal constant PREFIX_UNCOMPRESSED = 0x04;
    /// @dev SEC1 key lengths: prefix ‖ x (compressed), prefix ‖ x ‖ y (uncompressed).
    uint256 internal constant COMPRESSED_LENGTH = 33;
    uint256 internal constant UNCOMPRESSED_LENGTH = 65;
    /// @dev Offsets of x and y in a SEC1 key (the prefix byte is at 0).
    uint256 internal constant X_OFFSET = 1;
    uint256 internal constant Y_OFFSET = 33;

    /// @notice Decompresses a SEC1 point given its prefix (0x02 even y, 0x03 odd y) and x coordinate.
    /// @param prefix The SEC1 prefix byte.
    /// @param x The x coordinate.
    /// @return ok False when the prefix is not 2/3, x ≥ p, or x³+7 has no square root (x not on the curve).
    /// @return y The y coordinate (0 when `ok` is false).
    function decompress(uint256 prefix, uint256 x) internal view returns (bool ok, uint256 y) {
        if ((prefix != PREFIX_EVEN && prefix != PREFIX_ODD) || x > P - 1) return (false, 0);
        uint256 y2 = addmod(mulmod(mulmod(x, x, P), x, P), B, P);
        bool success;
        assembly ("memory-safe") {
            // modexp input: the byte lengths of base, exponent and modulus (one word each), then the three
            // values; its output is y2^SQRT_EXPONENT mod P, one word
            let m := mload(0x40)
            mstore(m, 0x20) // base length
            mstore(add(m, 0x20), 0x20) // exponent length
            mstore(add(m, 0x40), 0x20) // modulus length
            mstore(add(m, 0x60), y2)
            mstore(add(m, 0x80), SQRT_EXPONENT)
            mstore(add(m, 0xa0), P)
            success := staticcall(gas(), MODEXP, m, 0xc0, m, 0x20)
            y := mload(m)
        }
        if (!success || mulmod(y, y, P) != y2) return (false, 0);
        if ((y & 1) != (prefix & 1)) y = P - y;
        return (true, y);
    }

    /// @notice True when (x, y) is an affine point of secp256k1 (y² = x³ + 7 over F_p, coordinates < p).
    /// @param x The x coordinate.
    /// @param y The y coordinate.
    /// @return True when on the curve.
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x > P - 1 || y > P - 1) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), B, P);
    }

    /// @notice Ethereum address of the point (x, y): the last 20 bytes of keccak256(x ‖ y).
    /// @param x The x coordinate.
    /// @param y The y coordinate.
    /// @return a The address.
    function toAddress(uint256 x, uint256 y) internal pure returns (address a) {
        assembly ("memory-safe") {
            mstore(0x00, x)
            mstore(0x20, y)
            a := and(keccak256(0x00, 0x40), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @notice Ethereum address of a 33-byte compressed or 65-byte uncompressed (0x04 ‖ x ‖ y) SEC1 key.
    /// @param pubkey The SEC1 key.
    /// @return The address, or address(0) when the key is malformed or not on the curve.
    function addressOf(bytes calldata pubkey) internal view returns (address) {
        uint256 prefix;
        uint256 x;
        uint256 y;
        assembly ("memory-safe") {
            prefix := byte(0, calldataload(pubkey.offset))
            x := calldataload(add(pubkey.offset, X_OFFSET))
            y := calldataload(add(pubkey.offset, Y_OFFSET))
        }
        if (pubkey.length == COMPRESSED_LENGTH) {
            bool ok;
            (ok, y) = decompress(prefix, x);
            return ok ? toAddress(x, y) : address(0);
        }
        if (pubkey.length == UNCOMPRESSED_LENGTH && prefix == PREFIX_UNCOMPRESSED && isOnCurve(x, y)) return toAddress(x, y);
        return address(0);
    }
}
