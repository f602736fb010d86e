// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DateTimeLib} from "solady/src/utils/DateTimeLib.sol";
import {P256} from "solady/src/utils/P256.sol";

import {Der} from "./Der.sol";

/// @title X509
/// @notice X.509 certificates as DCAP needs them, read in place from calldata: the signed part,
///         serial, issuer and subject names (as byte ranges, with a lookup of one attribute),
///         validity, the P-256 public key, basic constraints, key usage, extended key usage, the
///         Intel SGX extension's byte range, and the ECDSA-with-SHA256 signature. Everything else is
///         skipped structurally. Byte ranges are offsets into the certificate's DER. Malformed
///         input reverts with a `Der` error or one of the errors below.
library X509 {
    /// @notice Bytes follow the outer SEQUENCE.
    error X509TrailingBytes();
    /// @notice A signature algorithm other than ecdsa-with-SHA256 (without parameters).
    error X509UnsupportedAlgorithm(uint256 pos);
    /// @notice A UTCTime or GeneralizedTime that is not `[YY]YYMMDDHHMMSSZ` or not a real date from 1970 on.
    error X509BadTime(uint256 pos);
    /// @notice The signature BIT STRING is not an ECDSA-Sig-Value of two INTEGERs of at most 32 bytes.
    error X509BadSignature(uint256 pos);
    /// @notice An extension appears more than once.
    error X509DuplicateExtension(uint256 pos);

    /// @notice The certificate has no SGX extension.
    error SgxExtensionMissing();
    /// @notice SGX extension field 1.2.840.113741.1.13.1.`arc`[.`sub`] is missing, has the wrong size or is out of range.
    error SgxFieldInvalid(uint256 arc, uint256 sub);

    /// @dev keyUsage bits (bit n = KeyUsage bit n of RFC 5280)
    uint256 internal constant KU_DIGITAL_SIGNATURE = 1 << 0;
    uint256 internal constant KU_KEY_CERT_SIGN = 1 << 5;
    uint256 internal constant KU_CRL_SIGN = 1 << 6;

    /// @dev AlgorithmIdentifier { ecdsa-with-SHA256 }: 30 0a 06 08 2a8648ce3d040302, left-aligned
    bytes32 internal constant ALG_ECDSA_SHA256 = hex"300a06082a8648ce3d040302";
    /// @dev SubjectPublicKeyInfo of an uncompressed P-256 point, up to and including the 04 (27 bytes)
    bytes32 internal constant P256_SPKI_PREFIX = hex"3059301306072a8648ce3d020106082a8648ce3d03010703420004";
    /// @dev OID content of the Intel SGX extension 1.2.840.113741.1.13.1 (9 bytes)
    bytes32 internal constant OID_SGX = hex"2a864886f84d010d01";
    /// @dev OID content of id-kp-serverAuth 1.3.6.1.5.5.7.3.1 (8 bytes)
    bytes32 internal constant OID_SERVER_AUTH = hex"2b06010505070301";
    /// @dev id-ce extensions (2.5.29.x) the chain rules understand, as a bit mask over x:
    ///      subjectKeyIdentifier 14, keyUsage 15, subjectAltName 17, basicConstraints 19,
    ///      cRLDistributionPoints 31, certificatePolicies 32, authorityKeyIdentifier 35, extKeyUsage 37
    uint256 internal constant KNOWN_ID_CE = (1 << 14) | (1 << 15) | (1 << 17) | (1 << 19) | (1 << 31) | (1 << 32)
        | (1 << 35) | (1 << 37);

    /// @notice A decoded certificate. Ranges are `[start, end)` offsets into its DER.
    struct Certificate {
        uint256 tbsStart;
        uint256 tbsEnd;
        /// serial number (unsigned, leading zero bytes dropped)
        uint256 serial;
        /// the issuer Name element (tag and length included)
        uint256 issuerStart;
        uint256 issuerEnd;
        /// the subject Name element (tag and length included)
        uint256 subjectStart;
        uint256 subjectEnd;
        uint256 notBefore;
        uint256 notAfter;
        /// the P-256 point (x, y) when `isP256`
        bytes32 pkX;
        bytes32 pkY;
        /// keyUsage bits when `hasKeyUsage`
        uint256 keyUsage;
        /// content of the SGX extension's extnValue; both 0 when the certificate has none
        uint256 sgxStart;
        uint256 sgxEnd;
        bytes32 r;
        bytes32 s;
        /// the key is an uncompressed P-256 point
        bool isP256;
        /// basicConstraints cA
        bool isCa;
        bool hasKeyUsage;
        bool hasExtKeyUsage;
        bool extKeyUsageServerAuth;
        /// a critical extension the chain rules do not understand
        bool unknownCritical;
    }

    /// @notice The Intel SGX extension's values.
    struct SgxExtension {
        bytes16 ppid;
        bytes16 cpuSvn;
        /// byte i = CPUSVN component i + 1
        bytes16 tcbComponents;
        uint256 pceSvn;
        bytes2 pceId;
        bytes6 fmspc;
        uint256 sgxType;
    }

    // -----------------------------------------------------------------------------------------
    // Certificates
    // -----------------------------------------------------------------------------------------

    /// @notice Decodes the certificate `der`.
    function parse(bytes calldata der) internal pure returns (Certificate memory c) {
        unchecked {
            (uint256 tbsStart, uint256 tbsCs, uint256 tbsEnd, uint256 end) = signedParts(der);
            (c.r, c.s) = signatureAfter(der, tbsEnd, end);
            c.tbsStart = tbsStart;
            c.tbsEnd = tbsEnd;
            uint256 p = tbsCs;
            if (Der.peek(der, p, tbsEnd) == 0xa0) (,, p) = Der.read(der, p, tbsEnd); // version
            uint256 cs;
            (cs, p) = Der.expect(der, p, tbsEnd, 0x02);
            if (p == cs) revert Der.DerBadInteger(cs);
            c.serial = Der.unsignedAt(der, cs, p);
            p = algorithm(der, p, tbsEnd);
            c.issuerStart = p;
            (, p) = Der.expect(der, p, tbsEnd, 0x30);
            c.issuerEnd = p;
            p = _validity(der, p, tbsEnd, c);
            c.subjectStart = p;
            (, p) = Der.expect(der, p, tbsEnd, 0x30);
            c.subjectEnd = p;
            p = _publicKey(der, p, tbsEnd, c);
            while (p < tbsEnd) {
                uint256 tag;
                uint256 fEnd;
                (tag, cs, fEnd) = Der.read(der, p, tbsEnd);
                if (tag == 0xa3) _extensions(der, cs, fEnd, c);
                p = fEnd;
            }
        }
    }

    /// @notice The outer SEQUENCE of a certificate or CRL: it spans all of `der` and holds the signed
    ///         SEQUENCE `[tbsStart, tbsEnd)`, whose content starts at `tbsCs`, then the rest up to `end`.
    function signedParts(bytes calldata der)
        internal
        pure
        returns (uint256 tbsStart, uint256 tbsCs, uint256 tbsEnd, uint256 end)
    {
        (tbsStart, end) = Der.expect(der, 0, der.length, 0x30);
        if (end != der.length) revert X509TrailingBytes();
        (tbsCs, tbsEnd) = Der.expect(der, tbsStart, end, 0x30);
    }

    /// @notice The AlgorithmIdentifier at `p` must be ecdsa-with-SHA256; returns where it ends.
    function algorithm(bytes calldata der, uint256 p, uint256 limit) internal pure returns (uint256 end) {
        unchecked {
            (, end) = Der.expect(der, p, limit, 0x30);
            if (end - p != 12 || Der.word(der, p, 12) != ALG_ECDSA_SHA256) revert X509UnsupportedAlgorithm(p);
        }
    }

    /// @notice After the signed part (ending at `p`): the algorithm, which must match ecdsa-with-SHA256,
    ///      and the signature BIT STRING, which must end the structure at `end`.
    function signatureAfter(bytes calldata der, uint256 p, uint256 end) internal pure returns (bytes32 r, bytes32 s) {
        unchecked {
            p = algorithm(der, p, end);
            uint256 cs;
            (cs, p) = Der.expect(der, p, end, 0x03);
            if (p != end) revert Der.DerBadStructure(p);
            if (p == cs || Der.word(der, cs, 1) != 0) revert X509BadSignature(cs);
            (r, s) = ecdsaSignature(der, cs + 1, end);
        }
    }

    /// @notice The ECDSA-Sig-Value SEQUENCE { r INTEGER, s INTEGER } filling exactly `[p, end)`.
    function ecdsaSignature(bytes calldata der, uint256 p, uint256 end) internal pure returns (bytes32 r, bytes32 s) {
        unchecked {
            (uint256 cs, uint256 seqEnd) = Der.expect(der, p, end, 0x30);
            if (seqEnd != end) revert X509BadSignature(p);
            uint256 vEnd;
            (p, vEnd) = Der.expect(der, cs, seqEnd, 0x02);
            if (vEnd - p > 33) revert X509BadSignature(p);
            r = bytes32(Der.uintAt(der, p, vEnd));
            (p, cs) = Der.expect(der, vEnd, seqEnd, 0x02);
            if (cs != seqEnd || cs - p > 33) revert X509BadSignature(p);
            s = bytes32(Der.uintAt(der, p, cs));
        }
    }

    function _validity(bytes calldata der, uint256 p, uint256 limit, Certificate memory c)
        private
        pure
        returns (uint256 end)
    {
        unchecked {
            uint256 cs;
            (cs, end) = Der.expect(der, p, limit, 0x30);
            (c.notBefore, cs) = time(der, cs, end);
            (c.notAfter, cs) = time(der, cs, end);
            if (cs != end) revert Der.DerBadStructure(cs);
        }
    }

    function _publicKey(bytes calldata der, uint256 p, uint256 limit, Certificate memory c)
        private
        pure
        returns (uint256 end)
    {
        unchecked {
            (, end) = Der.expect(der, p, limit, 0x30);
            if (end - p == 91 && Der.word(der, p, 27) == P256_SPKI_PREFIX) {
                c.isP256 = true;
                bytes32 x;
                bytes32 y;
                assembly ("memory-safe") {
                    x := calldataload(add(der.offset, add(p, 27)))
                    y := calldataload(add(der.offset, add(p, 59)))
                }
                c.pkX = x;
                c.pkY = y;
            }
        }
    }

    /// @dev The Extensions SEQUENCE, the first element of the `[3]` content `[p, limit)`.
    function _extensions(bytes calldata der, uint256 p, uint256 limit, Certificate memory c) private pure {
        unchecked {
            (uint256 cs, uint256 end) = Der.expect(der, p, limit, 0x30);
            uint256 seen;
            while (cs < end) {
                uint256 eEnd;
                (p, eEnd) = Der.expect(der, cs, end, 0x30);
                (uint256 id, bool critical, uint256 vcs) = _extensionHeader(der, p, eEnd);
                seen = _extension(der, id, critical, vcs, eEnd, seen, c);
                cs = eEnd;
            }
        }
    }

    /// @dev The content `[p, end)` of one Extension SEQUENCE { OID, critical BOOLEAN optional,
    ///      extnValue OCTET STRING }: the extension's id (x + 1 for id-ce 2.5.29.x, 256 for the SGX
    ///      extension, 0 for any other), the critical flag and where the extnValue content starts.
    function _extensionHeader(bytes calldata der, uint256 p, uint256 end)
        private
        pure
        returns (uint256 id, bool critical, uint256 vcs)
    {
        (uint256 ocs, uint256 oEnd) = Der.expect(der, p, end, 0x06);
        uint256 olen = oEnd - ocs;
        if (olen == 3 && Der.word(der, ocs, 2) == hex"551d") id = uint8(bytes1(Der.word(der, ocs + 2, 1))) + 1;
        else if (olen == 9 && Der.word(der, ocs, 9) == OID_SGX) id = 256;
        p = oEnd;
        if (Der.peek(der, p, end) == 0x01) {
            uint256 bcs;
            (bcs, p) = Der.expect(der, p, end, 0x01);
            critical = p - bcs == 1 && Der.word(der, bcs, 1) != 0;
        }
        (vcs, p) = Der.expect(der, p, end, 0x04);
        if (p != end) revert Der.DerBadStructure(p);
    }

    /// @dev One extension (see `_extensionHeader`), extnValue content `[vcs, vEnd)`. `seen` is the mask
    ///      of id-ce extensions met so far; returns it updated.
    function _extension(
        bytes calldata der,
        uint256 id,
        bool critical,
        uint256 vcs,
        uint256 vEnd,
        uint256 seen,
        Certificate memory c
    ) private pure returns (uint256) {
        unchecked {
            if (id == 256) {
                if (c.sgxEnd != 0) revert X509DuplicateExtension(vcs);
                if (critical) c.unknownCritical = true;
                c.sgxStart = vcs;
                c.sgxEnd = vEnd;
            } else if (id != 0) {
                uint256 bit = 1 << (id - 1);
                if (seen & bit != 0) revert X509DuplicateExtension(vcs);
                seen |= bit;
                if (critical && KNOWN_ID_CE & bit == 0) c.unknownCritical = true;
                if (bit == 1 << 19) _basicConstraints(der, vcs, vEnd, c);
                else if (bit == 1 << 15) _keyUsage(der, vcs, vEnd, c);
                else if (bit == 1 << 37) _extKeyUsage(der, vcs, vEnd, c);
            } else if (critical) {
                c.unknownCritical = true;
            }
            return seen;
        }
    }

    function _basicConstraints(bytes calldata der, uint256 p, uint256 limit, Certificate memory c) private pure {
        unchecked {
            (uint256 cs, uint256 end) = Der.expect(der, p, limit, 0x30);
            while (cs < end) {
                (uint256 tag, uint256 vcs, uint256 vEnd) = Der.read(der, cs, end);
                if (tag == 0x01) c.isCa = vEnd - vcs == 1 && Der.word(der, vcs, 1) != 0;
                cs = vEnd;
            }
        }
    }

    /// @dev keyUsage BIT STRING: bit n (most significant bit first) is KeyUsage bit n; the first two bytes are read.
    function _keyUsage(bytes calldata der, uint256 p, uint256 limit, Certificate memory c) private pure {
        unchecked {
            (uint256 cs, uint256 end) = Der.expect(der, p, limit, 0x03);
            c.hasKeyUsage = true;
            uint256 n = end - cs;
            if (n < 2) return;
            uint256 bits = uint256(uint8(bytes1(Der.word(der, cs + 1, 1)))) << 8;
            if (n > 2) bits |= uint256(uint8(bytes1(Der.word(der, cs + 2, 1))));
            // bits holds KeyUsage bits 0…15 from the most significant end; reverse them
            uint256 ku;
            for (uint256 i; i < 16; ++i) {
                if (bits & (1 << (15 - i)) != 0) ku |= 1 << i;
            }
            c.keyUsage = ku;
        }
    }

    function _extKeyUsage(bytes calldata der, uint256 p, uint256 limit, Certificate memory c) private pure {
        unchecked {
            (uint256 cs, uint256 end) = Der.expect(der, p, limit, 0x30);
            c.hasExtKeyUsage = true;
            while (cs < end) {
                (, uint256 vcs, uint256 vEnd) = Der.read(der, cs, end);
                if (vEnd - vcs == 8 && Der.word(der, vcs, 8) == OID_SERVER_AUTH) c.extKeyUsageServerAuth = true;
                cs = vEnd;
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // The Intel SGX extension of a PCK certificate
    // -----------------------------------------------------------------------------------------

    /// @notice Reads the SGX extension of `c`: every required field present, of the right type and size.
    ///         `tcbComponents` byte i is CPUSVN component i + 1 (a component that is absent or not an
    ///         INTEGER is 0).
    function sgxExtension(bytes calldata der, Certificate memory c) internal pure returns (SgxExtension memory x) {
        unchecked {
            if (c.sgxEnd == 0) revert SgxExtensionMissing();
            (uint256 p, uint256 end) = Der.expect(der, c.sgxStart, c.sgxEnd, 0x30);
            uint256 found;
            while (p < end) {
                (uint256 arc, uint256 tag, uint256 vcs, uint256 vEnd, uint256 iEnd) = _sgxEntry(der, p, end, 10);
                if (arc == 2) {
                    if (tag != 0x30) revert Der.DerUnexpectedTag(vcs, 0x30, tag);
                    found |= _sgxTcb(der, vcs, vEnd, x);
                } else if (arc == 1) {
                    x.ppid = bytes16(_octets(der, tag, vcs, vEnd, 16, arc, 0));
                } else if (arc == 3) {
                    x.pceId = bytes2(_octets(der, tag, vcs, vEnd, 2, arc, 0));
                } else if (arc == 4) {
                    x.fmspc = bytes6(_octets(der, tag, vcs, vEnd, 6, arc, 0));
                } else if (arc == 5) {
                    x.sgxType = _integer(der, tag, vcs, vEnd, 0x0a, 0xff, arc, 0);
                }
                if (arc != 0 && arc < 6) found |= 1 << arc;
                p = iEnd;
            }
            // ppid, tcb, pce-id, fmspc, sgx type; pcesvn (bit 17) and cpusvn (bit 18) from the TCB
            uint256 required = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 17) | (1 << 18);
            if (found & required != required) {
                uint256 missing = required & ~found;
                uint256 arc = 1;
                while (missing & (1 << arc) == 0) ++arc;
                if (arc > 16) revert SgxFieldInvalid(2, arc);
                revert SgxFieldInvalid(arc, 0);
            }
        }
    }

    /// @dev One SEQUENCE { OID, value, … } at `p`: the last arc of its OID when the OID is the SGX
    ///      OID with `oidLen - 9` more arcs (0 otherwise), the value's tag and content, and where the
    ///      entry ends.
    function _sgxEntry(bytes calldata der, uint256 p, uint256 limit, uint256 oidLen)
        private
        pure
        returns (uint256 arc, uint256 tag, uint256 vcs, uint256 vEnd, uint256 iEnd)
    {
        unchecked {
            uint256 ics;
            (ics, iEnd) = Der.expect(der, p, limit, 0x30);
            (uint256 ocs, uint256 oEnd) = Der.expect(der, ics, iEnd, 0x06);
            (tag, vcs, vEnd) = Der.read(der, oEnd, iEnd);
            if (oEnd - ocs == oidLen && Der.word(der, ocs, 9) == OID_SGX) {
                if (oidLen == 11 && Der.word(der, ocs + 9, 1) != hex"02") return (0, tag, vcs, vEnd, iEnd);
                arc = uint8(bytes1(Der.word(der, oEnd - 1, 1)));
            }
        }
    }

    /// @dev The TCB SEQUENCE `[p, end)`: components 1…16, PCESVN (17), CPUSVN (18). Returns the found mask.
    function _sgxTcb(bytes calldata der, uint256 p, uint256 end, SgxExtension memory x)
        private
        pure
        returns (uint256 found)
    {
        unchecked {
            uint256 comps = uint128(x.tcbComponents);
            while (p < end) {
                (uint256 arc, uint256 tag, uint256 vcs, uint256 vEnd, uint256 iEnd) = _sgxEntry(der, p, end, 11);
                if (arc != 0 && arc < 17) {
                    uint256 v = tag == 0x02 ? _integer(der, tag, vcs, vEnd, 0x02, 0xff, 2, arc) : 0;
                    uint256 shift = (16 - arc) * 8;
                    comps = (comps & ~(uint256(0xff) << shift)) | (v << shift);
                } else if (arc == 17) {
                    x.pceSvn = _integer(der, tag, vcs, vEnd, 0x02, 0xffff, 2, arc);
                    found |= 1 << 17;
                } else if (arc == 18) {
                    x.cpuSvn = bytes16(_octets(der, tag, vcs, vEnd, 16, 2, arc));
                    found |= 1 << 18;
                }
                p = iEnd;
            }
            x.tcbComponents = bytes16(uint128(comps));
        }
    }

    function _octets(bytes calldata der, uint256 tag, uint256 vcs, uint256 vEnd, uint256 len, uint256 arc, uint256 sub)
        private
        pure
        returns (bytes32)
    {
        unchecked {
            if (tag != 0x04) revert Der.DerUnexpectedTag(vcs, 0x04, tag);
            if (vEnd - vcs != len) revert SgxFieldInvalid(arc, sub);
            return Der.word(der, vcs, len);
        }
    }

    function _integer(
        bytes calldata der,
        uint256 tag,
        uint256 vcs,
        uint256 vEnd,
        uint256 wantTag,
        uint256 max,
        uint256 arc,
        uint256 sub
    ) private pure returns (uint256 v) {
        if (tag != wantTag) revert Der.DerUnexpectedTag(vcs, wantTag, tag);
        v = Der.uintAt(der, vcs, vEnd);
        if (v > max) revert SgxFieldInvalid(arc, sub);
    }

    // -----------------------------------------------------------------------------------------
    // Times
    // -----------------------------------------------------------------------------------------

    /// @notice The UTCTime (`YYMMDDHHMMSSZ`, years 50…99 are 19xx) or GeneralizedTime
    ///         (`YYYYMMDDHHMMSSZ`) at `p` as unix seconds, and where it ends.
    function time(bytes calldata der, uint256 p, uint256 limit) internal pure returns (uint256 t, uint256 end) {
        unchecked {
            uint256 tag;
            uint256 cs;
            (tag, cs, end) = Der.read(der, p, limit);
            uint256 n = end - cs;
            uint256 digits;
            if (tag == 0x17 && n == 13) digits = 12;
            else if (tag == 0x18 && n == 15) digits = 14;
            else revert X509BadTime(p);
            uint256 w;
            bool ok;
            assembly ("memory-safe") {
                w := calldataload(add(der.offset, cs))
                let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
                let mask := not(shr(shl(3, digits), not(0)))
                // every digit byte is 0x30…0x39 and the one after them is 'Z'
                ok := and(
                    eq(and(w, and(mask, mul(ones, 0xf0))), and(mask, mul(ones, 0x30))),
                    iszero(and(add(and(w, and(mask, mul(ones, 0x0f))), and(mask, mul(ones, 0x06))), mul(ones, 0x10)))
                )
                ok := and(ok, eq(byte(digits, w), 0x5a))
            }
            if (!ok) revert X509BadTime(p);
            (ok, t) = _timestamp(w, digits);
            if (!ok) revert X509BadTime(p);
        }
    }

    /// @dev The date and time in the leading 12 (YYMMDDHHMMSS) or 14 (YYYYMMDDHHMMSS) digit bytes of `w`.
    function _timestamp(uint256 w, uint256 digits) private pure returns (bool ok, uint256 t) {
        unchecked {
            uint256 year;
            uint256 i;
            if (digits == 12) {
                year = _two(w, 0);
                year += year > 49 ? 1900 : 2000;
                i = 2;
            } else {
                year = _two(w, 0) * 100 + _two(w, 2);
                i = 4;
            }
            uint256 month = _two(w, i);
            uint256 day = _two(w, i + 2);
            uint256 hour = _two(w, i + 4);
            uint256 minute = _two(w, i + 6);
            uint256 second = _two(w, i + 8);
            ok = DateTimeLib.isSupportedDateTime(year, month, day, hour, minute, second);
            if (ok) t = DateTimeLib.dateTimeToTimestamp(year, month, day, hour, minute, second);
        }
    }

    /// @dev The two decimal digits at bytes `i`, `i + 1` of `w` (already checked to be digits).
    function _two(uint256 w, uint256 i) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := add(mul(sub(byte(i, w), 0x30), 10), sub(byte(add(i, 1), w), 0x30))
        }
    }

    // -----------------------------------------------------------------------------------------
    // Names
    // -----------------------------------------------------------------------------------------

    /// @notice In the Name element `[start, end)` of `der`, the attributes of type 2.5.4.`attr`
    ///         (e.g. 3 = CN, 10 = O): how many there are, and where the value element of the last one
    ///         starts. The Name must be a SEQUENCE of SETs of SEQUENCE { OID, value }.
    function nameAttribute(bytes calldata der, uint256 start, uint256 end, uint256 attr)
        internal
        pure
        returns (uint256 count, uint256 value)
    {
        unchecked {
            uint256 nEnd;
            (start, nEnd) = Der.expect(der, start, end, 0x30);
            if (nEnd != end) revert Der.DerBadStructure(nEnd);
            bytes32 want = bytes32(uint256(0x5504) << 240 | (attr & 0xff) << 232);
            while (start < end) {
                uint256 setEnd;
                (start, setEnd) = Der.expect(der, start, end, 0x31);
                while (start < setEnd) {
                    (uint256 v, uint256 atvEnd) = _attribute(der, start, setEnd, want);
                    if (v != 0) {
                        ++count;
                        value = v;
                    }
                    start = atvEnd;
                }
            }
        }
    }

    /// @dev The AttributeTypeAndValue SEQUENCE { OID, value } at `p`: where its value element starts
    ///      when its OID content is `want` (3 bytes), else 0; and where it ends.
    function _attribute(bytes calldata der, uint256 p, uint256 limit, bytes32 want)
        private
        pure
        returns (uint256 value, uint256 end)
    {
        unchecked {
            (uint256 a, uint256 atvEnd) = Der.expect(der, p, limit, 0x30);
            (uint256 ocs, uint256 oEnd) = Der.expect(der, a, atvEnd, 0x06);
            (,, end) = Der.read(der, oEnd, atvEnd);
            if (end != atvEnd) revert Der.DerBadStructure(end);
            if (oEnd - ocs == 3 && Der.word(der, ocs, 3) == want) value = oEnd;
        }
    }

    /// @notice True when the Name `[start, end)` has exactly one attribute 2.5.4.`attr` and it is a
    ///         UTF8String, PrintableString or IA5String whose bytes are `value`.
    function hasSoleAttribute(bytes calldata der, uint256 start, uint256 end, uint256 attr, bytes memory value)
        internal
        pure
        returns (bool)
    {
        return soleAttributeHash(der, start, end, attr) == keccak256(value);
    }

    /// @notice keccak256 of the bytes of the Name's only attribute 2.5.4.`attr` when there is exactly one
    ///         and it is a UTF8String, PrintableString or IA5String; 0 otherwise.
    function soleAttributeHash(bytes calldata der, uint256 start, uint256 end, uint256 attr)
        internal
        pure
        returns (bytes32)
    {
        (uint256 count, uint256 valueAt) = nameAttribute(der, start, end, attr);
        if (count != 1) return 0;
        (uint256 tag, uint256 vcs, uint256 vEnd) = Der.read(der, valueAt, end);
        if (tag != 0x0c && tag != 0x13 && tag != 0x16) return 0;
        return keccak256(der[vcs:vEnd]);
    }

    /// @notice True when the Name `[aStart, aEnd)` of `a` and `[bStart, bEnd)` of `b` are the same bytes.
    function sameName(bytes calldata a, uint256 aStart, uint256 aEnd, bytes calldata b, uint256 bStart, uint256 bEnd)
        internal
        pure
        returns (bool)
    {
        unchecked {
            return aEnd - aStart == bEnd - bStart && keccak256(a[aStart:aEnd]) == keccak256(b[bStart:bEnd]);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Signatures and validity
    // -----------------------------------------------------------------------------------------

    /// @notice True when `der[tbsStart:tbsEnd]` is signed by (r, s) under the P-256 key (x, y)
    ///         (ECDSA over SHA-256; high s accepted, as X.509 verifiers do). Uses the P-256
    ///         precompile at 0x100 and falls back to solady's verifier contract.
    function signedBy(bytes calldata der, uint256 tbsStart, uint256 tbsEnd, bytes32 r, bytes32 s, bytes32 x, bytes32 y)
        internal
        view
        returns (bool)
    {
        return P256.verifySignatureAllowMalleability(sha256(der[tbsStart:tbsEnd]), r, s, x, y);
    }

    /// @notice True when certificate `c` (DER `der`) is signed by the key (x, y).
    function verifySignature(bytes calldata der, Certificate memory c, bytes32 x, bytes32 y)
        internal
        view
        returns (bool)
    {
        return signedBy(der, c.tbsStart, c.tbsEnd, c.r, c.s, x, y);
    }

    /// @notice True when `now` is within `[notBefore, notAfter]`.
    function validAt(Certificate memory c, uint256 now_) internal pure returns (bool) {
        return !(now_ < c.notBefore || now_ > c.notAfter);
    }
}
