// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Der} from "./Der.sol";
import {X509} from "./X509.sol";

/// @title Crl
/// @notice X.509 CRLs (v1 or v2) read in place from calldata: the signed part and its
///         ECDSA-with-SHA256 signature, the issuer Name, thisUpdate / nextUpdate and the revoked
///         certificates' serial numbers. Malformed input reverts with a `Der` or `X509` error.
library Crl {
    /// @notice A decoded CRL. Ranges are `[start, end)` offsets into its DER.
    struct CertList {
        uint256 tbsStart;
        uint256 tbsEnd;
        /// the issuer Name element (tag and length included)
        uint256 issuerStart;
        uint256 issuerEnd;
        uint256 thisUpdate;
        bool hasNextUpdate;
        uint256 nextUpdate;
        /// content of the revokedCertificates SEQUENCE; both 0 when there is none
        uint256 revokedStart;
        uint256 revokedEnd;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Decodes the CRL `der`.
    function parse(bytes calldata der) internal pure returns (CertList memory list) {
        unchecked {
            (uint256 tbsStart, uint256 p, uint256 tbsEnd, uint256 end) = X509.signedParts(der);
            (list.r, list.s) = X509.signatureAfter(der, tbsEnd, end);
            list.tbsStart = tbsStart;
            list.tbsEnd = tbsEnd;
            if (Der.peek(der, p, tbsEnd) == 0x02) (,, p) = Der.read(der, p, tbsEnd); // version
            p = X509.algorithm(der, p, tbsEnd);
            list.issuerStart = p;
            (, p) = Der.expect(der, p, tbsEnd, 0x30);
            list.issuerEnd = p;
            (list.thisUpdate, p) = X509.time(der, p, tbsEnd);
            if (p < tbsEnd) {
                uint256 tag = Der.peek(der, p, tbsEnd);
                if (tag == 0x17 || tag == 0x18) {
                    (list.nextUpdate, p) = X509.time(der, p, tbsEnd);
                    list.hasNextUpdate = true;
                }
            }
            if (p < tbsEnd && Der.peek(der, p, tbsEnd) == 0x30) {
                (list.revokedStart, list.revokedEnd) = Der.expect(der, p, tbsEnd, 0x30);
                if (list.revokedEnd == list.revokedStart) (list.revokedStart, list.revokedEnd) = (0, 0);
            }
        }
    }

    /// @notice True when `serial` (unsigned, as `X509.Certificate.serial`) is listed as revoked.
    function isRevoked(bytes calldata der, CertList memory list, uint256 serial) internal pure returns (bool) {
        return isRevokedIn(der, list.revokedStart, list.revokedEnd, serial);
    }

    /// @notice `isRevoked` for the revokedCertificates content `[p, end)` of a CRL that `parse` read.
    function isRevokedIn(bytes calldata der, uint256 p, uint256 end, uint256 serial) internal pure returns (bool) {
        unchecked {
            while (p < end) {
                // entries in the usual short form, `30 L 02 SL serial …` (L < 128, 1 ≤ SL ≤ 32), read in one
                // step; any other entry is read below (which accepts the same entries with the same serials)
                bool hit;
                uint256 next;
                assembly ("memory-safe") {
                    for {} lt(add(p, 4), end) {} {
                        let w := calldataload(add(der.offset, p))
                        let l := byte(1, w)
                        let sl := byte(3, w)
                        if iszero(
                            and(
                                and(eq(byte(0, w), 0x30), eq(byte(2, w), 0x02)),
                                and(
                                    and(lt(l, 0x80), iszero(gt(add(add(p, 2), l), end))),
                                    and(gt(sl, 0), and(lt(sl, 33), iszero(gt(add(sl, 2), l))))
                                )
                            )
                        ) { break }
                        if eq(shr(sub(256, shl(3, sl)), calldataload(add(der.offset, add(p, 4)))), serial) {
                            hit := 1
                            break
                        }
                        p := add(add(p, 2), l)
                    }
                    next := p
                }
                if (hit) return true;
                p = next;
                if (!(p < end)) break;
                (uint256 ecs, uint256 eEnd) = Der.expect(der, p, end, 0x30);
                (uint256 scs, uint256 sEnd) = Der.expect(der, ecs, eEnd, 0x02);
                if (sEnd == scs) revert Der.DerBadInteger(scs);
                if (Der.unsignedAt(der, scs, sEnd) == serial) return true;
                p = eEnd;
            }
            return false;
        }
    }

    /// @notice Every revoked serial, in order.
    function revokedSerials(bytes calldata der, CertList memory list) internal pure returns (uint256[] memory out) {
        uint256 n;
        uint256 p = list.revokedStart;
        uint256 end = list.revokedEnd;
        while (p < end) {
            (, p) = Der.expect(der, p, end, 0x30);
            ++n;
        }
        out = new uint256[](n);
        p = list.revokedStart;
        for (uint256 i; i < n; ++i) {
            (uint256 ecs, uint256 eEnd) = Der.expect(der, p, end, 0x30);
            (uint256 scs, uint256 sEnd) = Der.expect(der, ecs, eEnd, 0x02);
            if (sEnd == scs) revert Der.DerBadInteger(scs);
            out[i] = Der.unsignedAt(der, scs, sEnd);
            p = eEnd;
        }
    }

    /// @notice True when the CRL is signed by the P-256 key (x, y).
    function verifySignature(bytes calldata der, CertList memory list, bytes32 x, bytes32 y) internal view returns (bool) {
        return X509.signedBy(der, list.tbsStart, list.tbsEnd, list.r, list.s, x, y);
    }

    /// @notice True when `thisUpdate ≤ now ≤ nextUpdate` (a CRL without nextUpdate is never fresh).
    function freshAt(CertList memory list, uint256 now_) internal pure returns (bool) {
        return list.hasNextUpdate && !(now_ < list.thisUpdate || now_ > list.nextUpdate);
    }
}
