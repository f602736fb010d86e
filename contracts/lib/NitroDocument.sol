// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title NitroDocument
/// @notice Reads the fields the registry needs from an AWS Nitro Enclaves attestation document (the NSM's
///         COSE_Sign1: optionally CBOR tag 18, then an array of 4 items: the protected header (a byte string),
///         the unprotected header (a map), the payload (a byte string) and the signature (a byte string)). The
///         payload is a CBOR map, of definite or indefinite length, read for `user_data` (64 bytes: dstack puts
///         its report_data there), `pcrs` (PCR0, PCR1 and PCR2, 48 bytes each) and `timestamp` (milliseconds);
///         every other entry is skipped. Decoding only: the document's ES384 signature and its certificate
///         chain to AWS's root are not checked on chain.
/// @dev Reverts with the registry's errors (`IKmsRegistry`; their selectors are the constants below, which the
///      fuzz tests compare with the interface's): a CBOR item running past the end of what holds it
///      `CborTruncated(offset)`; a reserved encoding, an indefinite integer or tag, a misplaced break, a simple
///      value other than false/true/null/undefined or a float, nesting deeper than MAX_DEPTH
///      `CborUnsupported(offset)`; a wrong shape, a field read twice or bytes after the document
///      `NitroDocumentMalformed(field)`; an absent (or null) field `NitroFieldMissing(field)`; a user_data of
///      another length than 64 bytes `NitroUserDataLengthMismatch(length, 64)`. The payload's offsets are
///      relative to the payload. Every read is bounds-checked first; a loop over n items consumes at least one
///      byte per item, so no input makes it run past the document. Written in assembly to keep the registry
///      within EIP-170.
library NitroDocument {
    /// @notice Length of dstack's user_data (its report_data).
    uint256 internal constant USER_DATA_LENGTH = 64;
    /// @notice Length of a PCR (a SHA-384 digest).
    uint256 internal constant PCR_LENGTH = 48;
    /// @notice The deepest nesting read.
    uint256 internal constant MAX_DEPTH = 16;

    /// @dev Selectors of IKmsRegistry's CborTruncated(uint256), CborUnsupported(uint256),
    ///      NitroDocumentMalformed(bytes32), NitroFieldMissing(bytes32) and
    ///      NitroUserDataLengthMismatch(uint256,uint256).
    uint256 private constant CBOR_TRUNCATED = 0x5263a40a;
    uint256 private constant CBOR_UNSUPPORTED = 0x92675d4a;
    uint256 private constant MALFORMED = 0x621f815a;
    uint256 private constant MISSING = 0xae120b37;
    uint256 private constant USER_DATA_LENGTH_MISMATCH = 0xa2b776d6;
    /// @dev The field names of the reader's errors, as right-aligned ASCII (`fail` left-aligns them into the
    ///      bytes32 the error carries: shorter in code than 32-byte constants).
    uint256 private constant F_COSE_SIGN1 = 0x434f53455f5369676e31; // "COSE_Sign1"
    uint256 private constant F_PROTECTED_HEADER = 0x70726f74656374656420686561646572; // "protected header"
    uint256 private constant F_UNPROTECTED_HEADER = 0x756e70726f74656374656420686561646572; // "unprotected header"
    uint256 private constant F_PAYLOAD = 0x7061796c6f6164; // "payload"
    uint256 private constant F_SIGNATURE = 0x7369676e6174757265; // "signature"
    uint256 private constant F_USER_DATA = 0x757365725f64617461; // "user_data"
    uint256 private constant F_PCRS = 0x70637273; // "pcrs"
    uint256 private constant F_TIMESTAMP = 0x74696d657374616d70; // "timestamp"
    uint256 private constant F_PCR0 = 0x50435230; // "PCR0"
    uint256 private constant F_PCR1 = 0x50435231; // "PCR1"
    uint256 private constant F_PCR2 = 0x50435232; // "PCR2"

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

            // the head at p of the item in [base, base + len): major type, additional information, argument
            // (0 for an indefinite length), and the offset after the head (at most len)
            function head(base, len, p) -> major, info, arg, next {
                if iszero(lt(p, len)) { fail(CBOR_TRUNCATED, p) }
                let w := calldataload(add(base, p))
                let first := shr(248, w)
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
                arg := shr(sub(256, shl(3, size)), shl(8, w))
                next := add(next, size)
            }

            // the offset after n bytes at q (q <= len)
            function over(len, q, n) -> e {
                if gt(n, sub(len, q)) { fail(CBOR_TRUNCATED, q) }
                e := add(q, n)
            }

            function atBreak(base, len, q) -> b {
                if iszero(lt(q, len)) { fail(CBOR_TRUNCATED, q) }
                b := eq(shr(248, calldataload(add(base, q))), 0xff)
            }

            // a definite byte string at q: its start and the offset after it (else Malformed(field))
            function bstr(base, len, q, field) -> d, e {
                let major, info, n
                major, info, n, d := head(base, len, q)
                if or(iszero(eq(major, 2)), eq(info, 31)) { failField(MALFORMED, field) }
                e := over(len, d, n)
            }

            // a definite map's entry count checked against the bytes left (two per entry at least)
            function checkCount(len, q, n) {
                if gt(n, shr(1, sub(len, q))) { fail(CBOR_TRUNCATED, q) }
            }

            // the offset after the item at p, nested depth deep
            function skip(base, len, p, depth) -> q {
                if gt(depth, MAX_DEPTH) { fail(CBOR_UNSUPPORTED, p) }
                let major, info, n
                major, info, n, q := head(base, len, p)
                if eq(info, 31) {
                    switch major
                    case 2 { q := chunks(base, len, q, 2) }
                    case 3 { q := chunks(base, len, q, 3) }
                    case 4 {
                        for {} iszero(atBreak(base, len, q)) {} { q := skip(base, len, q, add(depth, 1)) }
                    }
                    case 5 {
                        for {} iszero(atBreak(base, len, q)) {} {
                            q := skip(base, len, skip(base, len, q, add(depth, 1)), add(depth, 1))
                        }
                    }
                    default { fail(CBOR_UNSUPPORTED, p) }
                    q := add(q, 1)
                    leave
                }
                switch major
                case 2 { q := over(len, q, n) }
                case 3 { q := over(len, q, n) }
                case 4 {
                    if gt(n, sub(len, q)) { fail(CBOR_TRUNCATED, q) }
                    for { let i := 0 } lt(i, n) { i := add(i, 1) } { q := skip(base, len, q, add(depth, 1)) }
                }
                case 5 {
                    checkCount(len, q, n)
                    for { let i := 0 } lt(i, shl(1, n)) { i := add(i, 1) } { q := skip(base, len, q, add(depth, 1)) }
                }
                case 6 { q := skip(base, len, q, add(depth, 1)) }
                case 7 { if or(lt(info, 20), eq(info, 24)) { fail(CBOR_UNSUPPORTED, p) } }
            }

            // an indefinite string's definite chunks of its major type, up to its break; the break's offset
            function chunks(base, len, q, major) -> e {
                e := q
                for {} iszero(atBreak(base, len, e)) {} {
                    let m, info, n, d := head(base, len, e)
                    if or(iszero(eq(m, major)), eq(info, 31)) { fail(CBOR_UNSUPPORTED, e) }
                    e := over(len, d, n)
                }
            }

            // the COSE_Sign1 structure: the payload's bounds
            function cose(base, len) -> start, end {
                let p := 0
                if and(gt(len, 0), eq(shr(248, calldataload(base)), 0xd2)) { p := 1 }
                let major, info, n, q := head(base, len, p)
                if or(or(iszero(eq(major, 4)), eq(info, 31)), iszero(eq(n, 4))) { failField(MALFORMED, F_COSE_SIGN1) }
                p, q := bstr(base, len, q, F_PROTECTED_HEADER)
                major, info, n, p := head(base, len, q)
                if iszero(eq(major, 5)) { failField(MALFORMED, F_UNPROTECTED_HEADER) }
                start, end := bstr(base, len, skip(base, len, q, 1), F_PAYLOAD)
                p, q := bstr(base, len, end, F_SIGNATURE)
                if iszero(eq(q, len)) { failField(MALFORMED, F_COSE_SIGN1) }
            }

            // whether the key of kn bytes at k is `name` (right-aligned ASCII) of nameLength bytes
            function isKey(base, k, kn, name, nameLength) -> yes {
                yes := and(eq(kn, nameLength), eq(shr(sub(256, shl(3, kn)), calldataload(add(base, k))), name))
            }

            // pcrs at v: the offset after it; PCR0 ‖ PCR1 ‖ PCR2 copied to m
            function pcrs(base, len, v, m) -> q {
                let major, info, n
                major, info, n, q := head(base, len, v)
                if iszero(eq(major, 5)) { failField(MALFORMED, F_PCRS) }
                let indefinite := eq(info, 31)
                if iszero(indefinite) { checkCount(len, q, n) }
                let seen := 0
                for { let i := 0 } 1 { i := add(i, 1) } {
                    switch indefinite
                    case 0 { if eq(i, n) { break } }
                    default {
                        if atBreak(base, len, q) {
                            q := add(q, 1)
                            break
                        }
                    }
                    let im, ii, index, iv := head(base, len, q)
                    if or(iszero(eq(im, 0)), eq(ii, 31)) { failField(MALFORMED, F_PCRS) }
                    let d, e := bstr(base, len, iv, F_PCRS)
                    q := e
                    if lt(index, 3) {
                        if or(iszero(eq(sub(e, d), PCR_LENGTH)), and(shr(index, seen), 1)) { failField(MALFORMED, F_PCRS) }
                        seen := or(seen, shl(index, 1))
                        calldatacopy(add(m, mul(index, PCR_LENGTH)), add(base, d), PCR_LENGTH)
                    }
                }
                if iszero(and(seen, 1)) { failField(MISSING, F_PCR0) }
                if iszero(and(seen, 2)) { failField(MISSING, F_PCR1) }
                if iszero(and(seen, 4)) { failField(MISSING, F_PCR2) }
            }

            // user_data at v (64 bytes) to fields[0..1]; the offset after it
            function userData(base, len, v, fields) -> q {
                let major, info, n, d := head(base, len, v)
                if and(eq(major, 7), eq(info, 22)) { failField(MISSING, F_USER_DATA) }
                if or(iszero(eq(major, 2)), eq(info, 31)) { failField(MALFORMED, F_USER_DATA) }
                q := over(len, d, n)
                if iszero(eq(n, USER_DATA_LENGTH)) {
                    mstore(0, shl(224, USER_DATA_LENGTH_MISMATCH))
                    mstore(4, n)
                    mstore(0x24, USER_DATA_LENGTH)
                    revert(0, 0x44)
                }
                mstore(fields, calldataload(add(base, d)))
                mstore(add(fields, 0x20), calldataload(add(base, add(d, 32))))
            }

            // the timestamp at v (an unsigned integer) to fields[2]; the offset after it
            function stamp(base, len, v, fields) -> q {
                let major, info, n
                major, info, n, q := head(base, len, v)
                if or(iszero(eq(major, 0)), eq(info, 31)) { failField(MALFORMED, F_TIMESTAMP) }
                mstore(add(fields, 0x40), n)
            }

            // the payload entry at q; found: 1 user_data, 2 pcrs, 4 timestamp
            function entry(base, len, q, m, fields, found) -> next, f {
                f := found
                let major, info, n, k := head(base, len, q)
                if and(eq(major, 3), iszero(eq(info, 31))) {
                    let v := over(len, k, n)
                    if isKey(base, k, n, F_USER_DATA, 9) {
                        if and(f, 1) { failField(MALFORMED, F_USER_DATA) }
                        next := userData(base, len, v, fields)
                        f := or(f, 1)
                        leave
                    }
                    if isKey(base, k, n, F_PCRS, 4) {
                        if and(f, 2) { failField(MALFORMED, F_PCRS) }
                        next := pcrs(base, len, v, m)
                        f := or(f, 2)
                        leave
                    }
                    if isKey(base, k, n, F_TIMESTAMP, 9) {
                        if and(f, 4) { failField(MALFORMED, F_TIMESTAMP) }
                        next := stamp(base, len, v, fields)
                        f := or(f, 4)
                        leave
                    }
                    next := skip(base, len, v, 1)
                    leave
                }
                // other keys: integers or indefinite text
                if or(gt(major, 3), eq(major, 2)) { failField(MALFORMED, F_PAYLOAD) }
                next := skip(base, len, skip(base, len, q, 1), 1)
            }

            // the payload map: user_data and the timestamp to fields, PCR0–2 to m
            function payload(base, len, m, fields) {
                let major, info, n, q := head(base, len, 0)
                if iszero(eq(major, 5)) { failField(MALFORMED, F_PAYLOAD) }
                let indefinite := eq(info, 31)
                if iszero(indefinite) { checkCount(len, q, n) }
                let found := 0
                for { let i := 0 } 1 { i := add(i, 1) } {
                    switch indefinite
                    case 0 { if eq(i, n) { break } }
                    default {
                        if atBreak(base, len, q) {
                            q := add(q, 1)
                            break
                        }
                    }
                    q, found := entry(base, len, q, m, fields, found)
                }
                if iszero(eq(q, len)) { failField(MALFORMED, F_PAYLOAD) }
                if iszero(and(found, 1)) { failField(MISSING, F_USER_DATA) }
                if iszero(and(found, 2)) { failField(MISSING, F_PCRS) }
                if iszero(and(found, 4)) { failField(MISSING, F_TIMESTAMP) }
            }

            let start, end := cose(doc.offset, doc.length)
            payload(add(doc.offset, start), sub(end, start), add(pcr012, 0x20), out)
        }
        image = sha256(pcr012);
        (high, low, stampedAt) = (bytes32(out[0]), bytes32(out[1]), uint64(out[2]));
    }
}
