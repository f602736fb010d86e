// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {QuoteSignatures} from "../dcap/QuoteSignatures.sol";
import {TdxQuote} from "../dcap/TdxQuote.sol";

/// @title TdxQuoteHarness
/// @notice Exposes the TdxQuote and QuoteSignatures libraries as external views, for the differential
///         tests against the TypeScript verifier and for the gas benchmark. Not part of any deployment.
contract TdxQuoteHarness {
    /// @notice The TD report fields of a TDX quote (copied to memory for the ABI).
    struct TdReport {
        bytes16 teeTcbSvn;
        bytes mrSeam;
        bytes mrSignerSeam;
        bytes8 seamAttributes;
        bytes8 tdAttributes;
        bytes8 xfam;
        bytes mrTd;
        bytes mrConfigId;
        bytes mrOwner;
        bytes mrOwnerConfig;
        bytes rtMr0;
        bytes rtMr1;
        bytes rtMr2;
        bytes rtMr3;
        bytes reportData;
        bytes16 teeTcbSvn2;
        bytes mrServiceTd;
    }

    /// @notice The QE report fields and the signature data.
    struct QeReport {
        uint32 miscSelect;
        uint16 isvProdId;
        uint16 isvSvn;
        bytes16 attributes;
        bytes32 mrEnclave;
        bytes32 mrSigner;
        bytes qeReportData;
        bytes quoteSignature;
        bytes attestationKey;
        bytes qeReportSignature;
        bytes qeAuthData;
        bytes certificationData;
    }

    function parse(bytes calldata q) external pure returns (TdxQuote.Quote memory) {
        return TdxQuote.parse(q);
    }

    function parseLayout(bytes calldata q) external pure returns (TdxQuote.Quote memory) {
        return TdxQuote.parseLayout(q);
    }

    function tdReport(bytes calldata q) external pure returns (TdReport memory r) {
        TdxQuote.Quote memory p = TdxQuote.parse(q);
        r.teeTcbSvn = TdxQuote.teeTcbSvn(q, p);
        r.mrSeam = TdxQuote.mrSeam(q, p);
        r.mrSignerSeam = TdxQuote.mrSignerSeam(q, p);
        r.seamAttributes = TdxQuote.seamAttributes(q, p);
        r.tdAttributes = TdxQuote.tdAttributes(q, p);
        r.xfam = TdxQuote.xfam(q, p);
        r.mrTd = TdxQuote.mrTd(q, p);
        r.mrConfigId = TdxQuote.mrConfigId(q, p);
        r.mrOwner = TdxQuote.mrOwner(q, p);
        r.mrOwnerConfig = TdxQuote.mrOwnerConfig(q, p);
        r.rtMr0 = TdxQuote.rtMr(q, p, 0);
        r.rtMr1 = TdxQuote.rtMr(q, p, 1);
        r.rtMr2 = TdxQuote.rtMr(q, p, 2);
        r.rtMr3 = TdxQuote.rtMr(q, p, 3);
        r.reportData = TdxQuote.reportData(q, p);
        r.teeTcbSvn2 = TdxQuote.teeTcbSvn2(q, p);
        r.mrServiceTd = TdxQuote.mrServiceTd(q, p);
    }

    function qeReport(bytes calldata q) external pure returns (QeReport memory r) {
        TdxQuote.Quote memory p = TdxQuote.parse(q);
        r.miscSelect = TdxQuote.qeMiscSelect(q, p);
        r.attributes = TdxQuote.qeAttributes(q, p);
        r.mrEnclave = TdxQuote.qeMrEnclave(q, p);
        r.mrSigner = TdxQuote.qeMrSigner(q, p);
        r.isvProdId = TdxQuote.qeIsvProdId(q, p);
        r.isvSvn = TdxQuote.qeIsvSvn(q, p);
        r.qeReportData = TdxQuote.qeReportData(q, p);
        r.quoteSignature = TdxQuote.quoteSignature(q, p);
        r.attestationKey = TdxQuote.attestationKey(q, p);
        r.qeReportSignature = TdxQuote.qeReportSignature(q, p);
        r.qeAuthData = TdxQuote.qeAuthData(q, p);
        r.certificationData = TdxQuote.certificationData(q, p);
    }

    function qeReportBindingOk(bytes calldata q) external view returns (bool) {
        return QuoteSignatures.qeReportBindingOk(q, TdxQuote.parse(q));
    }

    function quoteSignatureOk(bytes calldata q) external view returns (bool) {
        return QuoteSignatures.quoteSignatureOk(q, TdxQuote.parse(q));
    }

    function qeReportSignatureOk(bytes calldata q, bytes32 pckX, bytes32 pckY) external view returns (bool) {
        return QuoteSignatures.qeReportSignatureOk(q, TdxQuote.parse(q), pckX, pckY);
    }

    /// @notice Parse and the three signature steps; reverts with the first failing step's error.
    function verify(bytes calldata q, bytes32 pckX, bytes32 pckY) external view {
        QuoteSignatures.verify(q, TdxQuote.parse(q), pckX, pckY);
    }

    /// @notice Gas of `TdxQuote.parse` and of parse + the three signature steps, measured with `gasleft`.
    function measure(bytes calldata q, bytes32 pckX, bytes32 pckY)
        external
        view
        returns (uint256 parseGas, uint256 verifyGas)
    {
        uint256 g0 = gasleft();
        TdxQuote.Quote memory p = TdxQuote.parse(q);
        uint256 g1 = gasleft();
        QuoteSignatures.verify(q, p, pckX, pckY);
        uint256 g2 = gasleft();
        parseGas = g0 - g1;
        verifyGas = g0 - g2;
    }

    function p256Verify(bytes32 h, bytes32 r, bytes32 s, bytes32 x, bytes32 y) external view returns (bool) {
        return QuoteSignatures.p256Verify(h, r, s, x, y);
    }
}
