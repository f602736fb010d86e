// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Crl} from "../dcap/Crl.sol";
import {QeIdentity} from "../dcap/QeIdentity.sol";
import {TcbInfo} from "../dcap/TcbInfo.sol";
import {X509} from "../dcap/X509.sol";

/// @title BoundsHarness
/// @notice The readers run on an input followed by junk the input does not include: bytes after a
///         calldata slice (DER) or memory after a `bytes` array's end (JSON). A reader that never reads
///         outside its input returns the same result (a hash of everything it read) or the same revert
///         whatever the junk is.
contract BoundsHarness {
    /// @notice The certificate, its SGX extension and the CRL readers on `buf[0:n]`.
    function der(bytes calldata buf, uint256 n, uint256 serial) external pure returns (bytes32) {
        bytes calldata d = buf[0:n];
        uint256 kind = serial % 3;
        if (kind == 0) return keccak256(abi.encode(X509.parse(d)));
        if (kind == 1) {
            X509.Certificate memory c = X509.parse(d);
            return keccak256(abi.encode(X509.sgxExtension(d, c)));
        }
        Crl.CertList memory list = Crl.parse(d);
        return keccak256(abi.encode(list, Crl.isRevoked(d, list, serial)));
    }

    /// @notice TCB Info (`qe` false) or QE Identity parsing of `text`, laid in memory with `tail` after
    ///      its end (allocated, so nothing the reader allocates overwrites it).
    function json(bytes calldata text, bytes calldata tail, bool qe) external pure returns (bytes32) {
        bytes memory s = bytes.concat(text, tail);
        uint256 n = text.length;
        assembly ("memory-safe") {
            mstore(s, n)
        }
        if (qe) return keccak256(abi.encode(QeIdentity.parse(s)));
        return keccak256(abi.encode(TcbInfo.parse(s)));
    }
}
