// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title NitroDocument
/// @notice Reads the fields the registry needs from an AWS Nitro Enclaves attestation document, accepting
///         exactly the shape AWS's NSM emits (the off-chain reader `nitroRegistryFields` accepts the same
///         documents and reads the same fields; differential tests hold the two equal). The document is a
///         COSE_Sign1: optionally the one-byte tag 18 (0xd2), then the 4-item array head 0x84, the protected
///         header (a byte string holding exactly {1: -35}, alg ES384), the unprotected header (the empty map
///         0xa0), the payload (a byte string) and the signature (a byte string of 96 bytes, ES384's r ‖ s).
///         The payload is a CBOR map, of definite or indefinite length, whose keys are definite text strings
///         among the NSM's nine, each at most once: `module_id` (printable ASCII text, not empty), `digest`
///         (the text "SHA384"), `timestamp` (milliseconds, 1 to 2^53 - 1), `pcrs` (a map of PCR indexes 0 to 31
///         to 48-byte strings, PCR0–2 present), `certificate` (a byte string), `cabundle` (an array of byte
///         strings, not empty), `user_data` (64 bytes: dstack puts its report_data there), `public_key` (at most
///         1024 bytes) and `nonce` (at most 512 bytes), the last two optional and possibly null. Byte and text
///         strings are definite (no chunks); heads may use any length form. Decoding only: the document's
///         ES384 signature and its certificate chain to AWS's root are not checked on chain.
/// @dev Reverts with the registry's errors (`IKmsRegistry`; their selectors are the constants below, which the
///      fuzz tests compare with the interface's): a CBOR item running past the end of what holds it
///      `CborTruncated(offset)`; a reserved additional information (28–30) `CborUnsupported(offset)`; a wrong
///      shape or type, a key outside the NSM's or read twice, or bytes after the document
///      `NitroDocumentMalformed(field)`; an absent (or null) required field `NitroFieldMissing(field)`; a
///      user_data of another length than 64 bytes `NitroUserDataLengthMismatch(length, 64)`. The payload's
///      offsets are relative to the payload. Every read is bounds-checked first; a loop over n items consumes
///      at least one byte per item, so no input makes it run past the document. Written in assembly to keep
///      the registry within EIP-170.
library NitroDocument {
    /// @notice Length of dstack's user_data (its report_data).
    uint256 internal constant USER_DATA_LENGTH = 64;
    /// @notice Length of a PCR (a SHA-384 digest).
    uint256 internal constant PCR_LENGTH = 48;
    /// @notice The highest PCR index an NSM reports.
    uint256 internal constant MAX_PCR_INDEX = 31;
    /// @notice The largest timestamp read (2^53 - 1, the largest integer JSON readers hold exactly).
    uint256 internal constant MAX_TIMESTAMP = 0x1fffffffffffff;
    /// @notice Length of an ES384 signature (r ‖ s).
    uint256 internal constant SIGNATURE_LENGTH = 96;
    /// @notice The NSM's limits on public_key and nonce.
    uint256 internal constant MAX_PUBLIC_KEY = 1024;
    uint256 internal constant MAX_NONCE = 512;

    /// @dev Selectors of IKmsRegistry's CborTruncated(uint256), CborUnsupported(uint256),
    ///      NitroDocumentMalformed(bytes32), NitroFieldMissing(bytes32) and
    ///      NitroUserDataLengthMismatch(uint256,uint256).
    uint256 private constant CBOR_TRUNCATED = 0x5263a40a;
    uint256 private constant CBOR_UNSUPPORTED = 0x92675d4a;
    uint256 private constant MALFORMED = 0x621f815a;
    uint256 private constant MISSING = 0xae120b37;
    uint256 private constant USER_DATA_LENGTH_MISMATCH = 0xa2b776d6;
    /// @dev The field names of the reader's errors, as right-aligned ASCII (`fail` left-aligns them into the
    ///      bytes32 the error carries: shorter in code than 32-byte constants). A payload key's name is the
    ///      key itself, read the same way.
    uint256 private constant F_COSE_SIGN1 = 0x434f53455f5369676e31; // "COSE_Sign1"
    uint256 private constant F_PROTECTED_HEADER = 0x70726f74656374656420686561646572; // "protected header"
    uint256 private constant F_UNPROTECTED_HEADER = 0x756e70726f74656374656420686561646572; // "unprotected header"
    uint256 private constant F_PAYLOAD = 0x7061796c6f6164; // "payload"
    uint256 private constant F_SIGNATURE = 0x7369676e6174757265; // "signature"
    uint256 private constant F_MODULE_ID = 0x6d6f64756c655f6964; // "module_id"
    uint256 private constant F_DIGEST = 0x646967657374; // "digest"
    uint256 private constant F_TIMESTAMP = 0x74696d657374616d70; // "timestamp"
    uint256 private constant F_PCRS = 0x70637273; // "pcrs"
    uint256 private constant F_CERTIFICATE = 0x6365727469666963617465; // "certificate"
    uint256 private constant F_CABUNDLE = 0x636162756e646c65; // "cabundle"
    uint256 private constant F_USER_DATA = 0x757365725f64617461; // "user_data"
    uint256 private constant F_PCR0 = 0x50435230; // "PCR0"
    uint256 private constant F_PCR1 = 0x50435231; // "PCR1"
    uint256 private constant F_PCR2 = 0x50435232; // "PCR2"
    /// @dev The protected header's content {1: -35} and the digest "SHA384".
    uint256 private constant ES384_HEADER = 0xa1013822;
    uint256 private constant SHA384 = 0x534841333834;

    /// @notice user_data, the image measurement and the timestamp of a Nitro attestation document.
    /// @param doc The COSE_Sign1 document, as the NSM returned it.
    /// @return high user_data[0:32].
    /// @return low user_data[32:64].
    /// @return image sha256(PCR0 ‖ PCR1 ‖ PCR2): dstack's os_image_hash of a Nitro enclave.
    /// @return stampedAt The payload's timestamp (milliseconds since the Unix epoch).
    // One assembly block of small Yul functions (a Solidity function each would not fit EIP-170).
    // solhint-disable-next-line function-max-lines
    function read(bytes calldata doc)
        internal
        pure
        returns (bytes32 high, bytes32 low, bytes32 image, uint64 stampedAt)
    {
        bytes memory pcr012 = new bytes(3 * PCR_LENGTH);
        uint256[3] memory out;
        assembly ("memory-safe") {
            function fail(selector, arg) {
                mstore(0, shl(224, selector))
                mstore(4, arg)
                revert(0, 0x24)
            }

            // a field error: the name (right-aligned ASCII, not zero) left-aligned into the bytes32 argument
            function failField(selector, name) {
                for {} iszero(shr(248, name)) {} { name := shl(8, name) }
                fail(selector, name)
            }

            // the byte at p of [base, base + len) (else CborTruncated(p))
            function byteAt(base, len, p) -> b {
                if iszero(lt(p, len)) { fail(CBOR_TRUNCATED, p) }
                b := shr(248, calldataload(add(base, p)))
            }

            // the head at p of the item in [base, base + len): major type, additional information, argument
            // (0 for an indefinite length), and the offset after the head (at most len)
            function head(base, len, p) -> major, info, arg, next {
                let first := byteAt(base, len, p)
                major := shr(5, first)
                info := and(first, 0x1f)
                next := add(p, 1)
                if lt(info, 24) {
                    arg := info
                    leave
                }
                if eq(info, 31) { leave }
                if gt(info, 27) { fail(CBOR_UNSUPPORTED, p) }
                // 1, 2, 4 or 8 bytes follow the initial byte
                let size := shl(sub(info, 24), 1)
                if gt(size, sub(len, next)) { fail(CBOR_TRUNCATED, p) }
                arg := shr(sub(256, shl(3, size)), calldataload(add(base, next)))
                next := add(next, size)
            }

            // the offset after n bytes at q (q <= len)
            function over(len, q, n) -> e {
                if gt(n, sub(len, q)) { fail(CBOR_TRUNCATED, q) }
                e := add(q, n)
            }

            // a definite-length item of major type `want` at q: its argument and the offset after its head
            // (else Malformed(field))
            function definite(base, len, q, want, field) -> n, d {
                let major, info
                major, info, n, d := head(base, len, q)
                if or(iszero(eq(major, want)), eq(info, 31)) { failField(MALFORMED, field) }
            }

            // a byte string at q: its start and the offset after it
            function bstr(base, len, q, field) -> d, e {
                let n
                n, d := definite(base, len, q, 2, field)
                e := over(len, d, n)
            }

            // a byte string at q of at most max bytes, or null: the offset after it
            function optionalBstr(base, len, q, field, max) -> e {
                if eq(byteAt(base, len, q), 0xf6) {
                    e := add(q, 1)
                    leave
                }
                let d
                d, e := bstr(base, len, q, field)
                if gt(sub(e, d), max) { failField(MALFORMED, field) }
            }

            // an array or a map (major type `want`) at q: whether of indefinite length, its count, the offset
            // after its head
            function container(base, len, q, want, field) -> indefinite, n, next {
                let major, info
                major, info, n, next := head(base, len, q)
                if iszero(eq(major, want)) { failField(MALFORMED, field) }
                indefinite := eq(info, 31)
            }

            // whether item i of a container (n items, or up to a break) starts at q; past the break if not
            function more(base, len, q, indefinite, i, n) -> yes, next {
                next := q
                yes := lt(i, n)
                if indefinite {
                    yes := iszero(eq(byteAt(base, len, q), 0xff))
                    if iszero(yes) { next := add(q, 1) }
                }
            }

            // the COSE_Sign1 structure: the payload's bounds
            function cose(base, len) -> start, end {
                let p := 0
                if eq(byteAt(base, len, 0), 0xd2) { p := 1 }
                if iszero(eq(byteAt(base, len, p), 0x84)) { failField(MALFORMED, F_COSE_SIGN1) }
                let d, e := bstr(base, len, add(p, 1), F_PROTECTED_HEADER)
                if or(iszero(eq(sub(e, d), 4)), iszero(eq(shr(224, calldataload(add(base, d))), ES384_HEADER))) {
                    failField(MALFORMED, F_PROTECTED_HEADER)
                }
                if iszero(eq(byteAt(base, len, e), 0xa0)) { failField(MALFORMED, F_UNPROTECTED_HEADER) }
                start, end := bstr(base, len, add(e, 1), F_PAYLOAD)
                d, e := bstr(base, len, end, F_SIGNATURE)
                if iszero(eq(sub(e, d), SIGNATURE_LENGTH)) { failField(MALFORMED, F_SIGNATURE) }
                if iszero(eq(e, len)) { failField(MALFORMED, F_COSE_SIGN1) }
            }

            // pcrs at v: the offset after it; PCR0 ‖ PCR1 ‖ PCR2 copied to m
            function pcrs(base, len, v, m) -> q {
                let indefinite, n
                indefinite, n, q := container(base, len, v, 5, F_PCRS)
                let seen := 0
                for { let i := 0 } 1 { i := add(i, 1) } {
                    let yes
                    yes, q := more(base, len, q, indefinite, i, n)
                    if iszero(yes) { break }
                    let index, iv := definite(base, len, q, 0, F_PCRS)
                    let d, e := bstr(base, len, iv, F_PCRS)
                    q := e
                    if or(or(gt(index, MAX_PCR_INDEX), iszero(eq(sub(e, d), PCR_LENGTH))), and(shr(index, seen), 1)) {
                        failField(MALFORMED, F_PCRS)
                    }
                    seen := or(seen, shl(index, 1))
                    if lt(index, 3) { calldatacopy(add(m, mul(index, PCR_LENGTH)), add(base, d), PCR_LENGTH) }
                }
                if iszero(and(seen, 1)) { failField(MISSING, F_PCR0) }
                if iszero(and(seen, 2)) { failField(MISSING, F_PCR1) }
                if iszero(and(seen, 4)) { failField(MISSING, F_PCR2) }
            }

            // cabundle at v (byte strings, at least one): the offset after it
            function cabundle(base, len, v) -> q {
                let indefinite, n
                indefinite, n, q := container(base, len, v, 4, F_CABUNDLE)
                let i := 0
                for {} 1 { i := add(i, 1) } {
                    let yes
                    yes, q := more(base, len, q, indefinite, i, n)
                    if iszero(yes) { break }
                    let d
                    d, q := bstr(base, len, q, F_CABUNDLE)
                }
                if iszero(i) { failField(MALFORMED, F_CABUNDLE) }
            }

            // module_id at v (printable ASCII, not empty): the offset after it
            function moduleId(base, len, v) -> e {
                let n, d := definite(base, len, v, 3, F_MODULE_ID)
                e := over(len, d, n)
                if iszero(n) { failField(MALFORMED, F_MODULE_ID) }
                for {} lt(d, e) { d := add(d, 1) } {
                    let c := shr(248, calldataload(add(base, d)))
                    if or(lt(c, 0x20), gt(c, 0x7e)) { failField(MALFORMED, F_MODULE_ID) }
                }
            }

            // the payload entry at q; found: the bits of the keys read (module_id 1, digest 2, timestamp 4,
            // pcrs 8, certificate 16, cabundle 32, public_key 64, user_data 128, nonce 256)
            function entry(base, len, q, m, fields, found) -> next, f {
                let kn, k := definite(base, len, q, 3, F_PAYLOAD)
                let v := over(len, k, kn)
                let name := 0
                if lt(kn, 12) { name := shr(sub(256, shl(3, kn)), calldataload(add(base, k))) }
                let bit := 0
                // the key's length above its bytes
                switch or(shl(96, kn), name)
                case 0x90000006d6f64756c655f6964 { bit := 1 }
                case 0x6000000000000646967657374 { bit := 2 }
                case 0x900000074696d657374616d70 { bit := 4 }
                case 0x4000000000000000070637273 { bit := 8 }
                case 0xb006365727469666963617465 { bit := 16 }
                case 0x800000000636162756e646c65 { bit := 32 }
                case 0xa00007075626c69635f6b6579 { bit := 64 }
                case 0x9000000757365725f64617461 { bit := 128 }
                case 0x5000000000000006e6f6e6365 { bit := 256 }
                default { failField(MALFORMED, F_PAYLOAD) }
                if and(found, bit) { failField(MALFORMED, name) }
                f := or(found, bit)
                switch bit
                case 1 { next := moduleId(base, len, v) }
                case 2 {
                    let n, d := definite(base, len, v, 3, F_DIGEST)
                    next := over(len, d, n)
                    if or(iszero(eq(n, 6)), iszero(eq(shr(208, calldataload(add(base, d))), SHA384))) {
                        failField(MALFORMED, F_DIGEST)
                    }
                }
                case 4 {
                    let n
                    n, next := definite(base, len, v, 0, F_TIMESTAMP)
                    if or(iszero(n), gt(n, MAX_TIMESTAMP)) { failField(MALFORMED, F_TIMESTAMP) }
                    mstore(add(fields, 0x40), n)
                }
                case 8 { next := pcrs(base, len, v, m) }
                case 16 {
                    let d
                    d, next := bstr(base, len, v, F_CERTIFICATE)
                }
                case 32 { next := cabundle(base, len, v) }
                case 128 {
                    if eq(byteAt(base, len, v), 0xf6) { failField(MISSING, F_USER_DATA) }
                    let d
                    d, next := bstr(base, len, v, F_USER_DATA)
                    if iszero(eq(sub(next, d), USER_DATA_LENGTH)) {
                        mstore(0, shl(224, USER_DATA_LENGTH_MISMATCH))
                        mstore(4, sub(next, d))
                        mstore(0x24, USER_DATA_LENGTH)
                        revert(0, 0x44)
                    }
                    mstore(fields, calldataload(add(base, d)))
                    mstore(add(fields, 0x20), calldataload(add(base, add(d, 32))))
                }
                case 64 { next := optionalBstr(base, len, v, name, MAX_PUBLIC_KEY) }
                default { next := optionalBstr(base, len, v, name, MAX_NONCE) }
            }

            // the payload map: user_data and the timestamp to fields, PCR0–2 to m
            function payload(base, len, m, fields) {
                let indefinite, n, q := container(base, len, 0, 5, F_PAYLOAD)
                let found := 0
                for { let i := 0 } 1 { i := add(i, 1) } {
                    let yes
                    yes, q := more(base, len, q, indefinite, i, n)
                    if iszero(yes) { break }
                    q, found := entry(base, len, q, m, fields, found)
                }
                if iszero(eq(q, len)) { failField(MALFORMED, F_PAYLOAD) }
                if iszero(and(found, 1)) { failField(MISSING, F_MODULE_ID) }
                if iszero(and(found, 2)) { failField(MISSING, F_DIGEST) }
                if iszero(and(found, 4)) { failField(MISSING, F_TIMESTAMP) }
                if iszero(and(found, 8)) { failField(MISSING, F_PCRS) }
                if iszero(and(found, 16)) { failField(MISSING, F_CERTIFICATE) }
                if iszero(and(found, 32)) { failField(MISSING, F_CABUNDLE) }
                if iszero(and(found, 128)) { failField(MISSING, F_USER_DATA) }
            }

            let start, end := cose(doc.offset, doc.length)
            payload(add(doc.offset, start), sub(end, start), add(pcr012, 0x20), out)
        }
        image = sha256(pcr012);
        (high, low, stampedAt) = (bytes32(out[0]), bytes32(out[1]), uint64(out[2]));
    }
}
