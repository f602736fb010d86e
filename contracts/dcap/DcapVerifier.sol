// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Comparisons follow Intel's rules (≥, ≤) and the memory structs are never stored, so slot packing
// does not apply.
// solhint-disable gas-strict-inequalities, gas-struct-packing

import {Crl} from "./Crl.sol";
import {IDcapVerifier} from "./IDcapVerifier.sol";
import {IntelJson} from "./IntelJson.sol";
import {QeIdentity} from "./QeIdentity.sol";
import {QuoteSignatures} from "./QuoteSignatures.sol";
import {TcbInfo} from "./TcbInfo.sol";
import {TdxQuote} from "./TdxQuote.sol";
import {X509} from "./X509.sol";

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
contract DcapVerifier is IDcapVerifier {
    /// @dev Intel SGX Root CA's P-256 public key.
    bytes32 private constant INTEL_ROOT_X = 0x0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5;
    bytes32 private constant INTEL_ROOT_Y = 0x67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394;

    uint256 private constant ATTR_CN = 3;
    uint256 private constant ATTR_O = 10;
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

    /// @dev The certificates and CRLs read so far.
    struct Certs {
        Crl.CertList rootCrl;
        Crl.CertList pckCrl;
        X509.Certificate signer;
        X509.Certificate ca;
        X509.Certificate leaf;
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
    }

    /// @inheritdoc IDcapVerifier
    function isIntelRoot() public view returns (bool) {
        return ROOT_X == INTEL_ROOT_X && ROOT_Y == INTEL_ROOT_Y;
    }

    /// @inheritdoc IDcapVerifier
    function verify(bytes calldata quote, Collateral calldata c, uint64 time) external view returns (Result memory r) {
        TdxQuote.Quote memory p = TdxQuote.parseLayout(quote); // quote.parse
        _checkHeader(quote, p); // quote.header
        Certs memory k;
        _checkRootCrl(c, k, time); // root-ca.crl
        bytes memory tcbText = c.tcbInfoJson;
        TcbInfo.Info memory info = TcbInfo.parse(tcbText); // tcb-info.validity
        _current(info.issueDate, info.nextUpdate, time, Step.TcbInfoValidity);
        k.signer = _checkSigner(c.tcbSigningCert, c.rootCaCrl, k.rootCrl, time, Step.TcbInfoChain); // tcb-info.chain
        _checkDocumentSignature(tcbText, c.tcbInfoSignature, k.signer, Step.TcbInfoSignature);
        bytes memory qeText = c.qeIdentityJson;
        QeIdentity.Identity memory qe = QeIdentity.parse(qeText); // qe-identity.validity
        _current(qe.issueDate, qe.nextUpdate, time, Step.QeIdentityValidity);
        // qe-identity.chain: the TCB Info's signer, already checked, unless another certificate is named
        X509.Certificate memory qeSigner = c.qeIdentitySigningCert.length == 0
            ? k.signer
            : _checkSigner(c.qeIdentitySigningCert, c.rootCaCrl, k.rootCrl, time, Step.QeIdentityChain);
        _checkDocumentSignature(qeText, c.qeIdentitySignature, qeSigner, Step.QeIdentitySignature);
        QeIdentity.checkForQuote(qeText, qe, true); // qe-identity.id
        _checkPckChain(c, k, time); // pck.chain
        X509.SgxExtension memory pck = X509.sgxExtension(c.pckLeafCert, k.leaf); // pck.extension
        _checkQuoteSignatures(quote, p, k.leaf);
        r = _grade(quote, p, info, tcbText, qe, qeText, pck);
        _checkReportPolicy(quote, p); // report.policy
        r.fmspc = pck.fmspc;
        r.earliestNextUpdate = _earliest(info.nextUpdate, qe.nextUpdate, k.rootCrl.nextUpdate, k.pckCrl.nextUpdate);
        r.reportData = TdxQuote.reportData(quote, p);
        r.mrTd = TdxQuote.mrTd(quote, p);
        for (uint256 i; i < RTMR_COUNT; ++i) r.rtMrs[i] = TdxQuote.rtMr(quote, p, i);
        r.tdAttributes = TdxQuote.tdAttributes(quote, p);
        r.isIntelRoot = isIntelRoot();
        r.tcbInfoIssueDate = info.issueDate;
        r.tcbEvaluationDataNumber = info.tcbEvaluationDataNumber;
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
        ) revert VerificationFailed(Step.QuoteHeader, Reason.HeaderInvalid);
    }

    /// @dev root-ca.crl: both CRLs read; the root's issued by the root, signed by it, fresh at `time`,
    ///      not listing the root.
    function _checkRootCrl(Collateral calldata c, Certs memory k, uint256 time) private view {
        k.rootCrl = Crl.parse(c.rootCaCrl);
        k.pckCrl = Crl.parse(c.pckCrl);
        Crl.CertList memory list = k.rootCrl;
        if (keccak256(c.rootCaCrl[list.issuerStart:list.issuerEnd]) != ROOT_SUBJECT_HASH) {
            revert VerificationFailed(Step.RootCaCrl, Reason.IssuerMismatch);
        }
        _checkCrl(c.rootCaCrl, list, ROOT_X, ROOT_Y, time, Step.RootCaCrl);
        if (Crl.isRevoked(c.rootCaCrl, list, ROOT_SERIAL)) revert VerificationFailed(Step.RootCaCrl, Reason.Revoked);
    }

    /// @dev `<document>.validity`: issueDate ≤ time ≤ nextUpdate.
    function _current(uint256 issueDate, uint256 nextUpdate, uint256 time, Step step) private pure {
        if (time < issueDate) revert VerificationFailed(step, Reason.NotYetValid);
        if (time > nextUpdate) revert VerificationFailed(step, Reason.Expired);
    }

    /// @dev `<document>.chain`: the TCB Signing pin (CN "Intel SGX TCB Signing", O "Intel Corporation",
    ///      not a CA, digitalSignature), issued and signed by the root, a valid end entity, not on the
    ///      root CRL.
    function _checkSigner(
        bytes calldata der,
        bytes calldata rootCaCrl,
        Crl.CertList memory rootCrl,
        uint256 time,
        Step step
    ) private view returns (X509.Certificate memory s) {
        s = X509.parse(der);
        if (
            !X509.hasSoleAttribute(der, s.subjectStart, s.subjectEnd, ATTR_CN, "Intel SGX TCB Signing")
                || !X509.hasSoleAttribute(der, s.subjectStart, s.subjectEnd, ATTR_O, "Intel Corporation") || s.isCa
                || !s.hasKeyUsage || s.keyUsage & X509.KU_DIGITAL_SIGNATURE == 0
        ) revert VerificationFailed(step, Reason.NotTcbSigning);
        _checkIssuedByRoot(der, s, step);
        _checkCertificate(s, time, false, step);
        if (Crl.isRevoked(rootCaCrl, rootCrl, s.serial)) revert VerificationFailed(step, Reason.Revoked);
    }

    /// @dev `<document>.signature`: the raw r ‖ s over the document text by the TCB Signing key.
    function _checkDocumentSignature(bytes memory text, bytes calldata sig, X509.Certificate memory signer, Step step)
        private
        view
    {
        if (
            sig.length != SIGNATURE_SIZE
                || !QuoteSignatures.p256Verify(sha256(text), bytes32(sig[0:32]), bytes32(sig[32:64]), signer.pkX, signer.pkY)
        ) revert VerificationFailed(step, Reason.SignatureInvalid);
    }

    /// @dev pck.chain: pck_crl issued by the leaf's issuer; leaf ← PCK CA ← root, each signed by the
    ///      next, valid at `time`; the leaf not on the PCK CRL (signed by the PCK CA, fresh), the CA not
    ///      on the root CRL; the CA pinned (CN Platform / Processor CA, CA flag, keyCertSign).
    function _checkPckChain(Collateral calldata c, Certs memory k, uint256 time) private view {
        bytes calldata leafDer = c.pckLeafCert;
        bytes calldata caDer = c.pckCaCert;
        X509.Certificate memory leaf = X509.parse(leafDer);
        X509.Certificate memory ca = X509.parse(caDer);
        k.leaf = leaf;
        k.ca = ca;
        Crl.CertList memory list = k.pckCrl;
        if (!X509.sameName(c.pckCrl, list.issuerStart, list.issuerEnd, leafDer, leaf.issuerStart, leaf.issuerEnd)) {
            revert VerificationFailed(Step.PckChain, Reason.IssuerMismatch);
        }
        if (keccak256(leafDer[leaf.issuerStart:leaf.issuerEnd]) == ROOT_SUBJECT_HASH) {
            revert VerificationFailed(Step.PckChain, Reason.NotPckCa);
        }
        if (!X509.sameName(leafDer, leaf.issuerStart, leaf.issuerEnd, caDer, ca.subjectStart, ca.subjectEnd)) {
            revert VerificationFailed(Step.PckChain, Reason.IssuerMismatch);
        }
        if (!ca.isP256 || !X509.verifySignature(leafDer, leaf, ca.pkX, ca.pkY)) {
            revert VerificationFailed(Step.PckChain, Reason.SignatureInvalid);
        }
        _checkIssuedByRoot(caDer, ca, Step.PckChain);
        _checkCertificate(leaf, time, false, Step.PckChain);
        _checkCertificate(ca, time, true, Step.PckChain);
        if (ca.hasKeyUsage && ca.keyUsage & X509.KU_CRL_SIGN == 0) {
            revert VerificationFailed(Step.PckChain, Reason.CertificateInvalid);
        }
        _checkCrl(c.pckCrl, list, ca.pkX, ca.pkY, time, Step.PckChain);
        if (Crl.isRevoked(c.pckCrl, list, leaf.serial)) revert VerificationFailed(Step.PckChain, Reason.Revoked);
        if (Crl.isRevoked(c.rootCaCrl, k.rootCrl, ca.serial)) revert VerificationFailed(Step.PckChain, Reason.Revoked);
        if (
            (
                !X509.hasSoleAttribute(caDer, ca.subjectStart, ca.subjectEnd, ATTR_CN, "Intel SGX PCK Platform CA")
                    && !X509.hasSoleAttribute(caDer, ca.subjectStart, ca.subjectEnd, ATTR_CN, "Intel SGX PCK Processor CA")
            ) || !ca.hasKeyUsage || ca.keyUsage & X509.KU_KEY_CERT_SIGN == 0
        ) revert VerificationFailed(Step.PckChain, Reason.NotPckCa);
    }

    /// @dev qe-report.signature (by the PCK leaf's key) and qe-report.binding.
    function _checkQuoteSignatures(bytes calldata quote, TdxQuote.Quote memory p, X509.Certificate memory leaf)
        private
        view
    {
        if (!QuoteSignatures.qeReportSignatureOk(quote, p, leaf.pkX, leaf.pkY)) {
            revert VerificationFailed(Step.QeReportSignature, Reason.SignatureInvalid);
        }
        if (!QuoteSignatures.qeReportBindingOk(quote, p)) {
            revert VerificationFailed(Step.QeReportBinding, Reason.SignatureInvalid);
        }
    }

    /// @dev qe-identity.policy, quote.signature, tcb.fmspc, tcb.level, tcb.tdx-module, tcb.status.
    function _grade(
        bytes calldata quote,
        TdxQuote.Quote memory p,
        TcbInfo.Info memory info,
        bytes memory t,
        QeIdentity.Identity memory qe,
        bytes memory q,
        X509.SgxExtension memory pck
    ) private view returns (Result memory r) {
        (IntelJson.TcbStatus qeStatus, uint256 qeAdvisories) = _qePolicy(quote, p, qe);
        if (!QuoteSignatures.quoteSignatureOk(quote, p)) {
            revert VerificationFailed(Step.QuoteSignature, Reason.SignatureInvalid);
        }
        TcbInfo.checkForPlatform(t, info, pck.fmspc, pck.pceId, true);
        (IntelJson.TcbStatus platform, string[] memory ids, uint256 tcbDate) = _platform(quote, p, info, t, pck);
        r.status = IntelJson.convergeStatus(platform, qeStatus);
        if (r.status == IntelJson.TcbStatus.Revoked) revert VerificationFailed(Step.TcbStatus, Reason.StatusRevoked);
        r.advisoryIds = IntelJson.mergeAdvisoryIds(ids, q, qeAdvisories);
        r.tcbDate = IntelJson.sliceText(t, tcbDate);
    }

    /// @dev qe-identity.policy: the QE report against the QE Identity; the QE's status and advisories slice.
    function _qePolicy(bytes calldata quote, TdxQuote.Quote memory p, QeIdentity.Identity memory qe)
        private
        pure
        returns (IntelJson.TcbStatus, uint256)
    {
        return QeIdentity.check(
            qe,
            TdxQuote.qeMrSigner(quote, p),
            TdxQuote.qeAttributes(quote, p),
            TdxQuote.qeIsvProdId(quote, p),
            TdxQuote.qeMiscSelect(quote, p),
            TdxQuote.qeIsvSvn(quote, p)
        );
    }

    /// @dev tcb.level and tcb.tdx-module: the platform's level, converged with the module's grade; the
    ///      status, the advisory IDs (level's, then the module's new ones) and the level's tcbDate slice.
    function _platform(
        bytes calldata quote,
        TdxQuote.Quote memory p,
        TcbInfo.Info memory info,
        bytes memory t,
        X509.SgxExtension memory pck
    ) private pure returns (IntelJson.TcbStatus status, string[] memory ids, uint256 tcbDate) {
        bytes16 teeTcbSvn = TdxQuote.teeTcbSvn(quote, p);
        TcbInfo.Level memory lv =
            info.tcbLevels[TcbInfo.matchPlatformLevel(info, pck.cpuSvn, uint16(pck.pceSvn), teeTcbSvn, true)];
        (bool graded, IntelJson.TcbStatus moduleStatus, uint256 moduleAdvisories) =
            _module(quote, p, info, t, teeTcbSvn);
        status = lv.status;
        ids = IntelJson.advisoryIds(t, lv.advisories);
        if (graded) {
            status = IntelJson.convergeStatus(status, moduleStatus);
            ids = IntelJson.mergeAdvisoryIds(ids, t, moduleAdvisories);
        }
        tcbDate = lv.tcbDate;
    }

    /// @dev tcb.tdx-module: the SEAM module's identity and, when an identity's levels grade it, its status.
    function _module(bytes calldata quote, TdxQuote.Quote memory p, TcbInfo.Info memory info, bytes memory t, bytes16 svn)
        private
        pure
        returns (bool, IntelJson.TcbStatus, uint256)
    {
        bytes memory mrSignerSeam = TdxQuote.mrSignerSeam(quote, p);
        return TcbInfo.checkTdxModule(t, info, svn, mrSignerSeam, TdxQuote.seamAttributes(quote, p));
    }

    /// @dev report.policy: a TD 1.5 report's mr_service_td is zero; the TD attributes have no reserved
    ///      bit, no DEBUG, and SEPT_VE_DISABLE set.
    function _checkReportPolicy(bytes calldata quote, TdxQuote.Quote memory p) private pure {
        if (p.bodyType == TdxQuote.BODY_TYPE_TD15) {
            bytes calldata m = TdxQuote.mrServiceTd(quote, p);
            if (bytes32(m[0:32]) != 0 || bytes16(m[32:48]) != 0) {
                revert VerificationFailed(Step.ReportPolicy, Reason.ServiceTdNotZero);
            }
        }
        bytes8 a = TdxQuote.tdAttributes(quote, p);
        // the attributes are a little-endian u64: byte i holds bits 8i … 8i + 7
        uint64 v;
        for (uint256 i; i < 8; ++i) v |= uint64(uint8(a[i])) << uint64(8 * i);
        if (v & TD_RESERVED != 0) revert VerificationFailed(Step.ReportPolicy, Reason.ReservedAttributes);
        if (v & TD_DEBUG != 0) revert VerificationFailed(Step.ReportPolicy, Reason.DebugTd);
        if (v & TD_SEPT_VE_DISABLE == 0) revert VerificationFailed(Step.ReportPolicy, Reason.SeptVeDisableClear);
    }

    // -----------------------------------------------------------------------------------------
    // certificates and CRLs
    // -----------------------------------------------------------------------------------------

    /// @dev `c` names the root as issuer and is signed by the root key.
    function _checkIssuedByRoot(bytes calldata der, X509.Certificate memory c, Step step) private view {
        if (keccak256(der[c.issuerStart:c.issuerEnd]) != ROOT_SUBJECT_HASH) {
            revert VerificationFailed(step, Reason.IssuerMismatch);
        }
        if (!X509.verifySignature(der, c, ROOT_X, ROOT_Y)) revert VerificationFailed(step, Reason.SignatureInvalid);
    }

    /// @dev Valid at `time`, a P-256 key, no unknown critical extension, an extended key usage (when
    ///      present) with serverAuth, and the CA flag as `ca` says (an intermediate: keyCertSign when it
    ///      has a key usage).
    function _checkCertificate(X509.Certificate memory c, uint256 time, bool ca, Step step) private pure {
        if (time < c.notBefore) revert VerificationFailed(step, Reason.NotYetValid);
        if (time > c.notAfter) revert VerificationFailed(step, Reason.Expired);
        if (
            !c.isP256 || c.unknownCritical || (c.hasExtKeyUsage && !c.extKeyUsageServerAuth) || c.isCa != ca
                || (ca && c.hasKeyUsage && c.keyUsage & X509.KU_KEY_CERT_SIGN == 0)
        ) revert VerificationFailed(step, Reason.CertificateInvalid);
    }

    /// @dev The CRL is signed by (x, y) and fresh: thisUpdate ≤ time ≤ nextUpdate, with a nextUpdate.
    function _checkCrl(bytes calldata der, Crl.CertList memory list, bytes32 x, bytes32 y, uint256 time, Step step)
        private
        view
    {
        if (!Crl.verifySignature(der, list, x, y)) revert VerificationFailed(step, Reason.SignatureInvalid);
        if (time < list.thisUpdate) revert VerificationFailed(step, Reason.NotYetValid);
        if (!list.hasNextUpdate || time > list.nextUpdate) revert VerificationFailed(step, Reason.Expired);
    }

    function _earliest(uint256 a, uint256 b, uint256 c, uint256 d) private pure returns (uint256 m) {
        m = a;
        if (b < m) m = b;
        if (c < m) m = c;
        if (d < m) m = d;
    }
}
