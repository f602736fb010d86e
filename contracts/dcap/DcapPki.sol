// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Comparisons follow Intel's rules (≥, ≤) and the memory structs are never stored, so slot packing
// does not apply.
// solhint-disable gas-strict-inequalities, gas-struct-packing

import {Crl} from "./Crl.sol";
import {IDcapVerifier} from "./IDcapVerifier.sol";
import {X509} from "./X509.sol";

/// @title DcapPki
/// @notice The certificate and CRL steps of `DcapVerifier` (root-ca.crl, the collateral signers' chain,
///         pck.chain and pck.extension) under the verifier's trust root. `DcapVerifier` deploys it in its
///         constructor and calls it at each of these steps; it is stateless and holds only the root.
/// @dev A failed check reverts with `IDcapVerifier.VerificationFailed(step, reason)`; input a reader
///      cannot read reverts with the `Der` / `X509` error, which the verifier passes on unchanged.
contract DcapPki {
    uint256 private constant ATTR_CN = 3;
    uint256 private constant ATTR_O = 10;

    bytes32 private immutable ROOT_X;
    bytes32 private immutable ROOT_Y;
    bytes32 private immutable ROOT_SUBJECT_HASH;
    uint256 private immutable ROOT_SERIAL;

    /// @notice What `pck` learnt of the PCK leaf: its key, its SGX extension's platform fields and the
    ///         PCK CRL's nextUpdate.
    struct Pck {
        bytes32 x;
        bytes32 y;
        bytes6 fmspc;
        bytes2 pceId;
        bytes16 cpuSvn;
        uint16 pceSvn;
        uint64 crlNextUpdate;
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

    /// @notice root-ca.crl: both CRLs read; the root's issued by the root, signed by it, fresh at `time`,
    ///         not listing the root.
    /// @return rootNextUpdate the root CRL's nextUpdate
    /// @return rootRevoked where the root CRL's revokedCertificates are (`start << 128 | end`, 0 when it has
    ///         none), for `pck` and `signer`, which then need not read the root CRL again
    function rootCrl(bytes calldata rootCaCrl, bytes calldata pckCrl, uint64 time)
        external
        view
        returns (uint64 rootNextUpdate, uint256 rootRevoked)
    {
        Crl.CertList memory list = Crl.parse(rootCaCrl);
        Crl.parse(pckCrl);
        if (keccak256(rootCaCrl[list.issuerStart:list.issuerEnd]) != ROOT_SUBJECT_HASH) {
            _fail(IDcapVerifier.Step.RootCaCrl, IDcapVerifier.Reason.IssuerMismatch);
        }
        _checkCrl(rootCaCrl, list, ROOT_X, ROOT_Y, time, IDcapVerifier.Step.RootCaCrl);
        if (Crl.isRevoked(rootCaCrl, list, ROOT_SERIAL)) {
            _fail(IDcapVerifier.Step.RootCaCrl, IDcapVerifier.Reason.Revoked);
        }
        rootNextUpdate = uint64(list.nextUpdate);
        rootRevoked = (list.revokedStart << 128) | list.revokedEnd;
    }

    /// @notice `<document>.chain` (`step`): the TCB Signing pin (CN "Intel SGX TCB Signing", O "Intel
    ///         Corporation", not a CA, digitalSignature), issued and signed by the root, a valid end
    ///         entity at `time`, not on the root CRL (already checked by `rootCrl`, which says where its
    ///         revoked certificates are: `rootRevoked`).
    /// @return x the signer's P-256 key, x
    /// @return y its y
    function signer(bytes calldata der, bytes calldata rootCaCrl, uint256 rootRevoked, uint64 time, IDcapVerifier.Step step)
        external
        view
        returns (bytes32 x, bytes32 y)
    {
        X509.Certificate memory s = X509.parse(der);
        if (
            !X509.hasSoleAttribute(der, s.subjectStart, s.subjectEnd, ATTR_CN, "Intel SGX TCB Signing")
                || !X509.hasSoleAttribute(der, s.subjectStart, s.subjectEnd, ATTR_O, "Intel Corporation") || s.isCa
                || !s.hasKeyUsage || s.keyUsage & X509.KU_DIGITAL_SIGNATURE == 0
        ) _fail(step, IDcapVerifier.Reason.NotTcbSigning);
        _checkIssuedByRoot(der, s, step);
        _checkCertificate(s, time, false, step);
        if (_onRootCrl(rootCaCrl, rootRevoked, s.serial)) _fail(step, IDcapVerifier.Reason.Revoked);
        return (s.pkX, s.pkY);
    }

    /// @notice pck.chain: pck_crl issued by the leaf's issuer; leaf ← PCK CA ← root, each signed by the
    ///         next, valid at `time`; the leaf not on the PCK CRL (signed by the PCK CA, fresh), the CA
    ///         not on the root CRL; the CA pinned (CN Platform / Processor CA, CA flag, keyCertSign).
    ///         Then pck.extension: the leaf's SGX extension.
    function pck(
        bytes calldata leafDer,
        bytes calldata caDer,
        bytes calldata pckCrl,
        bytes calldata rootCaCrl,
        uint256 rootRevoked,
        uint64 time
    ) external view returns (Pck memory out) {
        (X509.Certificate memory leaf, X509.Certificate memory ca) = _pckCertificates(leafDer, caDer, time);
        out.crlNextUpdate = _checkPckCrl(pckCrl, keccak256(leafDer[leaf.issuerStart:leaf.issuerEnd]), leaf.serial, ca, time);
        if (_onRootCrl(rootCaCrl, rootRevoked, ca.serial)) {
            _fail(IDcapVerifier.Step.PckChain, IDcapVerifier.Reason.Revoked);
        }
        _checkPckCaName(caDer, ca);
        // pck.extension
        X509.SgxExtension memory sgx = X509.sgxExtension(leafDer, leaf);
        out.x = leaf.pkX;
        out.y = leaf.pkY;
        out.fmspc = sgx.fmspc;
        out.pceId = sgx.pceId;
        out.cpuSvn = sgx.cpuSvn;
        out.pceSvn = uint16(sgx.pceSvn);
    }

    /// @dev The PCK CRL: issued by the leaf's issuer (its Name's hash `issuerHash`), signed by the PCK CA,
    ///      fresh at `time`, not listing the leaf (`serial`); returns its nextUpdate.
    function _checkPckCrl(bytes calldata der, bytes32 issuerHash, uint256 serial, X509.Certificate memory ca, uint256 time)
        private
        view
        returns (uint64)
    {
        Crl.CertList memory list = Crl.parse(der);
        if (keccak256(der[list.issuerStart:list.issuerEnd]) != issuerHash) {
            _fail(IDcapVerifier.Step.PckChain, IDcapVerifier.Reason.IssuerMismatch);
        }
        _checkCrl(der, list, ca.pkX, ca.pkY, time, IDcapVerifier.Step.PckChain);
        if (Crl.isRevoked(der, list, serial)) _fail(IDcapVerifier.Step.PckChain, IDcapVerifier.Reason.Revoked);
        return uint64(list.nextUpdate);
    }

    /// @dev pck.chain's certificates: leaf ← PCK CA ← root by names and signatures, both valid at `time`.
    function _pckCertificates(bytes calldata leafDer, bytes calldata caDer, uint256 time)
        private
        view
        returns (X509.Certificate memory leaf, X509.Certificate memory ca)
    {
        IDcapVerifier.Step step = IDcapVerifier.Step.PckChain;
        leaf = X509.parse(leafDer);
        ca = X509.parse(caDer);
        if (keccak256(leafDer[leaf.issuerStart:leaf.issuerEnd]) == ROOT_SUBJECT_HASH) {
            _fail(step, IDcapVerifier.Reason.NotPckCa);
        }
        if (!X509.sameName(leafDer, leaf.issuerStart, leaf.issuerEnd, caDer, ca.subjectStart, ca.subjectEnd)) {
            _fail(step, IDcapVerifier.Reason.IssuerMismatch);
        }
        if (!ca.isP256 || !X509.verifySignature(leafDer, leaf, ca.pkX, ca.pkY)) {
            _fail(step, IDcapVerifier.Reason.SignatureInvalid);
        }
        _checkIssuedByRoot(caDer, ca, step);
        _checkCertificate(leaf, time, false, step);
        _checkCertificate(ca, time, true, step);
        if (ca.hasKeyUsage && ca.keyUsage & X509.KU_CRL_SIGN == 0) _fail(step, IDcapVerifier.Reason.CertificateInvalid);
    }

    /// @dev The PCK CA pin: CN Platform / Processor CA, keyCertSign.
    function _checkPckCaName(bytes calldata caDer, X509.Certificate memory ca) private pure {
        bytes32 cn = X509.soleAttributeHash(caDer, ca.subjectStart, ca.subjectEnd, ATTR_CN);
        if (
            (cn != keccak256("Intel SGX PCK Platform CA") && cn != keccak256("Intel SGX PCK Processor CA"))
                || !ca.hasKeyUsage || ca.keyUsage & X509.KU_KEY_CERT_SIGN == 0
        ) _fail(IDcapVerifier.Step.PckChain, IDcapVerifier.Reason.NotPckCa);
    }

    /// @dev `c` names the root as issuer and is signed by the root key.
    function _checkIssuedByRoot(bytes calldata der, X509.Certificate memory c, IDcapVerifier.Step step) private view {
        if (keccak256(der[c.issuerStart:c.issuerEnd]) != ROOT_SUBJECT_HASH) {
            _fail(step, IDcapVerifier.Reason.IssuerMismatch);
        }
        if (!X509.verifySignature(der, c, ROOT_X, ROOT_Y)) _fail(step, IDcapVerifier.Reason.SignatureInvalid);
    }

    /// @dev Valid at `time`, a P-256 key, no unknown critical extension, an extended key usage (when
    ///      present) with serverAuth, and the CA flag as `ca` says (an intermediate: keyCertSign when it
    ///      has a key usage).
    function _checkCertificate(X509.Certificate memory c, uint256 time, bool ca, IDcapVerifier.Step step)
        private
        pure
    {
        if (time < c.notBefore) _fail(step, IDcapVerifier.Reason.NotYetValid);
        if (time > c.notAfter) _fail(step, IDcapVerifier.Reason.Expired);
        if (
            !c.isP256 || c.unknownCritical || (c.hasExtKeyUsage && !c.extKeyUsageServerAuth) || c.isCa != ca
                || (ca && c.hasKeyUsage && c.keyUsage & X509.KU_KEY_CERT_SIGN == 0)
        ) _fail(step, IDcapVerifier.Reason.CertificateInvalid);
    }

    /// @dev The CRL is signed by (x, y) and fresh: thisUpdate ≤ time ≤ nextUpdate, with a nextUpdate.
    function _checkCrl(
        bytes calldata der,
        Crl.CertList memory list,
        bytes32 x,
        bytes32 y,
        uint256 time,
        IDcapVerifier.Step step
    ) private view {
        if (!Crl.verifySignature(der, list, x, y)) _fail(step, IDcapVerifier.Reason.SignatureInvalid);
        if (time < list.thisUpdate) _fail(step, IDcapVerifier.Reason.NotYetValid);
        if (!list.hasNextUpdate || time > list.nextUpdate) _fail(step, IDcapVerifier.Reason.Expired);
    }

    /// @dev Whether the root CRL `rootCaCrl` (its revoked certificates at `rootRevoked`, as `rootCrl` found
    ///      them) lists `serial`.
    function _onRootCrl(bytes calldata rootCaCrl, uint256 rootRevoked, uint256 serial) private pure returns (bool) {
        return Crl.isRevokedIn(rootCaCrl, rootRevoked >> 128, uint128(rootRevoked), serial);
    }

    function _fail(IDcapVerifier.Step step, IDcapVerifier.Reason reason) private pure {
        revert IDcapVerifier.VerificationFailed(step, reason);
    }
}
