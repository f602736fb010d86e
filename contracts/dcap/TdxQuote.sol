// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title TdxQuote
/// @notice Reads an Intel DCAP quote in calldata with the rules of the TypeScript parser (src/dcap/quote.ts)
///         and accepts it only when it is a TDX quote: version 4 (TD 1.0 body) or 5 (TD 1.0 or TD 1.5 body),
///         Intel's QE vendor id and an ECDSA P-256 attestation key.
/// @dev The quote is never copied: `parse` returns the offsets of its parts and the field getters return
///      calldata slices or words read in place. Every length field is checked against the end of the region
///      that encloses it before anything after it is read; a malformed quote reverts with a custom error
///      naming the field and its offset from the quote's start (never a panic). Bytes after the signature
///      data are tolerated and counted in `trailingBytes`. Layout (little-endian integers):
///        header (48) [v5: body_type u16, body_size u32] body (TD10 584 / TD15 648; SGX 384)
///        signature_data_length u32, signature_data:
///          quote_signature (64, r‖s), attestation_key (64, x‖y),
///          [v4/v5: certification_data.type u16 (= 6), certification_data.size u32, then inside it:]
///          qe_report (384), qe_report_signature (64), qe_auth_data.size u16, qe_auth_data,
///          pck_cert_data.type u16, pck_cert_data.size u32, pck_cert_data.
///      SGX quotes (v3, v4 or v5 with an SGX body) are read with the same rules, then refused with
///      `QuoteNotTdx`, so a malformed SGX quote fails where the TypeScript parser says it does.
library TdxQuote {
    // ---- header ----
    uint256 internal constant HEADER_SIZE = 48;
    uint256 internal constant HEADER_VERSION = 0;
    uint256 internal constant HEADER_ATTESTATION_KEY_TYPE = 2;
    uint256 internal constant HEADER_TEE_TYPE = 4;
    uint256 internal constant HEADER_QE_SVN = 8;
    uint256 internal constant HEADER_PCE_SVN = 10;
    uint256 internal constant HEADER_QE_VENDOR_ID = 12;
    uint256 internal constant HEADER_USER_DATA = 28;

    uint256 internal constant TEE_TYPE_SGX = 0x00000000;
    uint256 internal constant TEE_TYPE_TDX = 0x00000081;
    uint256 internal constant ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
    bytes16 internal constant INTEL_QE_VENDOR_ID = 0x939a7233f79c4ca9940a0db3957f0607;

    // ---- v5 body descriptor ----
    uint256 internal constant V5_BODY_TYPE = 48;
    uint256 internal constant V5_BODY_SIZE = 50;
    uint256 internal constant V5_BODY = 54;
    uint256 internal constant BODY_TYPE_SGX = 1;
    uint256 internal constant BODY_TYPE_TD10 = 2;
    uint256 internal constant BODY_TYPE_TD15 = 3;

    // ---- body sizes ----
    uint256 internal constant ENCLAVE_REPORT_SIZE = 384;
    uint256 internal constant TD10_REPORT_SIZE = 584;
    uint256 internal constant TD15_REPORT_SIZE = 648;

    // ---- TD report fields (offsets in the body) ----
    uint256 internal constant TD_TEE_TCB_SVN = 0; // 16
    uint256 internal constant TD_MR_SEAM = 16; // 48
    uint256 internal constant TD_MR_SIGNER_SEAM = 64; // 48
    uint256 internal constant TD_SEAM_ATTRIBUTES = 112; // 8
    uint256 internal constant TD_ATTRIBUTES = 120; // 8
    uint256 internal constant TD_XFAM = 128; // 8
    uint256 internal constant TD_MR_TD = 136; // 48
    uint256 internal constant TD_MR_CONFIG_ID = 184; // 48
    uint256 internal constant TD_MR_OWNER = 232; // 48
    uint256 internal constant TD_MR_OWNER_CONFIG = 280; // 48
    uint256 internal constant TD_RTMR0 = 328; // 4 × 48
    uint256 internal constant TD_REPORT_DATA = 520; // 64
    uint256 internal constant TD15_TEE_TCB_SVN2 = 584; // 16
    uint256 internal constant TD15_MR_SERVICE_TD = 600; // 48
    uint256 internal constant MEASUREMENT_SIZE = 48;
    uint256 internal constant REPORT_DATA_SIZE = 64;

    // ---- SGX enclave report fields (the QE report) ----
    uint256 internal constant ER_CPU_SVN = 0; // 16
    uint256 internal constant ER_MISC_SELECT = 16; // u32
    uint256 internal constant ER_ATTRIBUTES = 48; // 16
    uint256 internal constant ER_MR_ENCLAVE = 64; // 32
    uint256 internal constant ER_MR_SIGNER = 128; // 32
    uint256 internal constant ER_ISV_PROD_ID = 256; // u16
    uint256 internal constant ER_ISV_SVN = 258; // u16
    uint256 internal constant ER_REPORT_DATA = 320; // 64

    // ---- signature data ----
    uint256 internal constant LENGTH32_SIZE = 4;
    uint256 internal constant LENGTH16_SIZE = 2;
    uint256 internal constant TYPE_SIZE = 2;
    uint256 internal constant SIGNATURE_SIZE = 64;
    uint256 internal constant PUBLIC_KEY_SIZE = 64;
    uint256 internal constant CERT_TYPE_QE_REPORT = 6;
    uint256 internal constant CERT_TYPE_PCK_CHAIN_PEM = 5;
    /// @dev Largest length field accepted anywhere in a quote (1 MiB, as the TypeScript parser).
    uint256 internal constant MAX_LENGTH_FIELD = 1 << 20;

    /// @notice The structure being read when a quote stopped making sense (the TypeScript parser's field names).
    enum Field {
        Header, // "header"
        BodyType, // "body_descriptor.body_type"
        BodySize, // "body_descriptor.body_size"
        BodySgx, // "body (SGX enclave report)"
        BodyTd10, // "body (TD 1.0 report)"
        BodyTd15, // "body (TD 1.5 report)"
        SignatureDataLength, // "signature_data_length"
        SignatureData, // "signature_data"
        QuoteSignature, // "quote_signature"
        AttestationKey, // "attestation_key"
        CertificationDataType, // "certification_data.type"
        CertificationDataSize, // "certification_data.size"
        CertificationData, // "certification_data"
        QeReport, // "qe_report"
        QeReportSignature, // "qe_report_signature"
        QeAuthDataSize, // "qe_auth_data.size"
        QeAuthData, // "qe_auth_data"
        PckCertDataType, // "pck_cert_data.type"
        PckCertDataSize, // "pck_cert_data.size"
        PckCertData // "pck_cert_data"
    }

    /// @notice `field` needs more bytes than remain in its region (QUOTE_TRUNCATED).
    error QuoteTruncated(Field field, uint256 offset);
    /// @notice A length field declares more than 1 MiB (QUOTE_LENGTH_TOO_LARGE); `offset` is the length field's.
    error QuoteLengthTooLarge(Field field, uint256 offset, uint256 length);
    /// @notice A length field runs past the end of its region (QUOTE_LENGTH_PAST_END); `offset` is the data's.
    error QuoteLengthPastEnd(Field field, uint256 offset, uint256 length);
    /// @notice The quote version is not 3, 4 or 5 (QUOTE_UNSUPPORTED, header.version).
    error QuoteUnsupportedVersion(uint256 version);
    /// @notice The TEE type is unknown or does not fit the version / body type (QUOTE_UNSUPPORTED, header.tee_type).
    error QuoteUnsupportedTeeType(uint256 teeType);
    /// @notice A v5 body type other than 1, 2, 3 (QUOTE_UNSUPPORTED, body_descriptor.body_type).
    error QuoteUnsupportedBodyType(uint256 bodyType);
    /// @notice A v5 body size that is not the body type's (QUOTE_BODY_SIZE_MISMATCH).
    error QuoteBodySizeMismatch(uint256 bodyType, uint256 bodySize);
    /// @notice The outer certification data is not type 6 (QUOTE_UNSUPPORTED_CERT_TYPE).
    error QuoteUnsupportedCertType(uint256 certType);
    /// @notice The QE vendor id is not Intel's (step quote.header).
    error QuoteVendorNotIntel(bytes16 qeVendorId);
    /// @notice The attestation key type is not 2 = ECDSA P-256 (step quote.header).
    error QuoteAttestationKeyTypeUnsupported(uint256 attestationKeyType);
    /// @notice A well-formed quote of another TEE (SGX): this verifier accepts TDX quotes only.
    error QuoteNotTdx(uint256 teeType);

    /// @notice Where the parts of a parsed quote are: offsets from the quote's start, sizes in bytes.
    struct Quote {
        uint256 version;
        uint256 attestationKeyType;
        uint256 teeType;
        /// @dev BODY_TYPE_TD10 / BODY_TYPE_TD15 (v4 TDX is TD10; SGX bodies never leave `parse`).
        uint256 bodyType;
        uint256 bodyOffset;
        /// @dev The quote signature covers [0, signedLength): header ‖ [descriptor ‖] body.
        uint256 signedLength;
        uint256 signatureDataLength;
        uint256 qeReportOffset;
        uint256 qeAuthDataOffset;
        uint256 qeAuthDataLength;
        uint256 certificationType;
        uint256 certificationDataOffset;
        uint256 certificationDataLength;
        uint256 trailingBytes;
    }

    /// @notice Parses `q` and accepts it only as a TDX quote with Intel's QE and an ECDSA P-256 key.
    /// @dev Reverts with one of this library's errors; the order of the checks is the TypeScript
    ///      verifier's: the layout (parseQuote), the header (quote.header), then the TEE type.
    function parse(bytes calldata q) internal pure returns (Quote memory p) {
        p = parseLayout(q);
        bytes16 vendor = bytes16(q[HEADER_QE_VENDOR_ID:HEADER_QE_VENDOR_ID + 16]);
        if (vendor != INTEL_QE_VENDOR_ID) revert QuoteVendorNotIntel(vendor);
        if (p.attestationKeyType != ATTESTATION_KEY_TYPE_ECDSA_P256) {
            revert QuoteAttestationKeyTypeUnsupported(p.attestationKeyType);
        }
        if (p.teeType != TEE_TYPE_TDX) revert QuoteNotTdx(p.teeType);
    }

    /// @notice The layout alone (what the TypeScript parseQuote checks), for SGX quotes too.
    function parseLayout(bytes calldata q) internal pure returns (Quote memory p) {
        uint256 end = q.length;
        if (end < HEADER_SIZE) revert QuoteTruncated(Field.Header, 0);
        p.version = _u16(q, HEADER_VERSION);
        p.attestationKeyType = _u16(q, HEADER_ATTESTATION_KEY_TYPE);
        p.teeType = _u32(q, HEADER_TEE_TYPE);
        (uint256 pos, uint256 bodySize, Field bodyField) = _body(q, p);
        p.bodyOffset = pos;
        if (end - pos < bodySize) revert QuoteTruncated(bodyField, pos);
        pos += bodySize;
        p.signedLength = pos;

        uint256 sigEnd;
        (pos, sigEnd) = _lengthPrefixed32(q, pos, end, Field.SignatureDataLength, Field.SignatureData);
        p.signatureDataLength = sigEnd - pos;
        p.trailingBytes = end - sigEnd;
        pos = _need(pos, sigEnd, SIGNATURE_SIZE, Field.QuoteSignature);
        pos = _need(pos, sigEnd, PUBLIC_KEY_SIZE, Field.AttestationKey);

        uint256 qeEnd = sigEnd;
        if (p.version != 3) {
            _need(pos, sigEnd, TYPE_SIZE, Field.CertificationDataType);
            uint256 outerType = _u16(q, pos);
            if (outerType != CERT_TYPE_QE_REPORT) revert QuoteUnsupportedCertType(outerType);
            (pos, qeEnd) = _lengthPrefixed32(
                q, pos + TYPE_SIZE, sigEnd, Field.CertificationDataSize, Field.CertificationData
            );
        }
        p.qeReportOffset = pos;
        pos = _need(pos, qeEnd, ENCLAVE_REPORT_SIZE, Field.QeReport);
        pos = _need(pos, qeEnd, SIGNATURE_SIZE, Field.QeReportSignature);
        _need(pos, qeEnd, LENGTH16_SIZE, Field.QeAuthDataSize);
        uint256 authLength = _u16(q, pos);
        pos += LENGTH16_SIZE;
        // a u16 length never exceeds MAX_LENGTH_FIELD
        if (authLength > qeEnd - pos) revert QuoteLengthPastEnd(Field.QeAuthData, pos, authLength);
        p.qeAuthDataOffset = pos;
        p.qeAuthDataLength = authLength;
        pos += authLength;
        _need(pos, qeEnd, TYPE_SIZE, Field.PckCertDataType);
        p.certificationType = _u16(q, pos);
        uint256 certEnd;
        (pos, certEnd) = _lengthPrefixed32(q, pos + TYPE_SIZE, qeEnd, Field.PckCertDataSize, Field.PckCertData);
        p.certificationDataOffset = pos;
        p.certificationDataLength = certEnd - pos;
    }

    // ---- TD report fields ----

    /// @notice report_data (64 bytes) of the TD report.
    function reportData(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_REPORT_DATA, REPORT_DATA_SIZE);
    }

    /// @notice MRTD (48 bytes).
    function mrTd(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_MR_TD, MEASUREMENT_SIZE);
    }

    /// @notice RTMR`index` (48 bytes), index 0..3.
    function rtMr(bytes calldata q, Quote memory p, uint256 index) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_RTMR0 + index * MEASUREMENT_SIZE, MEASUREMENT_SIZE);
    }

    /// @notice MRCONFIGID, MROWNER, MROWNERCONFIG (48 bytes each).
    function mrConfigId(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_MR_CONFIG_ID, MEASUREMENT_SIZE);
    }

    function mrOwner(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_MR_OWNER, MEASUREMENT_SIZE);
    }

    function mrOwnerConfig(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_MR_OWNER_CONFIG, MEASUREMENT_SIZE);
    }

    /// @notice MR_SEAM and MRSIGNER_SEAM (48 bytes each) of the TDX module.
    function mrSeam(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_MR_SEAM, MEASUREMENT_SIZE);
    }

    function mrSignerSeam(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.bodyOffset + TD_MR_SIGNER_SEAM, MEASUREMENT_SIZE);
    }

    /// @notice TD attributes, XFAM and SEAM attributes (8 bytes each, as they appear in the quote).
    function tdAttributes(bytes calldata q, Quote memory p) internal pure returns (bytes8) {
        return bytes8(_word(q, p.bodyOffset + TD_ATTRIBUTES));
    }

    function xfam(bytes calldata q, Quote memory p) internal pure returns (bytes8) {
        return bytes8(_word(q, p.bodyOffset + TD_XFAM));
    }

    function seamAttributes(bytes calldata q, Quote memory p) internal pure returns (bytes8) {
        return bytes8(_word(q, p.bodyOffset + TD_SEAM_ATTRIBUTES));
    }

    /// @notice TEE_TCB_SVN (16 bytes).
    function teeTcbSvn(bytes calldata q, Quote memory p) internal pure returns (bytes16) {
        return bytes16(_word(q, p.bodyOffset + TD_TEE_TCB_SVN));
    }

    /// @notice TD 1.5 only: TEE_TCB_SVN2 (16 bytes); zero for a TD 1.0 body.
    function teeTcbSvn2(bytes calldata q, Quote memory p) internal pure returns (bytes16) {
        if (p.bodyType != BODY_TYPE_TD15) return bytes16(0);
        return bytes16(_word(q, p.bodyOffset + TD15_TEE_TCB_SVN2));
    }

    /// @notice TD 1.5 only: MR_SERVICETD (48 bytes); empty for a TD 1.0 body.
    function mrServiceTd(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        if (p.bodyType != BODY_TYPE_TD15) return q[0:0];
        return _slice(q, p.bodyOffset + TD15_MR_SERVICE_TD, MEASUREMENT_SIZE);
    }

    // ---- signature data ----

    /// @notice The quote signature r‖s (64 bytes).
    function quoteSignature(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.signedLength + LENGTH32_SIZE, SIGNATURE_SIZE);
    }

    /// @notice The attestation key x‖y (64 bytes).
    function attestationKey(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.signedLength + LENGTH32_SIZE + SIGNATURE_SIZE, PUBLIC_KEY_SIZE);
    }

    /// @notice The 384-byte QE report (what the PCK key signs).
    function qeReport(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.qeReportOffset, ENCLAVE_REPORT_SIZE);
    }

    /// @notice The QE report signature r‖s (64 bytes).
    function qeReportSignature(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.qeReportOffset + ENCLAVE_REPORT_SIZE, SIGNATURE_SIZE);
    }

    /// @notice The QE authentication data (any length).
    function qeAuthData(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.qeAuthDataOffset, p.qeAuthDataLength);
    }

    /// @notice The inner certification data (type 5: the PEM PCK chain).
    function certificationData(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.certificationDataOffset, p.certificationDataLength);
    }

    // ---- QE report fields ----

    function qeMrSigner(bytes calldata q, Quote memory p) internal pure returns (bytes32) {
        return _word(q, p.qeReportOffset + ER_MR_SIGNER);
    }

    function qeMrEnclave(bytes calldata q, Quote memory p) internal pure returns (bytes32) {
        return _word(q, p.qeReportOffset + ER_MR_ENCLAVE);
    }

    function qeIsvProdId(bytes calldata q, Quote memory p) internal pure returns (uint16) {
        return uint16(_u16(q, p.qeReportOffset + ER_ISV_PROD_ID));
    }

    function qeIsvSvn(bytes calldata q, Quote memory p) internal pure returns (uint16) {
        return uint16(_u16(q, p.qeReportOffset + ER_ISV_SVN));
    }

    function qeMiscSelect(bytes calldata q, Quote memory p) internal pure returns (uint32) {
        return uint32(_u32(q, p.qeReportOffset + ER_MISC_SELECT));
    }

    /// @notice The QE's 16-byte SGX attributes.
    function qeAttributes(bytes calldata q, Quote memory p) internal pure returns (bytes16) {
        return bytes16(_word(q, p.qeReportOffset + ER_ATTRIBUTES));
    }

    function qeReportData(bytes calldata q, Quote memory p) internal pure returns (bytes calldata) {
        return _slice(q, p.qeReportOffset + ER_REPORT_DATA, REPORT_DATA_SIZE);
    }

    // ---- internals ----

    /// @dev After the header: the body's offset, size and field by version, TEE type and (v5) descriptor.
    function _body(bytes calldata q, Quote memory p) private pure returns (uint256 pos, uint256 size, Field field) {
        uint256 version = p.version;
        uint256 tee = p.teeType;
        if (version == 3) {
            if (tee != TEE_TYPE_SGX) revert QuoteUnsupportedTeeType(tee);
            return (HEADER_SIZE, ENCLAVE_REPORT_SIZE, Field.BodySgx);
        }
        if (version == 4) {
            if (tee == TEE_TYPE_SGX) return (HEADER_SIZE, ENCLAVE_REPORT_SIZE, Field.BodySgx);
            if (tee != TEE_TYPE_TDX) revert QuoteUnsupportedTeeType(tee);
            p.bodyType = BODY_TYPE_TD10;
            return (HEADER_SIZE, TD10_REPORT_SIZE, Field.BodyTd10);
        }
        if (version != 5) revert QuoteUnsupportedVersion(version);
        _need(V5_BODY_TYPE, q.length, LENGTH16_SIZE, Field.BodyType);
        _need(V5_BODY_SIZE, q.length, LENGTH32_SIZE, Field.BodySize);
        uint256 bodyType = _u16(q, V5_BODY_TYPE);
        uint256 bodySize = _u32(q, V5_BODY_SIZE);
        if (bodyType == BODY_TYPE_SGX) {
            (size, field) = (ENCLAVE_REPORT_SIZE, Field.BodySgx);
        } else if (bodyType == BODY_TYPE_TD10) {
            (size, field) = (TD10_REPORT_SIZE, Field.BodyTd10);
        } else if (bodyType == BODY_TYPE_TD15) {
            (size, field) = (TD15_REPORT_SIZE, Field.BodyTd15);
        } else {
            revert QuoteUnsupportedBodyType(bodyType);
        }
        if (bodySize != size) revert QuoteBodySizeMismatch(bodyType, bodySize);
        if ((bodyType == BODY_TYPE_SGX) != (tee == TEE_TYPE_SGX) || (tee != TEE_TYPE_SGX && tee != TEE_TYPE_TDX)) {
            revert QuoteUnsupportedTeeType(tee);
        }
        if (bodyType != BODY_TYPE_SGX) p.bodyType = bodyType;
        return (V5_BODY, size, field);
    }

    /// @dev Checks that `n` bytes at `pos` fit before `end`; returns `pos + n`.
    function _need(uint256 pos, uint256 end, uint256 n, Field field) private pure returns (uint256) {
        if (pos > end || n > end - pos) revert QuoteTruncated(field, pos);
        return pos + n;
    }

    /// @dev A u32 length at `pos` and the region it declares: returns the region's [start, end).
    function _lengthPrefixed32(bytes calldata q, uint256 pos, uint256 end, Field lengthField, Field field)
        private
        pure
        returns (uint256 start, uint256 regionEnd)
    {
        start = _need(pos, end, LENGTH32_SIZE, lengthField);
        uint256 n = _u32(q, pos);
        if (n > MAX_LENGTH_FIELD) revert QuoteLengthTooLarge(lengthField, pos, n);
        if (n > end - start) revert QuoteLengthPastEnd(field, start, n);
        regionEnd = start + n;
    }

    /// @dev The calldata word at `q[offset]` (bytes past the calldata end read as zero).
    function _word(bytes calldata q, uint256 offset) private pure returns (bytes32 w) {
        assembly ("memory-safe") {
            w := calldataload(add(q.offset, offset))
        }
    }

    /// @dev Little-endian u16 / u32 at `q[offset]`.
    function _u16(bytes calldata q, uint256 offset) private pure returns (uint256 v) {
        bytes32 w = _word(q, offset);
        v = uint256(uint8(w[0])) | (uint256(uint8(w[1])) << 8);
    }

    function _u32(bytes calldata q, uint256 offset) private pure returns (uint256 v) {
        bytes32 w = _word(q, offset);
        v = uint256(uint8(w[0])) | (uint256(uint8(w[1])) << 8) | (uint256(uint8(w[2])) << 16)
            | (uint256(uint8(w[3])) << 24);
    }

    /// @dev `q[offset : offset + n]` without a bounds check (callers pass ranges `parse` has checked).
    function _slice(bytes calldata q, uint256 offset, uint256 n) private pure returns (bytes calldata s) {
        assembly ("memory-safe") {
            s.offset := add(q.offset, offset)
            s.length := n
        }
    }
}
