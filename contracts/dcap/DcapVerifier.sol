// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Comparisons follow Intel's rules (≥, ≤) and the memory structs are never stored, so slot packing
// does not apply.
// solhint-disable gas-strict-inequalities, gas-struct-packing

import {P256} from "solady/src/utils/P256.sol";

import {DcapCollateral} from "./DcapCollateral.sol";
import {DcapPki} from "./DcapPki.sol";
import {IDcapVerifier} from "./IDcapVerifier.sol";
import {IntelJson} from "./IntelJson.sol";
import {QuoteSignatures} from "./QuoteSignatures.sol";
import {TdxQuote} from "./TdxQuote.sol";

/// @title DcapVerifier
/// @notice A stateless verifier of Intel TDX quotes (v4 and v5, TD 1.0 and TD 1.5 bodies) against
///         Intel's collateral at a given time, under one trust root fixed at deployment.
/// @dev The checks run as named steps, in this order: quote.parse, quote.header, root-ca.crl,
///      tcb-info.validity, tcb-info.chain, tcb-info.signature, qe-identity.validity, qe-identity.chain,
///      qe-identity.signature, qe-identity.id, pck.chain, pck.extension, qe-report.signature,
///      qe-report.binding, qe-identity.policy, quote.signature, tcb.fmspc, tcb.level, tcb.tdx-module,
///      tcb.status, report.policy. A check that fails reverts with `VerificationFailed(step, reason)`.
///      Input that a reader cannot read (undecodable DER, JSON, quote layout) and the rules that the
///      document libraries enforce (QE identity policy, FMSPC / PCE-ID, TCB level, TDX module) revert
///      with the library's own custom error instead: `TdxQuote` errors in quote.parse, `Crl` / `Der`
///      errors of either CRL in root-ca.crl, `TcbInfo` / `IntelJson` reading errors in
///      tcb-info.validity, `QeIdentity` / `IntelJson` reading errors in qe-identity.validity,
///      `QeIdentityMismatch` in qe-identity.id, certificate reading errors in the chain step that
///      reads that certificate, `SgxExtensionMissing` / `SgxFieldInvalid` in pck.extension, the other
///      `QeIdentity` errors in qe-identity.policy, `FmspcMismatch` / `PceIdMismatch` /
///      `TcbInfoTeeMismatch` in tcb.fmspc, `TcbLevelNotFound` / `TcbLevelInvalid` in tcb.level and the
///      `TdxModule…` errors in tcb.tdx-module.
///
///      The PCK chain is the collateral's (leaf and CA, DER); the QE report signature by the leaf's key
///      binds it to the quote. One TCB Signing certificate signs both documents. The trust root is a
///      P-256 key with its certificate's subject Name (hashed) and serial number.
///
///      Deployment: the verifier's code is split in three contracts so that each fits EIP-170's 24,576
///      bytes. The constructor deploys the two helpers itself (`DcapPki`, the certificate and CRL
///      steps, at CREATE nonce 1; `DcapCollateral`, the Intel-JSON steps, at nonce 2), so deploying
///      this contract alone yields a working verifier, and its helpers' addresses follow from its own.
///      Errors raised in a helper reach the caller unchanged (the same selectors).
contract DcapVerifier is IDcapVerifier {
    /// @dev Intel SGX Root CA's P-256 public key.
    bytes32 private constant INTEL_ROOT_X = 0x0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5;
    bytes32 private constant INTEL_ROOT_Y = 0x67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394;

    uint256 private constant SIGNATURE_SIZE = 64;
    uint256 private constant RTMR_COUNT = 4;
    uint256 private constant QUOTE_V4 = 4;
    uint256 private constant QUOTE_V5 = 5;

    /// @dev TD attributes: DEBUG (bit 0), SEPT_VE_DISABLE (bit 28), the reserved bits (bit 39 is one;
    ///      PERFMON, bit 63, is not), as a little-endian u64.
    uint64 private constant TD_DEBUG = 1;
    uint64 private constant TD_SEPT_VE_DISABLE = 1 << 28;
    uint64 private constant TD_RESERVED = 0x7fffffff2ffffffe;

    bytes32 public immutable ROOT_X;
    bytes32 public immutable ROOT_Y;
    /// @notice keccak256 of the root certificate's subject Name (DER)
    bytes32 public immutable ROOT_SUBJECT_HASH;
    uint256 public immutable ROOT_SERIAL;

    DcapPki private immutable PKI;
    DcapCollateral private immutable COLLATERAL;

    /// @dev What the steps learnt so far.
    struct State {
        uint64 rootCrlNextUpdate;
        DcapPki.Pck pck;
        bytes pckFailure;
        DcapCollateral.TcbGrade tcb;
        DcapCollateral.QeGrade qe;
    }

    /// @param rootX The trust root's P-256 key, x.
    /// @param rootY Its y.
    /// @param rootSubjectHash keccak256 of the root certificate's subject Name (DER).
    /// @param rootSerial The root certificate's serial number.
    constructor(bytes32 rootX, bytes32 rootY, bytes32 rootSubjectHash, uint256 rootSerial) {
        ROOT_X = rootX;
        ROOT_Y = rootY;
        ROOT_SUBJECT_HASH = rootSubjectHash;
        ROOT_SERIAL = rootSerial;
        PKI = new DcapPki(rootX, rootY, rootSubjectHash, rootSerial);
        COLLATERAL = new DcapCollateral();
    }

    /// @inheritdoc IDcapVerifier
    function isIntelRoot() public view returns (bool) {
        return ROOT_X == INTEL_ROOT_X && ROOT_Y == INTEL_ROOT_Y;
    }

    /// @inheritdoc IDcapVerifier
    function verify(bytes calldata quote, Collateral calldata c, uint64 time) external view returns (Result memory r) {
        TdxQuote.Quote memory p = TdxQuote.parseLayout(quote); // quote.parse
        _checkHeader(quote, p); // quote.header
        State memory st;
        uint256 rootRevoked;
        (st.rootCrlNextUpdate, rootRevoked) = PKI.rootCrl(c.rootCaCrl, c.pckCrl, time); // root-ca.crl
        // pck.chain and pck.extension run now (the TCB Info grades the PCK's platform); their failure
        // is raised at their own step below
        try PKI.pck(c.pckLeafCert, c.pckCaCert, c.pckCrl, c.rootCaCrl, rootRevoked, time) returns (DcapPki.Pck memory x) {
            st.pck = x;
        } catch (bytes memory e) {
            st.pckFailure = e;
            // no revert data (out of gas): nothing to report at a later step
            if (e.length == 0) {
                assembly ("memory-safe") {
                    revert(0, 0)
                }
            }
        }
        st.tcb = COLLATERAL.tcbInfo(c.tcbInfoJson, time, _platform(quote, p, st)); // tcb-info.validity
        (bytes32 sx, bytes32 sy) = PKI.signer(c.tcbSigningCert, c.rootCaCrl, rootRevoked, time, Step.TcbInfoChain);
        _checkDocumentSignature(c.tcbInfoJson, c.tcbInfoSignature, sx, sy, Step.TcbInfoSignature);
        st.qe = COLLATERAL.qeIdentity(c.qeIdentityJson, time, _qeReport(quote, p)); // qe-identity.validity
        // qe-identity.chain: the TCB Info's signer, already checked, unless another certificate is named
        if (c.qeIdentitySigningCert.length != 0) {
            (sx, sy) = PKI.signer(c.qeIdentitySigningCert, c.rootCaCrl, rootRevoked, time, Step.QeIdentityChain);
        }
        _checkDocumentSignature(c.qeIdentityJson, c.qeIdentitySignature, sx, sy, Step.QeIdentitySignature);
        IntelJson.raise(st.qe.idFailure); // qe-identity.id
        IntelJson.raise(st.pckFailure); // pck.chain, pck.extension
        _checkQuoteSignatures(quote, p, st.pck.x, st.pck.y); // qe-report.signature, qe-report.binding
        IntelJson.raise(st.qe.policyFailure); // qe-identity.policy
        if (!QuoteSignatures.quoteSignatureOk(quote, p)) {
            _fail(Step.QuoteSignature, Reason.SignatureInvalid);
        }
        IntelJson.raise(st.tcb.failure); // tcb.fmspc, tcb.level, tcb.tdx-module
        r.status = IntelJson.convergeStatus(st.tcb.status, st.qe.status); // tcb.status
        if (r.status == IntelJson.TcbStatus.Revoked) _fail(Step.TcbStatus, Reason.StatusRevoked);
        _checkReportPolicy(quote, p); // report.policy
        r.advisoryIds = IntelJson.mergeAdvisoryIds(st.tcb.advisoryIds, st.qe.advisoryIds);
        r.tcbDate = st.tcb.tcbDate;
        r.fmspc = st.pck.fmspc;
        r.earliestNextUpdate =
            _earliest(st.tcb.nextUpdate, st.qe.nextUpdate, st.rootCrlNextUpdate, st.pck.crlNextUpdate);
        r.reportData = TdxQuote.reportData(quote, p);
        r.mrTd = TdxQuote.mrTd(quote, p);
        for (uint256 i; i < RTMR_COUNT; ++i) r.rtMrs[i] = TdxQuote.rtMr(quote, p, i);
        r.tdAttributes = TdxQuote.tdAttributes(quote, p);
        r.isIntelRoot = isIntelRoot();
        r.tcbInfoIssueDate = st.tcb.issueDate;
        r.tcbEvaluationDataNumber = st.tcb.tcbEvaluationDataNumber;
    }

    // -----------------------------------------------------------------------------------------
    // steps
    // -----------------------------------------------------------------------------------------

    /// @dev quote.header: Intel's QE, an ECDSA P-256 attestation key, a TDX quote of version 4 or 5.
    function _checkHeader(bytes calldata quote, TdxQuote.Quote memory p) private pure {
        bytes16 vendor = bytes16(quote[TdxQuote.HEADER_QE_VENDOR_ID:TdxQuote.HEADER_QE_VENDOR_ID + 16]);
        if (
            vendor != TdxQuote.INTEL_QE_VENDOR_ID || p.attestationKeyType != TdxQuote.ATTESTATION_KEY_TYPE_ECDSA_P256
                || p.teeType != TdxQuote.TEE_TYPE_TDX || (p.version != QUOTE_V4 && p.version != QUOTE_V5)
        ) _fail(Step.QuoteHeader, Reason.HeaderInvalid);
    }

    /// @dev What the TCB Info grades: the PCK's platform (when its chain passed) and the TDX module.
    function _platform(bytes calldata quote, TdxQuote.Quote memory p, State memory st)
        private
        pure
        returns (DcapCollateral.Platform memory pl)
    {
        pl.graded = st.pckFailure.length == 0;
        pl.fmspc = st.pck.fmspc;
        pl.pceId = st.pck.pceId;
        pl.cpuSvn = st.pck.cpuSvn;
        pl.pceSvn = st.pck.pceSvn;
        pl.teeTcbSvn = TdxQuote.teeTcbSvn(quote, p);
        pl.mrSignerSeam = TdxQuote.mrSignerSeam(quote, p);
        pl.seamAttributes = TdxQuote.seamAttributes(quote, p);
    }

    /// @dev The QE report's fields that the QE Identity grades.
    function _qeReport(bytes calldata quote, TdxQuote.Quote memory p)
        private
        pure
        returns (DcapCollateral.QeReport memory q)
    {
        q.mrSigner = TdxQuote.qeMrSigner(quote, p);
        q.attributes = TdxQuote.qeAttributes(quote, p);
        q.isvProdId = TdxQuote.qeIsvProdId(quote, p);
        q.miscSelect = TdxQuote.qeMiscSelect(quote, p);
        q.isvSvn = TdxQuote.qeIsvSvn(quote, p);
    }

    /// @dev `<document>.signature`: the raw r ‖ s over the document text by the signer's key (x, y).
    function _checkDocumentSignature(bytes calldata text, bytes calldata sig, bytes32 x, bytes32 y, Step step)
        private
        view
    {
        if (
            sig.length != SIGNATURE_SIZE
                || !P256.verifySignatureAllowMalleability(sha256(text), bytes32(sig[0:32]), bytes32(sig[32:64]), x, y)
        ) _fail(step, Reason.SignatureInvalid);
    }

    /// @dev qe-report.signature (by the PCK leaf's key) and qe-report.binding.
    function _checkQuoteSignatures(bytes calldata quote, TdxQuote.Quote memory p, bytes32 x, bytes32 y) private view {
        if (!QuoteSignatures.qeReportSignatureOk(quote, p, x, y)) {
            _fail(Step.QeReportSignature, Reason.SignatureInvalid);
        }
        if (!QuoteSignatures.qeReportBindingOk(quote, p)) {
            _fail(Step.QeReportBinding, Reason.SignatureInvalid);
        }
    }

    /// @dev report.policy: a TD 1.5 report's mr_service_td is zero; the TD attributes have no reserved
    ///      bit, no DEBUG, and SEPT_VE_DISABLE set.
    function _checkReportPolicy(bytes calldata quote, TdxQuote.Quote memory p) private pure {
        if (p.bodyType == TdxQuote.BODY_TYPE_TD15) {
            bytes calldata m = TdxQuote.mrServiceTd(quote, p);
            if (bytes32(m[0:32]) != 0 || bytes16(m[32:48]) != 0) {
                _fail(Step.ReportPolicy, Reason.ServiceTdNotZero);
            }
        }
        bytes8 a = TdxQuote.tdAttributes(quote, p);
        // the attributes are a little-endian u64: byte i holds bits 8i … 8i + 7
        uint64 v;
        for (uint256 i; i < 8; ++i) v |= uint64(uint8(a[i])) << uint64(8 * i);
        if (v & TD_RESERVED != 0) _fail(Step.ReportPolicy, Reason.ReservedAttributes);
        if (v & TD_DEBUG != 0) _fail(Step.ReportPolicy, Reason.DebugTd);
        if (v & TD_SEPT_VE_DISABLE == 0) _fail(Step.ReportPolicy, Reason.SeptVeDisableClear);
    }

    /// @dev Reverts `VerificationFailed(step, reason)` (one copy of the revert's encoding in the code).
    function _fail(Step step, Reason reason) private pure {
        revert VerificationFailed(step, reason);
    }

    function _earliest(uint256 a, uint256 b, uint256 c, uint256 d) private pure returns (uint256 m) {
        m = a;
        if (b < m) m = b;
        if (c < m) m = c;
        if (d < m) m = d;
    }
}
