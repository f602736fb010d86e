// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// The scanner's comparisons follow JSON's and Intel's rules (≥, ≤) and its functions follow the
// documents' schemas; the memory structs are never stored, so slot packing does not apply.
// solhint-disable gas-strict-inequalities, gas-struct-packing, function-max-lines

import {DateTimeLib} from "solady/src/utils/DateTimeLib.sol";

/// @title IntelJson
/// @notice A single-pass JSON scanner for Intel's two signed collateral documents (TCB Info, QE
///         Identity), the TCB statuses they assign and the rules that combine them.
/// @dev The scanner validates the whole text against the JSON grammar (RFC 8259: strings with their
///      escapes and no raw control character, numbers, literals, nesting, nothing after the top-level
///      value) while the document readers (`TcbInfo`, `QeIdentity`) pick the fields they need, so a
///      document is read once, left to right, with no tree built. A key that appears twice in one
///      object, at any depth, is refused (two JSON parsers could otherwise read two documents).
///      solady's JSONParserLib was measured first on the 6.5 kB real SGX TCB Info of the fixtures:
///      about 1.25M gas to build its tree and 0.7M more to walk the levels' components, with no
///      duplicate-key check. This scanner scans strings a word at a time, and `TcbInfo` reads the
///      component objects in Intel's compact shapes in one loop (costs in bench/dcap-json.bench.ts).
///
///      Stricter than a general JSON reader on purpose, never looser: a key, or a string value the
///      readers use (ids, dates, hex, statuses, advisory IDs), must not contain a backslash escape
///      (Intel's documents never do; escapes stay allowed in strings the readers skip); an integer
///      field must be written as plain digits (`3`, never `3.0`, `3e0` or `-0`); dates must be years
///      1970 or later.
///
///      Positions in errors and slices are byte offsets into the document. A slice is
///      `offset << 128 | length`.
library IntelJson {
    // keccak256 of the keys and status names compared (hashes, so no literal is hashed at run time)
    bytes32 private constant K_ADVISORY_IDS = 0xe86af6009aebc04f295f78c7e3eb2fcaace71ae116a426fa95c0ee7718f2b453;
    bytes32 private constant K_CONFIG_AND_SW_HARDENING = 0x938d21948776aa0552c7ab3437df37eb0b7c53c1044e6f258911c21d5f98cb5d;
    bytes32 private constant K_CONFIGURATION_NEEDED = 0x820e8e2a851961706b111f73b809da9ccf7c4d4181cd135f0696ca2daa505942;
    bytes32 private constant K_ISVSVN = 0x22402e2860cb074cd5b23d7be21f9d4928c0842771359c97717295e5cb1af67c;
    bytes32 private constant K_OUT_OF_DATE = 0xe1dbc1592712cb224ab58df345a7bffafe7d5092dc9eff532076ee2c5e687099;
    bytes32 private constant K_OUT_OF_DATE_CONFIG = 0x605a88f0014fcefe2d398f17b974556e2ae7481bfdc313f7e0af48c270400c49;
    bytes32 private constant K_REVOKED = 0x78b54e92f33559320da4a0c1454741ea1f5c5fa31eb1dd482882c6df0231e478;
    bytes32 private constant K_SWHARDENING_NEEDED = 0x7ad9f5b3c5180451fdebfb145dcb7bcd2dc9f95342d3659e0dcc8d07b31182a1;
    bytes32 private constant K_TCB = 0x4030b14cdfc8fe1ef57f74f5c81fbdb05eb1ddd8761b287757c0be02f5788ab9;
    bytes32 private constant K_TCB_DATE = 0x5add4344b96eb4a412e6c34fcb56b6f1f9be776dbb6917001ce8245b90d0419b;
    bytes32 private constant K_TCB_STATUS = 0x8ccaeed3ed0825b5048ee5eaf2994841e462373ff830e62b0e66e06e56cd20d6;
    bytes32 private constant K_UP_TO_DATE = 0x8dd11fcce5839087111530125177803569655488ae47b1f980ef0b1a711bf07c;

    /// @notice Intel's TCB statuses, in the order of increasing severity.
    enum TcbStatus {
        UpToDate,
        SWHardeningNeeded,
        ConfigurationNeeded,
        ConfigurationAndSWHardeningNeeded,
        OutOfDate,
        OutOfDateConfigurationNeeded,
        Revoked
    }

    /// @notice A TCB level of an enclave (the QE, a TDX module): its minimum ISVSVN and the status it gives.
    /// @dev `tcbDate` is a slice of the document; `advisories` the slice of the `advisoryIDs` array's text
    ///      (0 when absent), expanded by `advisoryIds`.
    struct EnclaveLevel {
        uint16 isvSvn;
        TcbStatus status;
        uint256 tcbDate;
        uint256 advisories;
    }

    /// @dev The scanner's state: the document's bounds in memory and a stack of the key hashes of the
    ///      objects being read (each object's keys from its base index to `top`).
    struct Doc {
        uint256 base;
        uint256 end;
        uint256 keys;
        uint256 top;
    }

    /// @notice The text is not JSON at `offset` (an unexpected byte, or the end of the text).
    error JsonSyntax(uint256 offset);
    /// @notice The key at `offset` already appears in its object.
    error JsonDuplicateKey(uint256 offset);
    /// @notice Nesting deeper than the scanner reads, at `offset`.
    error JsonTooDeep(uint256 offset);
    /// @notice More keys or array elements than the scanner holds, at `offset`.
    error JsonLimit(uint256 offset);
    /// @notice The value at `offset` has the wrong JSON type for its field.
    error JsonWrongType(uint256 offset);
    /// @notice The object at `offset` lacks a required key (`missing`: the reader's bit mask of absent keys).
    error JsonMissingKey(uint256 offset, uint256 missing);
    /// @notice A key or a string the readers use contains a backslash escape, at `offset`.
    error JsonEscapedText(uint256 offset);
    /// @notice The integer at `offset` is not plain digits or exceeds its field's maximum.
    error JsonBadInteger(uint256 offset);
    /// @notice The hex string at `offset` has the wrong length or a non-hex character.
    error JsonBadHex(uint256 offset);
    /// @notice The string at `offset` is not an RFC 3339 date-time with a zone.
    error JsonBadDate(uint256 offset);
    /// @notice The string at `offset` is not one of Intel's TCB statuses.
    error JsonUnknownStatus(uint256 offset);

    uint256 internal constant MAX_DEPTH = 24;
    uint256 internal constant KEY_CAP = 96;
    /// @dev bits of the JSON whitespace bytes: space, tab, LF, CR
    uint256 private constant WS = 0x100002600;
    /// @dev bits of the bytes that may follow a backslash: " / \ b f n r t u
    uint256 private constant ESC = 0x344044100000000000800400000000;
    /// @dev bits of the hex digits
    uint256 private constant HEX = 0x7e0000007e03ff000000000000;

    // -----------------------------------------------------------------------------------------
    // scanner
    // -----------------------------------------------------------------------------------------

    /// @notice Starts reading `s`: the scanner state and the position of the first value.
    function open(bytes memory s) internal pure returns (Doc memory d, uint256 p) {
        unchecked {
            uint256 base;
            uint256 keys;
            assembly ("memory-safe") {
                base := add(s, 32)
                keys := mload(0x40)
                mstore(0x40, add(keys, mul(KEY_CAP, 32)))
            }
            d.base = base;
            d.end = base + s.length;
            d.keys = keys;
            p = ws(d, base);
        }
    }

    /// @notice Only whitespace follows position `p`.
    function close(Doc memory d, uint256 p) internal pure {
        unchecked {
            p = ws(d, p);
            if (p != d.end) revert JsonSyntax(p - d.base);
        }
    }

    /// @notice The position of the first non-whitespace byte at or after `p`.
    function ws(Doc memory d, uint256 p) internal pure returns (uint256 q) {
        uint256 end = d.end;
        assembly ("memory-safe") {
            q := p
            for {} lt(q, end) { q := add(q, 1) } {
                if iszero(and(shr(byte(0, mload(q)), WS), 1)) { break }
            }
        }
    }

    /// @notice The byte at `p`, or 256 at the end of the text.
    function peek(Doc memory d, uint256 p) internal pure returns (uint256 c) {
        uint256 end = d.end;
        assembly ("memory-safe") {
            c := 256
            if lt(p, end) { c := byte(0, mload(p)) }
        }
    }

    /// @notice The position of the first quote, backslash or control byte (< 0x20) at or after memory
    ///         position `q`, or `end` when there is none before it; read a word at a time.
    function nextSpecial(uint256 q, uint256 end) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            // 0x80 in each zero byte of `x`, 0 elsewhere (no carry crosses a byte)
            function zeroBytes(x) -> z {
                let l := 0x7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f
                z := not(or(or(add(and(x, l), l), x), l))
            }
            r := end
            for {} lt(q, end) { q := add(q, 32) } {
                let w := mload(q)
                let m := or(
                    or(
                        zeroBytes(xor(w, 0x2222222222222222222222222222222222222222222222222222222222222222)),
                        zeroBytes(xor(w, 0x5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c))
                    ),
                    zeroBytes(and(w, 0xe0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0))
                )
                // only the bytes before the end of the text count
                let rem := sub(end, q)
                if lt(rem, 32) { m := and(m, not(shr(shl(3, rem), not(0)))) }
                if m {
                    // the first (most significant) byte of `m` with its top bit set: with that bit copied
                    // into every later byte, 32 less the number of bytes that have it
                    m := or(m, shr(8, m))
                    m := or(m, shr(16, m))
                    m := or(m, shr(32, m))
                    m := or(m, shr(64, m))
                    m := or(m, shr(128, m))
                    let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
                    let i := sub(32, byte(0, mul(shr(7, m), ones)))
                    r := add(q, i)
                    break
                }
            }
        }
    }

    /// @notice The closing quote of a string without escapes or control bytes whose text starts at
    ///         memory position `s`, or 0 when a backslash, a control byte or `end` comes first.
    function plainString(uint256 s, uint256 end) internal pure returns (uint256 c) {
        c = nextSpecial(s, end);
        assembly ("memory-safe") {
            if iszero(and(lt(c, end), eq(byte(0, mload(c)), 0x22))) { c := 0 }
        }
    }

    /// @notice Scans the string whose opening quote is at `p`: the position of its closing quote and
    ///         whether it contains an escape. Reverts `JsonSyntax` on a bad escape, a raw control byte
    ///         or an unterminated string.
    function scanString(Doc memory d, uint256 p) internal pure returns (uint256 q, bool escaped) {
        unchecked {
            uint256 end = d.end;
            q = p + 1;
            while (true) {
                q = nextSpecial(q, end);
                bool bad;
                bool done;
                assembly ("memory-safe") {
                    function isHex(x) -> r {
                        r := and(shr(x, HEX), 1)
                    }
                    for {} 1 {} {
                        if iszero(lt(q, end)) {
                            bad := 1
                            break
                        }
                        let c := byte(0, mload(q))
                        if eq(c, 0x22) {
                            done := 1
                            break
                        }
                        if lt(c, 0x20) {
                            bad := 1
                            break
                        }
                        // a backslash
                        escaped := 1
                        q := add(q, 1)
                        if iszero(lt(q, end)) {
                            bad := 1
                            break
                        }
                        c := byte(0, mload(q))
                        if iszero(and(shr(c, ESC), 1)) {
                            bad := 1
                            break
                        }
                        if eq(c, 0x75) {
                            if gt(add(q, 5), end) {
                                bad := 1
                                break
                            }
                            let w := mload(add(q, 1))
                            if iszero(and(and(isHex(byte(0, w)), isHex(byte(1, w))), and(isHex(byte(2, w)), isHex(byte(3, w))))) {
                                bad := 1
                                break
                            }
                            q := add(q, 4)
                        }
                        q := add(q, 1)
                        break
                    }
                }
                if (bad) revert JsonSyntax((q < end ? q : end) - d.base);
                if (done) return (q, escaped);
            }
        }
    }

    /// @notice Skips any JSON value at `p` (validating it, and refusing duplicate keys inside it).
    function skip(Doc memory d, uint256 p, uint256 depth) internal pure returns (uint256 q) {
        unchecked {
            uint256 c = peek(d, p);
            if (c == 0x22) {
                (q, ) = scanString(d, p);
                return q + 1;
            }
            if (c == 0x7b || c == 0x5b) {
                if (depth >= MAX_DEPTH) revert JsonTooDeep(p - d.base);
                bool more;
                if (c == 0x7b) {
                    uint256 kb = d.top;
                    (more, q) = objectOpen(d, p);
                    while (more) {
                        (, q) = key(d, q, kb);
                        q = skip(d, q, depth + 1);
                        (more, q) = next(d, q, 0x7d);
                    }
                    d.top = kb;
                } else {
                    (more, q) = arrayOpen(d, p);
                    while (more) {
                        q = skip(d, q, depth + 1);
                        (more, q) = next(d, q, 0x5d);
                    }
                }
                return q;
            }
            if (c == 0x74 || c == 0x66 || c == 0x6e) return literal(d, p, c);
            return skipNumber(d, p);
        }
    }

    function literal(Doc memory d, uint256 p, uint256 c) private pure returns (uint256 q) {
        unchecked {
            uint256 w;
            assembly ("memory-safe") {
                w := mload(p)
            }
            if (c == 0x66) {
                if (p + 5 > d.end || bytes5(bytes32(w)) != "false") revert JsonSyntax(p - d.base);
                return p + 5;
            }
            if (p + 4 > d.end || (bytes4(bytes32(w)) != "true" && bytes4(bytes32(w)) != "null")) revert JsonSyntax(p - d.base);
            return p + 4;
        }
    }

    /// @notice Skips a JSON number at `p`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    function skipNumber(Doc memory d, uint256 p) internal pure returns (uint256 q) {
        uint256 end = d.end;
        bool bad;
        assembly ("memory-safe") {
            function ch(i, e) -> r {
                r := 256
                if lt(i, e) { r := byte(0, mload(i)) }
            }
            function isDigit(x) -> r {
                r := lt(sub(x, 0x30), 10)
            }
            // consumes one or more digits from i, or sets r = 0 when none
            function digits(i, e) -> j, ok {
                j := i
                for {} isDigit(ch(j, e)) {} { j := add(j, 1) }
                ok := gt(j, i)
            }
            q := p
            if eq(ch(q, end), 0x2d) { q := add(q, 1) }
            let c := ch(q, end)
            switch c
            case 0x30 { q := add(q, 1) }
            default {
                let ok
                q, ok := digits(q, end)
                if iszero(ok) { bad := 1 }
            }
            if and(iszero(bad), eq(ch(q, end), 0x2e)) {
                let ok
                q, ok := digits(add(q, 1), end)
                if iszero(ok) { bad := 1 }
            }
            if iszero(bad) {
                c := ch(q, end)
                if or(eq(c, 0x65), eq(c, 0x45)) {
                    q := add(q, 1)
                    c := ch(q, end)
                    if or(eq(c, 0x2b), eq(c, 0x2d)) { q := add(q, 1) }
                    let ok
                    q, ok := digits(q, end)
                    if iszero(ok) { bad := 1 }
                }
            }
        }
        if (bad) revert JsonSyntax((q < end ? q : end) - d.base);
    }

    /// @notice At `p` an object starts (else `JsonWrongType`): whether it has members, and the position
    ///         of the first key (or after the closing brace).
    function objectOpen(Doc memory d, uint256 p) internal pure returns (bool more, uint256 q) {
        unchecked {
            if (peek(d, p) != 0x7b) revert JsonWrongType(p - d.base);
            q = ws(d, p + 1);
            if (peek(d, q) == 0x7d) return (false, q + 1);
            return (true, q);
        }
    }

    /// @notice At `p` an array starts (else `JsonWrongType`): whether it has elements, and the position
    ///         of the first one (or after the closing bracket).
    function arrayOpen(Doc memory d, uint256 p) internal pure returns (bool more, uint256 q) {
        unchecked {
            if (peek(d, p) != 0x5b) revert JsonWrongType(p - d.base);
            q = ws(d, p + 1);
            if (peek(d, q) == 0x5d) return (false, q + 1);
            return (true, q);
        }
    }

    /// @notice After a member or element at `p`: a comma (`more`, and the next one's position) or the
    ///         closing byte `closing` (the position after it).
    function next(Doc memory d, uint256 p, uint256 closing) internal pure returns (bool more, uint256 q) {
        unchecked {
            uint256 end = d.end;
            // the common case first: the comma or the closing byte right at `p`, no whitespace around
            assembly ("memory-safe") {
                if lt(add(p, 1), end) {
                    let w := mload(p)
                    let c := byte(0, w)
                    if and(eq(c, 0x2c), iszero(and(shr(byte(1, w), WS), 1))) {
                        more := 1
                        q := add(p, 1)
                    }
                    if eq(c, closing) { q := add(p, 1) }
                }
            }
            if (q != 0) return (more, q);
            q = ws(d, p);
            uint256 c = peek(d, q);
            if (c == 0x2c) return (true, ws(d, q + 1));
            if (c != closing) revert JsonSyntax(q - d.base);
            return (false, q + 1);
        }
    }

    /// @notice Reads the key at `p` of the object whose keys start at index `kb` of the key stack:
    ///         its hash (refusing one already seen in the object), and the position of its value.
    function key(Doc memory d, uint256 p, uint256 kb) internal pure returns (bytes32 h, uint256 q) {
        unchecked {
            uint256 end = d.end;
            if (peek(d, p) != 0x22) revert JsonSyntax(p - d.base);
            // a key without escapes ends at the first special byte after its quote; any other is scanned
            q = nextSpecial(p + 1, end);
            if (peek(d, q) != 0x22) {
                bool escaped;
                (q, escaped) = scanString(d, p);
                if (escaped) revert JsonEscapedText(p - d.base);
            }
            uint256 keys = d.keys;
            uint256 top = d.top;
            bool dup;
            assembly ("memory-safe") {
                h := keccak256(add(p, 1), sub(q, add(p, 1)))
                for { let i := kb } lt(i, top) { i := add(i, 1) } {
                    if eq(mload(add(keys, shl(5, i))), h) {
                        dup := 1
                        break
                    }
                }
            }
            if (dup) revert JsonDuplicateKey(p - d.base);
            if (top >= KEY_CAP) revert JsonLimit(p - d.base);
            assembly ("memory-safe") {
                mstore(add(keys, shl(5, top)), h)
            }
            d.top = top + 1;
            // the common `":` followed by the value, no whitespace around the colon
            uint256 v;
            assembly ("memory-safe") {
                let w := mload(add(q, 1))
                if and(
                    lt(add(q, 2), end),
                    and(eq(byte(0, w), 0x3a), iszero(and(shr(byte(1, w), WS), 1)))
                ) { v := add(q, 2) }
            }
            if (v != 0) return (h, v);
            q = ws(d, q + 1);
            if (peek(d, q) != 0x3a) revert JsonSyntax(q - d.base);
            q = ws(d, q + 1);
        }
    }

    // -----------------------------------------------------------------------------------------
    // field values
    // -----------------------------------------------------------------------------------------

    /// @notice The string at `p` without its quotes (memory position and length; no escape allowed).
    function text(Doc memory d, uint256 p) internal pure returns (uint256 start, uint256 len, uint256 q) {
        unchecked {
            if (peek(d, p) != 0x22) revert JsonWrongType(p - d.base);
            bool escaped;
            (q, escaped) = scanString(d, p);
            if (escaped) revert JsonEscapedText(p - d.base);
            start = p + 1;
            len = q - start;
            ++q;
        }
    }

    /// @notice The string at `p` as a slice of the document.
    function slice(Doc memory d, uint256 p) internal pure returns (uint256 sl, uint256 q) {
        unchecked {
            uint256 start;
            uint256 len;
            (start, len, q) = text(d, p);
            sl = ((start - d.base) << 128) | len;
        }
    }

    /// @notice The non-negative integer at `p`, written as plain digits, at most `max`.
    function uintValue(Doc memory d, uint256 p, uint256 max) internal pure returns (uint256 v, uint256 q) {
        unchecked {
            uint256 c = peek(d, p);
            if (c == 0x22 || c == 0x7b || c == 0x5b || c == 0x74 || c == 0x66 || c == 0x6e) revert JsonWrongType(p - d.base);
            uint256 end = d.end;
            bool bad;
            assembly ("memory-safe") {
                q := p
                for {} lt(q, end) { q := add(q, 1) } {
                    let x := sub(byte(0, mload(q)), 0x30)
                    if iszero(lt(x, 10)) { break }
                    v := add(mul(v, 10), x)
                }
                let n := sub(q, p)
                // no digit, more than 16 digits (beyond 2^53), or a leading zero
                if or(iszero(n), or(gt(n, 16), and(gt(n, 1), eq(byte(0, mload(p)), 0x30)))) { bad := 1 }
                if lt(q, end) {
                    let e := byte(0, mload(q))
                    // a fraction or an exponent follows
                    if or(eq(e, 0x2e), or(eq(e, 0x65), eq(e, 0x45))) { bad := 1 }
                }
            }
            if (bad || v > max) revert JsonBadInteger(p - d.base);
        }
    }

    /// @notice The hex string of `n` bytes (n ≤ 32) at `p`, as a right-aligned number.
    function hexValue(Doc memory d, uint256 p, uint256 n) internal pure returns (uint256 v, uint256 q) {
        unchecked {
            uint256 start;
            uint256 len;
            (start, len, q) = text(d, p);
            bool ok;
            if (len == 2 * n) (v, ok) = decodeHex(start, len);
            if (!ok) revert JsonBadHex(p - d.base);
        }
    }

    /// @notice The 48-byte hex string at `p` (a TDX module MRSIGNER) as bytes.
    function hex48(Doc memory d, uint256 p) internal pure returns (bytes memory out, uint256 q) {
        unchecked {
            uint256 start;
            uint256 len;
            (start, len, q) = text(d, p);
            uint256 hi;
            uint256 lo;
            bool ok;
            if (len == 96) {
                (hi, ok) = decodeHex(start, 64);
                bool ok2;
                (lo, ok2) = decodeHex(start + 64, 32);
                ok = ok && ok2;
            }
            if (!ok) revert JsonBadHex(p - d.base);
            out = abi.encodePacked(bytes32(hi), bytes16(uint128(lo)));
        }
    }

    /// @dev `len` (≤ 64) hex digits at memory position `start` as a number; `ok` false on a non-hex digit.
    ///      32 digits at a time: every byte checked to be 0-9, A-F or a-f in parallel (bytes below 0x80,
    ///      with bit 5 set: '0'-'9' and 'a'-'f'), turned into its nibble and the nibbles packed.
    function decodeHex(uint256 start, uint256 len) private pure returns (uint256 v, bool ok) {
        assembly ("memory-safe") {
            let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
            let high := mul(ones, 0x80)
            ok := 1
            for { let i := 0 } lt(i, len) { i := add(i, 32) } {
                let n := sub(len, i)
                if gt(n, 32) { n := 32 }
                // the n digits, then '0's
                let keep := not(shr(shl(3, n), not(0)))
                let w := or(and(mload(add(start, i)), keep), and(not(keep), mul(ones, 0x30)))
                // no byte ≥ 0x80, and none that is not a digit or a letter A-F / a-f (bytes below 0x20,
                // which bit 5 would turn into digits, never reach here: strings hold no control byte)
                let x := or(w, mul(ones, 0x20))
                let h := or(x, high)
                let digit := and(and(sub(h, mul(ones, 0x30)), high), not(and(sub(h, mul(ones, 0x3a)), high)))
                let letter := and(and(sub(h, mul(ones, 0x61)), high), not(and(sub(h, mul(ones, 0x67)), high)))
                if or(and(w, high), iszero(eq(or(digit, letter), high))) {
                    ok := 0
                    break
                }
                // '0'-'9' → 0-9, 'a'-'f' → 10-15
                let l := shr(7, letter)
                let nib := add(and(x, mul(ones, 0x0f)), add(shl(3, l), l))
                // two nibbles per byte, then the 16 bytes gathered into the low half of the word
                nib := or(
                    shr(4, and(nib, 0x0f000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f00)),
                    and(nib, 0x000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f)
                )
                nib := and(or(nib, shr(8, nib)), 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff)
                nib := and(or(nib, shr(16, nib)), 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff)
                nib := and(or(nib, shr(32, nib)), 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff)
                nib := and(or(nib, shr(64, nib)), 0xffffffffffffffffffffffffffffffff)
                v := or(shl(shl(2, n), v), shr(shl(2, sub(32, n)), nib))
            }
        }
    }

    /// @notice The TCB status named by the string at `p`.
    function statusValue(Doc memory d, uint256 p) internal pure returns (TcbStatus s, uint256 q) {
        unchecked {
            uint256 start;
            uint256 len;
            (start, len, q) = text(d, p);
            bool known;
            (known, s) = statusOf(start, len);
            if (!known) revert JsonUnknownStatus(p - d.base);
        }
    }

    /// @notice The TCB status named by the `len` bytes at memory position `start`, if any.
    function statusOf(uint256 start, uint256 len) internal pure returns (bool known, TcbStatus s) {
        bytes32 h;
        assembly ("memory-safe") {
            h := keccak256(start, len)
        }
        known = true;
        if (h == K_UP_TO_DATE) s = TcbStatus.UpToDate;
        else if (h == K_OUT_OF_DATE) s = TcbStatus.OutOfDate;
        else if (h == K_SWHARDENING_NEEDED) s = TcbStatus.SWHardeningNeeded;
        else if (h == K_CONFIGURATION_NEEDED) s = TcbStatus.ConfigurationNeeded;
        else if (h == K_CONFIG_AND_SW_HARDENING) s = TcbStatus.ConfigurationAndSWHardeningNeeded;
        else if (h == K_OUT_OF_DATE_CONFIG) s = TcbStatus.OutOfDateConfigurationNeeded;
        else if (h == K_REVOKED) s = TcbStatus.Revoked;
        else known = false;
    }

    /// @notice The RFC 3339 date-time with a zone at `p` (`2025-06-05T03:45:00Z`, fractions floored,
    ///         `±hh:mm` offsets applied, second 60 read as 59) as unix seconds.
    function dateValue(Doc memory d, uint256 p) internal pure returns (uint256 t, uint256 q) {
        unchecked {
            uint256 start;
            uint256 len;
            (start, len, q) = text(d, p);
            bool ok;
            (t, ok) = parseDate(start, len);
            if (!ok) revert JsonBadDate(p - d.base);
        }
    }

    function parseDate(uint256 s, uint256 len) private pure returns (uint256 t, bool ok) {
        if (len < 20) return (0, false);
        uint256 w;
        assembly ("memory-safe") {
            w := mload(s)
        }
        (t, ok) = dateTime(w);
        if (!ok) return (0, false);
        uint256 i = 19;
        uint256 cc = byteAt(s, i);
        if (cc == 0x2e) {
            uint256 j = i + 1;
            while (j < len && isDigit(byteAt(s, j))) ++j;
            if (j == i + 1 || j == len) return (0, false);
            i = j;
            cc = byteAt(s, i);
        }
        if (cc == 0x5a || cc == 0x7a) return (t, i + 1 == len);
        if ((cc != 0x2b && cc != 0x2d) || i + 6 != len) return (0, false);
        uint256 z;
        assembly ("memory-safe") {
            z := mload(add(s, i))
        }
        uint256 oh = digitsAt(z, 1, 2);
        uint256 om = digitsAt(z, 4, 2);
        if (uint8(z >> 232) != 0x3a || oh > 23 || om > 59) return (0, false);
        uint256 off = oh * 3600 + om * 60;
        if (cc == 0x2d) return (t + off, true);
        if (off > t) return (0, false);
        return (t - off, true);
    }

    /// @dev `YYYY-MM-DDTHH:MM:SS` at the start of word `w` as unix seconds (second 60 read as 59): the
    ///      separators and the 14 digits checked in one pass over the word, then solady's DateTimeLib.
    function dateTime(uint256 w) private pure returns (uint256 t, bool ok) {
        uint256 year;
        uint256 month;
        uint256 day;
        uint256 hour;
        uint256 minute;
        uint256 second;
        assembly ("memory-safe") {
            // the 19 leading bytes: digits at 0-3, 5-6, 8-9, 11-12, 14-15, 17-18
            let digits := 0xffffffff00ffff00ffff00ffff00ffff00ffff00000000000000000000000000
            let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
            let sep := byte(10, w)
            ok := and(
                and(
                    eq(and(w, and(digits, mul(ones, 0xf0))), and(digits, mul(ones, 0x30))),
                    iszero(and(add(and(w, and(digits, mul(ones, 0x0f))), and(digits, mul(ones, 0x06))), mul(ones, 0x10)))
                ),
                and(
                    and(eq(byte(4, w), 0x2d), eq(byte(7, w), 0x2d)),
                    and(or(eq(sep, 0x54), eq(sep, 0x74)), and(eq(byte(13, w), 0x3a), eq(byte(16, w), 0x3a)))
                )
            )
            function two(x, i) -> v {
                v := add(mul(sub(byte(i, x), 0x30), 10), sub(byte(add(i, 1), x), 0x30))
            }
            year := add(mul(two(w, 0), 100), two(w, 2))
            month := two(w, 5)
            day := two(w, 8)
            hour := two(w, 11)
            minute := two(w, 14)
            second := two(w, 17)
        }
        if (!ok || year < 1970 || !DateTimeLib.isSupportedDate(year, month, day)) return (0, false);
        if (hour > 23 || minute > 59 || second > 60) return (0, false);
        if (second == 60) second = 59;
        return (DateTimeLib.dateTimeToTimestamp(year, month, day, hour, minute, second), true);
    }

    function isDigit(uint256 c) private pure returns (bool) {
        return c >= 0x30 && c <= 0x39;
    }

    function byteAt(uint256 s, uint256 i) private pure returns (uint256 c) {
        assembly ("memory-safe") {
            c := byte(0, mload(add(s, i)))
        }
    }

    /// @dev `n` decimal digits of word `w` from byte `at`; `type(uint256).max` when one is not a digit.
    function digitsAt(uint256 w, uint256 at, uint256 n) private pure returns (uint256 v) {
        for (uint256 i; i < n; ++i) {
            uint256 x = uint8(w >> (248 - 8 * (at + i)));
            unchecked {
                x -= 0x30;
            }
            if (x > 9) return type(uint256).max;
            v = v * 10 + x;
        }
    }

    /// @notice An `advisoryIDs` array at `p`: the slice of its text (strings only, no escapes).
    function advisoriesValue(Doc memory d, uint256 p) internal pure returns (uint256 sl, uint256 q) {
        unchecked {
            bool more;
            (more, q) = arrayOpen(d, p);
            while (more) {
                (, , q) = text(d, q);
                (more, q) = next(d, q, 0x5d);
            }
            sl = ((p - d.base) << 128) | (q - p);
        }
    }

    /// @notice An enclave TCB level at `p`: `{ tcb: { isvsvn }, tcbDate, tcbStatus, advisoryIDs? }`.
    function enclaveLevel(Doc memory d, uint256 p) internal pure returns (EnclaveLevel memory lv, uint256 q) {
        unchecked {
            uint256 kb = d.top;
            uint256 seen;
            bool more;
            (more, q) = objectOpen(d, p);
            while (more) {
                bytes32 k;
                (k, q) = key(d, q, kb);
                if (k == K_TCB) {
                    uint256 kb2 = d.top;
                    bool more2;
                    uint256 o = q;
                    (more2, q) = objectOpen(d, q);
                    bool svn;
                    while (more2) {
                        (k, q) = key(d, q, kb2);
                        if (k == K_ISVSVN) {
                            uint256 v;
                            (v, q) = uintValue(d, q, 0xffff);
                            lv.isvSvn = uint16(v);
                            svn = true;
                        } else {
                            q = skip(d, q, 3);
                        }
                        (more2, q) = next(d, q, 0x7d);
                    }
                    d.top = kb2;
                    if (!svn) revert JsonMissingKey(o - d.base, 1);
                    seen |= 1;
                } else if (k == K_TCB_DATE) {
                    (lv.tcbDate, q) = slice(d, q);
                    seen |= 2;
                } else if (k == K_TCB_STATUS) {
                    (lv.status, q) = statusValue(d, q);
                    seen |= 4;
                } else if (k == K_ADVISORY_IDS) {
                    (lv.advisories, q) = advisoriesValue(d, q);
                } else {
                    q = skip(d, q, 2);
                }
                (more, q) = next(d, q, 0x7d);
            }
            d.top = kb;
            if (seen != 7) revert JsonMissingKey(p - d.base, 7 & ~seen);
        }
    }

    /// @notice The enclave TCB levels of the array at `p`, in document order (at most `cap`).
    function enclaveLevels(Doc memory d, uint256 p, uint256 cap) internal pure returns (EnclaveLevel[] memory levels, uint256 q) {
        unchecked {
            uint256 arr = newPointerArray(cap);
            uint256 n;
            bool more;
            (more, q) = arrayOpen(d, p);
            while (more) {
                if (n == cap) revert JsonLimit(q - d.base);
                EnclaveLevel memory lv;
                (lv, q) = enclaveLevel(d, q);
                n = pushPointer(arr, n, lv);
                (more, q) = next(d, q, 0x5d);
            }
            assembly ("memory-safe") {
                mstore(arr, n)
                levels := arr
            }
        }
    }

    /// @dev An array of `cap` memory pointers (length 0), for the readers to fill.
    function newPointerArray(uint256 cap) internal pure returns (uint256 arr) {
        assembly ("memory-safe") {
            arr := mload(0x40)
            mstore(arr, 0)
            mstore(0x40, add(arr, shl(5, add(cap, 1))))
        }
    }

    function pushPointer(uint256 arr, uint256 n, EnclaveLevel memory lv) private pure returns (uint256) {
        unchecked {
            assembly ("memory-safe") {
                mstore(add(arr, shl(5, add(n, 1))), lv)
            }
            return n + 1;
        }
    }

    // -----------------------------------------------------------------------------------------
    // statuses and advisory IDs
    // -----------------------------------------------------------------------------------------

    /// @notice Intel's convergence of a platform (TCB level) status with a TDX-module or QE status:
    ///         Revoked wins; an OutOfDate `other` turns UpToDate / SWHardeningNeeded into OutOfDate and
    ///         ConfigurationNeeded / ConfigurationAndSWHardeningNeeded into OutOfDateConfigurationNeeded;
    ///         otherwise the more severe of the two.
    function convergeStatus(TcbStatus platform, TcbStatus other) internal pure returns (TcbStatus r) {
        // in the enum's order: the more severe of the two (Revoked, the last, wins), except that an
        // OutOfDate `other` takes UpToDate / SWHardeningNeeded (0, 1) to OutOfDate (4) and
        // ConfigurationNeeded / ConfigurationAndSWHardeningNeeded (2, 3) to OutOfDateConfigurationNeeded (5)
        assembly ("memory-safe") {
            r := platform
            if gt(other, platform) { r := other }
            if and(eq(other, 4), lt(platform, 4)) { r := add(4, shr(1, platform)) }
        }
    }

    /// @notice The advisory IDs of an `advisoryIDs` slice of `s`, in document order (empty for slice 0).
    function advisoryIds(bytes memory s, uint256 sl) internal pure returns (string[] memory) {
        return appendAdvisoryIds(new string[](0), s, sl, false);
    }

    /// @notice `ids`, then each advisory ID of slice `sl` of `s` not yet in the list, in order.
    function mergeAdvisoryIds(string[] memory ids, bytes memory s, uint256 sl) internal pure returns (string[] memory) {
        return appendAdvisoryIds(ids, s, sl, true);
    }

    /// @notice `a`, then each ID of `b` not yet in the list, in order.
    function mergeAdvisoryIds(string[] memory a, string[] memory b) internal pure returns (string[] memory out) {
        out = new string[](a.length + b.length);
        uint256 n = a.length;
        for (uint256 i; i < n; ++i) out[i] = a[i];
        for (uint256 i; i < b.length; ++i) n = appendUnique(out, n, b[i], keccak256(bytes(b[i])));
        assembly ("memory-safe") {
            mstore(out, n)
        }
    }

    function appendUnique(string[] memory out, uint256 n, string memory id, bytes32 h) private pure returns (uint256) {
        unchecked {
            for (uint256 k; k < n; ++k) if (keccak256(bytes(out[k])) == h) return n;
            out[n] = id;
            return n + 1;
        }
    }

    function appendAdvisoryIds(string[] memory ids, bytes memory s, uint256 sl, bool unique)
        private
        pure
        returns (string[] memory out)
    {
        unchecked {
            if (sl == 0) return ids;
            uint256 p;
            uint256 end;
            assembly ("memory-safe") {
                p := add(add(s, 32), shr(128, sl))
                end := add(p, and(sl, 0xffffffffffffffffffffffffffffffff))
            }
            // the strings hold no escape (the reader refused them), so every pair of quotes is one ID
            uint256 count;
            for (uint256 i = p; i < end; ++i) if (byteAt(i, 0) == 0x22) ++count;
            out = new string[](ids.length + count / 2);
            uint256 n = ids.length;
            for (uint256 i; i < n; ++i) out[i] = ids[i];
            for (uint256 i = p; i < end; ++i) {
                if (byteAt(i, 0) != 0x22) continue;
                uint256 j = i + 1;
                while (byteAt(j, 0) != 0x22) ++j;
                string memory id = string(copy(i + 1, j - i - 1));
                if (unique) {
                    n = appendUnique(out, n, id, keccak256(bytes(id)));
                } else {
                    out[n] = id;
                    ++n;
                }
                i = j;
            }
            assembly ("memory-safe") {
                mstore(out, n)
            }
        }
    }

    /// @notice Reverts with the revert data `err` unless it is empty.
    function raise(bytes memory err) internal pure {
        if (err.length != 0) {
            assembly ("memory-safe") {
                revert(add(err, 32), mload(err))
            }
        }
    }

    /// @notice The bytes of slice `sl` of `s` (a `tcbDate`, an id) as a string.
    function sliceText(bytes memory s, uint256 sl) internal pure returns (string memory) {
        uint256 start;
        assembly ("memory-safe") {
            start := add(add(s, 32), shr(128, sl))
        }
        return string(copy(start, uint128(sl)));
    }

    function copy(uint256 start, uint256 len) private pure returns (bytes memory out) {
        out = new bytes(len);
        assembly ("memory-safe") {
            mcopy(add(out, 32), start, len)
        }
    }
}
