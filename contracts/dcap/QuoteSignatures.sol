// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {P256} from "solady/src/utils/P256.sol";

import {TdxQuote} from "./TdxQuote.sol";

/// @title QuoteSignatures
/// @notice The three signature steps of a DCAP quote, with the TypeScript verifier's rules
///         (src/dcap/verify-steps.ts): `qe-report.signature` (the PCK key signed the QE report),
///         `qe-report.binding` (the QE report binds the attestation key) and `quote.signature` (the
///         attestation key signed header ‖ body). Each has a boolean form and `verify` runs all three in
///         the TypeScript order, reverting with the failing step's error.
/// @dev ECDSA P-256 / SHA-256 through solady's P256, as everywhere in contracts/dcap: the P-256 precompile
///      at 0x100 (RIP-7212 / EIP-7951, Osaka) when the chain has it, else solady's verifier contract at its
///      canonical address (0x000000000000D01eA45F9eFD5c54f037Fa57Ea1a), which must then be deployed on the
///      chain (without either, every signature reads as invalid). Intel's signatures are not normalised to
///      low S and node:crypto (the TypeScript verifier) accepts either S, so malleable signatures are
///      accepted (`verifySignatureAllowMalleability`); r and s outside [1, N) and a key off the curve fail.
library QuoteSignatures {
    /// @notice The QE report signature does not verify with the PCK key (QE_REPORT_SIGNATURE_INVALID).
    error QeReportSignatureInvalid();
    /// @notice QE report_data is not SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes
    ///         (QE_REPORT_BINDING_MISMATCH).
    error QeReportBindingMismatch();
    /// @notice The quote signature does not verify with the attestation key (QUOTE_SIGNATURE_INVALID).
    error QuoteSignatureInvalid();

    /// @dev The SHA-256 precompile.
    uint256 private constant SHA256_PRECOMPILE = 0x02;

    /// @notice Runs `qe-report.signature`, `qe-report.binding` and `quote.signature`; reverts with the first
    ///         failing step's error.
    /// @param pckX The PCK leaf key's x (from the PCK certificate that the chain check has accepted).
    /// @param pckY Its y.
    function verify(bytes calldata q, TdxQuote.Quote memory p, bytes32 pckX, bytes32 pckY) internal view {
        if (!qeReportSignatureOk(q, p, pckX, pckY)) revert QeReportSignatureInvalid();
        if (!qeReportBindingOk(q, p)) revert QeReportBindingMismatch();
        if (!quoteSignatureOk(q, p)) revert QuoteSignatureInvalid();
    }

    /// @notice `qe-report.binding`: QE report_data[0..32) = SHA-256(attestation key ‖ QE auth data) and
    ///         report_data[32..64) is zero. The QE auth data may have any length.
    function qeReportBindingOk(bytes calldata q, TdxQuote.Quote memory p) internal view returns (bool) {
        bytes calldata key = TdxQuote.attestationKey(q, p);
        bytes calldata auth = TdxQuote.qeAuthData(q, p);
        bytes calldata rd = TdxQuote.qeReportData(q, p);
        bytes32 h = _sha256Pair(key, auth);
        return bytes32(rd[0:32]) == h && bytes32(rd[32:64]) == bytes32(0);
    }

    /// @notice `quote.signature`: the attestation key's signature over bytes [0, signedLength).
    function quoteSignatureOk(bytes calldata q, TdxQuote.Quote memory p) internal view returns (bool) {
        bytes calldata sig = TdxQuote.quoteSignature(q, p);
        bytes calldata key = TdxQuote.attestationKey(q, p);
        bytes32 h = _sha256Pair(q[0:p.signedLength], q[0:0]);
        return p256Verify(h, bytes32(sig[0:32]), bytes32(sig[32:64]), bytes32(key[0:32]), bytes32(key[32:64]));
    }

    /// @notice `qe-report.signature`: the signature over the 384-byte QE report by the PCK key (x, y).
    function qeReportSignatureOk(bytes calldata q, TdxQuote.Quote memory p, bytes32 pckX, bytes32 pckY)
        internal
        view
        returns (bool)
    {
        bytes calldata sig = TdxQuote.qeReportSignature(q, p);
        bytes32 h = _sha256Pair(TdxQuote.qeReport(q, p), q[0:0]);
        return p256Verify(h, bytes32(sig[0:32]), bytes32(sig[32:64]), pckX, pckY);
    }

    /// @notice ECDSA P-256 check of (r, s) over the digest `h` by the key (x, y); either S is accepted.
    /// @dev False for r or s outside [1, N) and for a key that is not on the curve.
    function p256Verify(bytes32 h, bytes32 r, bytes32 s, bytes32 x, bytes32 y) internal view returns (bool) {
        return P256.verifySignatureAllowMalleability(h, r, s, x, y);
    }

    /// @dev SHA-256(a ‖ b) of two calldata slices: both copied to free memory (not reserved) and hashed by
    ///      the precompile.
    function _sha256Pair(bytes calldata a, bytes calldata b) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, a.offset, a.length)
            calldatacopy(add(m, a.length), b.offset, b.length)
            if iszero(staticcall(gas(), SHA256_PRECOMPILE, m, add(a.length, b.length), 0x00, 0x20)) {
                revert(0, 0)
            }
            h := mload(0x00)
        }
    }
}
