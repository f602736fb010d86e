// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Crl} from "../dcap/Crl.sol";
import {X509} from "../dcap/X509.sol";

/// @title X509Harness
/// @notice Exposes the DER, X.509 and CRL libraries as external views, for tests and gas figures.
contract X509Harness {
    function parseCertificate(bytes calldata der) external pure returns (X509.Certificate memory) {
        return X509.parse(der);
    }

    function sgxExtension(bytes calldata der) external pure returns (X509.SgxExtension memory) {
        return X509.sgxExtension(der, X509.parse(der));
    }

    function nameAttribute(bytes calldata der, uint256 start, uint256 end, uint256 attr)
        external
        pure
        returns (uint256 count, uint256 value)
    {
        return X509.nameAttribute(der, start, end, attr);
    }

    function hasSoleAttribute(bytes calldata der, uint256 start, uint256 end, uint256 attr, bytes calldata value)
        external
        pure
        returns (bool)
    {
        return X509.hasSoleAttribute(der, start, end, attr, value);
    }

    /// @notice True when certificate `der` is signed by the key (x, y).
    function verifyCertificate(bytes calldata der, bytes32 x, bytes32 y) external view returns (bool) {
        return X509.verifySignature(der, X509.parse(der), x, y);
    }

    /// @notice True when certificate `der`'s issuer Name is the subject Name of certificate `issuerDer`.
    function issuedBy(bytes calldata der, bytes calldata issuerDer) external pure returns (bool) {
        X509.Certificate memory c = X509.parse(der);
        X509.Certificate memory i = X509.parse(issuerDer);
        return X509.sameName(der, c.issuerStart, c.issuerEnd, issuerDer, i.subjectStart, i.subjectEnd);
    }

    function parseCrl(bytes calldata der) external pure returns (Crl.CertList memory) {
        return Crl.parse(der);
    }

    function revokedSerials(bytes calldata der) external pure returns (uint256[] memory) {
        return Crl.revokedSerials(der, Crl.parse(der));
    }

    function isRevoked(bytes calldata der, uint256 serial) external pure returns (bool) {
        return Crl.isRevoked(der, Crl.parse(der), serial);
    }

    function verifyCrl(bytes calldata der, bytes32 x, bytes32 y) external view returns (bool) {
        return Crl.verifySignature(der, Crl.parse(der), x, y);
    }

    /// @notice Execution gas of parsing certificate `der` and checking its signature by (x, y).
    function certificateGas(bytes calldata der, bytes32 x, bytes32 y) external view returns (bool ok, uint256 gasUsed) {
        uint256 g = gasleft();
        ok = X509.verifySignature(der, X509.parse(der), x, y);
        gasUsed = g - gasleft();
    }

    /// @notice Execution gas of parsing PCK leaf `der`, reading its SGX extension and checking its signature by (x, y).
    function pckLeafGas(bytes calldata der, bytes32 x, bytes32 y) external view returns (bool ok, uint256 gasUsed) {
        uint256 g = gasleft();
        X509.Certificate memory c = X509.parse(der);
        X509.sgxExtension(der, c);
        ok = X509.verifySignature(der, c, x, y);
        gasUsed = g - gasleft();
    }

    /// @notice Execution gas of parsing CRL `der`, checking its signature by (x, y) and looking up `serial`.
    function crlGas(bytes calldata der, bytes32 x, bytes32 y, uint256 serial)
        external
        view
        returns (bool ok, bool revoked, uint256 gasUsed)
    {
        uint256 g = gasleft();
        Crl.CertList memory list = Crl.parse(der);
        ok = Crl.verifySignature(der, list, x, y);
        revoked = Crl.isRevoked(der, list, serial);
        gasUsed = g - gasleft();
    }
}
