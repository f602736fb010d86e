// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Comparisons follow Intel's rules (≥, ≤), `parse` follows the document's schema, and the memory
// structs are never stored, so slot packing does not apply.
// solhint-disable gas-strict-inequalities, gas-struct-packing, function-max-lines

import {IntelJson} from "./IntelJson.sol";

/// @title TcbInfo
/// @notice Intel's TCB Info document (the `tcbInfo` object, the exact signed text) on chain: read
///         strictly by `parse`, then the platform's TCB level (`matchPlatformLevel`) and the TDX
///         module's grade (`checkTdxModule`) by Intel's rules.
/// @dev Stricter than a general reader in one more respect than `IntelJson`: every TCB level has
///      exactly 16 `sgxtcbcomponents` and, when present, exactly 16 `tdxtcbcomponents`.
library TcbInfo {
    using IntelJson for IntelJson.Doc;

    // keccak256 of the keys and status names compared (hashes, so no literal is hashed at run time)
    bytes32 private constant K_ADVISORY_IDS = 0xe86af6009aebc04f295f78c7e3eb2fcaace71ae116a426fa95c0ee7718f2b453;
    bytes32 private constant K_ATTRIBUTES = 0xa400e15477493b58388b48f7b160ed2fb67c4a5ddc41d82fa2a63f904d2e622b;
    bytes32 private constant K_ATTRIBUTES_MASK = 0x17c4cfec1552be72636a92eab6688a6f9dc4a883e1e7d7f4bbacb37d473e14b5;
    bytes32 private constant K_FMSPC = 0x32d406b8d9e731fc9123600c61c66a13cbea488c34cc3d265954e87695b41210;
    bytes32 private constant K_ID = 0xa709fd3aa96d9faf770e44a5aef2f4808a6fe3a5ddf546568f36ad3a3873f31d;
    bytes32 private constant K_ISSUE_DATE = 0x6076d2bbe55ad3c4b6ee7953ef9ae2e5b181f22d3eba84d569dbda4b99713e82;
    bytes32 private constant K_MRSIGNER = 0xc6289de500ffb547b5e0b7a91f7777325c606b45d58329945f4f303ea7a9424a;
    bytes32 private constant K_NEXT_UPDATE = 0x763eaaeea7af2e6dd24f817d656a3a2f55700b655f70efd88231fddddb3c8228;
    bytes32 private constant K_PCESVN = 0xf474965a39aa6628954590fb3a16baffc36b6cd6427690d4bea56cca0320e607;
    bytes32 private constant K_PCE_ID = 0x1f5653bc1bc6e041fc665b046bb7155c6612899340379c5caa4d030682426aea;
    bytes32 private constant K_SGXTCBCOMPONENTS = 0x423174dd5530a23c19eb97b6e77a726f285cf2590fefcf7c4dc5f3a17dab2a0a;
    bytes32 private constant K_SVN = 0x4294eaea1f2439036f92859f5d2aee946a31a48b4d3ebceca5872241d2d71809;
    bytes32 private constant K_TCB = 0x4030b14cdfc8fe1ef57f74f5c81fbdb05eb1ddd8761b287757c0be02f5788ab9;
    bytes32 private constant K_TCB_DATE = 0x5add4344b96eb4a412e6c34fcb56b6f1f9be776dbb6917001ce8245b90d0419b;
    bytes32 private constant K_TCB_EVALUATION_DATA_NUMBER = 0x4e781c4bf4f96634340ceb53dcdb4730bdc24be94fdc96d345fdaa60d3d6d7b9;
    bytes32 private constant K_TCB_LEVELS = 0xd6d591efa424a0827fb062970a57c851088716066a090ed22b00fe6502c11435;
    bytes32 private constant K_TCB_STATUS = 0x8ccaeed3ed0825b5048ee5eaf2994841e462373ff830e62b0e66e06e56cd20d6;
    bytes32 private constant K_TCB_TYPE = 0xf1ef84607333b53a2004a6165e8ab88f55e83518116e21fd0b464b25722b2c3f;
    bytes32 private constant K_TDXTCBCOMPONENTS = 0xd039dfd6fdf9579033b5870aaca39cde10fbba50b5b2d55d2fa2454f62ea3454;
    bytes32 private constant K_TDX_MODULE = 0x6f1c9533f85324bc119f3689d641a35996bdbfce949a5b36ae5ef040c09e2c09;
    bytes32 private constant K_TDX_MODULE_IDENTITIES = 0x6d3b4de4f5b6531723dfb0e5d8257d4dbfe34b65370323640e41f5cf63ee9a4f;
    bytes32 private constant K_VERSION = 0xba1b4dd49a85c82b73f138b112d5135149203ed36c1ec80c46f8c572daa7c5ec;

    /// @notice A platform TCB level. SVN vectors are packed component 0 first (big-endian), so a
    ///         numeric comparison of two vectors is their lexicographic comparison.
    struct Level {
        bytes16 sgx;
        bytes16 tdx;
        bool hasTdx;
        uint16 pceSvn;
        IntelJson.TcbStatus status;
        uint256 tcbDate;
        uint256 advisories;
    }

    struct ModuleIdentity {
        uint256 id;
        bytes mrSigner;
        bytes8 attributes;
        bytes8 attributesMask;
        IntelJson.EnclaveLevel[] tcbLevels;
    }

    /// @notice The parsed document. Strings (`id`, `tcbDate`s, advisory IDs) are slices of the text.
    struct Info {
        uint256 id;
        uint8 version;
        uint64 issueDate;
        uint64 nextUpdate;
        bytes6 fmspc;
        bytes2 pceId;
        uint64 tcbEvaluationDataNumber;
        bool hasTdxModule;
        bytes tdxModuleMrSigner;
        bytes8 tdxModuleAttributes;
        bytes8 tdxModuleAttributesMask;
        ModuleIdentity[] tdxModuleIdentities;
        /// sorted highest first: SGX components, then PCESVN, then (TDX v3+) TDX components; stable
        Level[] tcbLevels;
    }

    /// @notice `tcbType` is not 0, the only type Intel defines.
    error TcbTypeUnsupported(uint256 tcbType);
    /// @notice A TCB level's component array at `offset` does not hold 16 components.
    error TcbComponentCount(uint256 offset);
    /// @notice The TCB level at `index` (sorted order) is reached but has no TDX components.
    error TcbLevelInvalid(uint256 index);
    /// @notice No TCB level matches the platform.
    error TcbLevelNotFound();
    /// @notice A TDX TCB Info without `tdxModule`.
    error TdxModuleMissing();
    /// @notice No `tdxModuleIdentities` entry `TDX_<major>` for the reported module major version.
    error TdxModuleIdentityNotFound(uint8 majorVersion);
    error TdxModuleMrSignerMismatch();
    error TdxModuleAttributesMismatch();
    /// @notice The module SVN is below every level of its identity.
    error TdxModuleSvnTooLow(uint8 svn);
    error FmspcMismatch();
    error PceIdMismatch();
    /// @notice A TDX quote with non-TDX (v3+) TCB Info, or an SGX quote with non-SGX (v2+) TCB Info.
    error TcbInfoTeeMismatch();

    uint256 private constant MAX_LEVELS = 64;
    uint256 private constant MAX_IDENTITIES = 16;
    /// @dev Words of a component array template: its start, length and SVN positions, then the masks
    ///      of up to 32 words of text and four more.
    uint256 private constant TPL_WORDS = 40;

    // top-level keys (bits of `seen`)
    uint256 private constant F_ID = 1;
    uint256 private constant F_VERSION = 2;
    uint256 private constant F_ISSUE = 4;
    uint256 private constant F_NEXT = 8;
    uint256 private constant F_FMSPC = 16;
    uint256 private constant F_PCEID = 32;
    uint256 private constant F_TCBTYPE = 64;
    uint256 private constant F_EVAL = 128;
    uint256 private constant F_LEVELS = 256;
    uint256 private constant F_REQUIRED = 511;

    /// @notice Parses the `tcb_info` text. Reverts with an `IntelJson` error (malformed, duplicate key,
    ///         wrong type, missing field), `TcbComponentCount` or `TcbTypeUnsupported`.
    function parse(bytes memory s) internal pure returns (Info memory info) {
        unchecked {
            (IntelJson.Doc memory d, uint256 p) = IntelJson.open(s);
            uint256 o = p;
            uint256 kb = d.top;
            uint256 seen;
            uint256 tcbType;
            bool more;
            (more, p) = d.objectOpen(p);
            while (more) {
                bytes32 k;
                uint256 v;
                (k, p) = d.key(p, kb);
                if (k == K_ID) {
                    (info.id, p) = d.slice(p);
                    seen |= F_ID;
                } else if (k == K_VERSION) {
                    (v, p) = d.uintValue(p, 255);
                    info.version = uint8(v);
                    seen |= F_VERSION;
                } else if (k == K_ISSUE_DATE) {
                    (v, p) = d.dateValue(p);
                    info.issueDate = uint64(v);
                    seen |= F_ISSUE;
                } else if (k == K_NEXT_UPDATE) {
                    (v, p) = d.dateValue(p);
                    info.nextUpdate = uint64(v);
                    seen |= F_NEXT;
                } else if (k == K_FMSPC) {
                    (v, p) = d.hexValue(p, 6);
                    info.fmspc = bytes6(uint48(v));
                    seen |= F_FMSPC;
                } else if (k == K_PCE_ID) {
                    (v, p) = d.hexValue(p, 2);
                    info.pceId = bytes2(uint16(v));
                    seen |= F_PCEID;
                } else if (k == K_TCB_TYPE) {
                    (tcbType, p) = d.uintValue(p, 2 ** 53 - 1);
                    seen |= F_TCBTYPE;
                } else if (k == K_TCB_EVALUATION_DATA_NUMBER) {
                    (v, p) = d.uintValue(p, 2 ** 53 - 1);
                    info.tcbEvaluationDataNumber = uint64(v);
                    seen |= F_EVAL;
                } else if (k == K_TDX_MODULE) {
                    p = tdxModule(d, p, info);
                } else if (k == K_TDX_MODULE_IDENTITIES) {
                    (info.tdxModuleIdentities, p) = moduleIdentities(d, p);
                } else if (k == K_TCB_LEVELS) {
                    (info.tcbLevels, p) = levels(d, p);
                    seen |= F_LEVELS;
                } else {
                    p = d.skip(p, 1);
                }
                (more, p) = d.next(p, 0x7d);
            }
            d.top = kb;
            d.close(p);
            if (seen != F_REQUIRED) revert IntelJson.JsonMissingKey(o - d.base, F_REQUIRED & ~seen);
            if (tcbType != 0) revert TcbTypeUnsupported(tcbType);
            if (info.tdxModuleIdentities.length == 0) {
                // an absent array reads as an empty one
                info.tdxModuleIdentities = new ModuleIdentity[](0);
            }
            sortLevels(info.tcbLevels, isTdx(s, info));
        }
    }

    /// @notice The document is TDX TCB Info (`id` "TDX", version 3 or later).
    function isTdx(bytes memory s, Info memory info) internal pure returns (bool) {
        return info.version >= 3 && idIs(s, info.id, "TDX");
    }

    /// @notice The document is SGX TCB Info (`id` "SGX", version 2 or later).
    function isSgx(bytes memory s, Info memory info) internal pure returns (bool) {
        return info.version >= 2 && idIs(s, info.id, "SGX");
    }

    function idIs(bytes memory s, uint256 sl, bytes3 want) private pure returns (bool r) {
        if (uint128(sl) != 3) return false;
        assembly ("memory-safe") {
            r := eq(shr(232, mload(add(add(s, 32), shr(128, sl)))), shr(232, want))
        }
    }

    /// @dev `tdxModule`: the fields it shares with a module identity (mrsigner, attributes,
    ///      attributesMask), read by the same reader.
    function tdxModule(IntelJson.Doc memory d, uint256 p, Info memory info) private pure returns (uint256 q) {
        ModuleIdentity memory m;
        (m, q) = moduleIdentity(d, p, false);
        info.tdxModuleMrSigner = m.mrSigner;
        info.tdxModuleAttributes = m.attributes;
        info.tdxModuleAttributesMask = m.attributesMask;
        info.hasTdxModule = true;
    }

    function moduleIdentities(IntelJson.Doc memory d, uint256 p) private pure returns (ModuleIdentity[] memory ids, uint256 q) {
        unchecked {
            uint256 arr = IntelJson.newPointerArray(MAX_IDENTITIES);
            uint256 n;
            bool more;
            (more, q) = d.arrayOpen(p);
            while (more) {
                if (n == MAX_IDENTITIES) revert IntelJson.JsonLimit(q - d.base);
                ModuleIdentity memory m;
                (m, q) = moduleIdentity(d, q, true);
                ++n;
                assembly ("memory-safe") {
                    mstore(add(arr, shl(5, n)), m)
                }
                (more, q) = d.next(q, 0x5d);
            }
            assembly ("memory-safe") {
                mstore(arr, n)
                ids := arr
            }
        }
    }

    /// @dev A `tdxModuleIdentities` entry (`identity`: id, mrsigner, attributes, attributesMask,
    ///      tcbLevels, all required) or the `tdxModule` object (mrsigner, attributes, attributesMask; any
    ///      other key skipped). `JsonMissingKey`'s mask: for an identity id 1, mrsigner 2, attributes 4,
    ///      attributesMask 8, tcbLevels 16; for `tdxModule` mrsigner 1, attributes 2, attributesMask 4.
    function moduleIdentity(IntelJson.Doc memory d, uint256 p, bool identity)
        private
        pure
        returns (ModuleIdentity memory m, uint256 q)
    {
        unchecked {
            uint256 kb = d.top;
            uint256 seen;
            bool more;
            (more, q) = d.objectOpen(p);
            while (more) {
                bytes32 k;
                uint256 v;
                (k, q) = d.key(q, kb);
                if (k == K_MRSIGNER) {
                    (m.mrSigner, q) = d.hex48(q);
                    seen |= 2;
                } else if (k == K_ATTRIBUTES) {
                    (v, q) = d.hexValue(q, 8);
                    m.attributes = bytes8(uint64(v));
                    seen |= 4;
                } else if (k == K_ATTRIBUTES_MASK) {
                    (v, q) = d.hexValue(q, 8);
                    m.attributesMask = bytes8(uint64(v));
                    seen |= 8;
                } else if (identity && k == K_ID) {
                    (m.id, q) = d.slice(q);
                    seen |= 1;
                } else if (identity && k == K_TCB_LEVELS) {
                    (m.tcbLevels, q) = IntelJson.enclaveLevels(d, q, MAX_LEVELS);
                    seen |= 16;
                } else {
                    q = d.skip(q, identity ? 3 : 2);
                }
                (more, q) = d.next(q, 0x7d);
            }
            d.top = kb;
            uint256 required = identity ? 31 : 14;
            if (seen != required) revert IntelJson.JsonMissingKey(p - d.base, (required & ~seen) >> (identity ? 0 : 1));
        }
    }

    function levels(IntelJson.Doc memory d, uint256 p) private pure returns (Level[] memory out, uint256 q) {
        unchecked {
            uint256 arr = IntelJson.newPointerArray(MAX_LEVELS);
            // the component array templates of `fastLevel` (SGX, then TDX), none yet
            uint256 tpl = IntelJson.newPointerArray(2 * TPL_WORDS);
            assembly ("memory-safe") {
                mstore(add(tpl, shl(5, TPL_WORDS)), 0)
            }
            uint256 n;
            bool more;
            (more, q) = d.arrayOpen(p);
            while (more) {
                if (n == MAX_LEVELS) revert IntelJson.JsonLimit(q - d.base);
                Level memory lv;
                uint256 r = fastLevel(d, q, lv, tpl);
                if (r == 0) (lv, q) = level(d, q);
                else q = r;
                ++n;
                assembly ("memory-safe") {
                    mstore(add(arr, shl(5, n)), lv)
                }
                (more, q) = d.next(q, 0x5d);
            }
            assembly ("memory-safe") {
                mstore(arr, n)
                out := arr
            }
        }
    }

    function level(IntelJson.Doc memory d, uint256 p) private pure returns (Level memory lv, uint256 q) {
        unchecked {
            uint256 kb = d.top;
            uint256 seen;
            bool more;
            (more, q) = d.objectOpen(p);
            while (more) {
                bytes32 k;
                (k, q) = d.key(q, kb);
                if (k == K_TCB) {
                    q = levelTcb(d, q, lv);
                    seen |= 1;
                } else if (k == K_TCB_DATE) {
                    (lv.tcbDate, q) = d.slice(q);
                    seen |= 2;
                } else if (k == K_TCB_STATUS) {
                    (lv.status, q) = d.statusValue(q);
                    seen |= 4;
                } else if (k == K_ADVISORY_IDS) {
                    (lv.advisories, q) = d.advisoriesValue(q);
                } else {
                    q = d.skip(q, 3);
                }
                (more, q) = d.next(q, 0x7d);
            }
            d.top = kb;
            if (seen != 7) revert IntelJson.JsonMissingKey(p - d.base, 7 & ~seen);
        }
    }

    function levelTcb(IntelJson.Doc memory d, uint256 p, Level memory lv) private pure returns (uint256 q) {
        unchecked {
            uint256 kb = d.top;
            uint256 seen;
            bool more;
            (more, q) = d.objectOpen(p);
            while (more) {
                bytes32 k;
                (k, q) = d.key(q, kb);
                if (k == K_SGXTCBCOMPONENTS) {
                    (lv.sgx, q) = components(d, q);
                    seen |= 1;
                } else if (k == K_TDXTCBCOMPONENTS) {
                    (lv.tdx, q) = components(d, q);
                    lv.hasTdx = true;
                } else if (k == K_PCESVN) {
                    uint256 v;
                    (v, q) = d.uintValue(q, 0xffff);
                    lv.pceSvn = uint16(v);
                    seen |= 2;
                } else {
                    q = d.skip(q, 4);
                }
                (more, q) = d.next(q, 0x7d);
            }
            d.top = kb;
            if (seen != 3) revert IntelJson.JsonMissingKey(p - d.base, 3 & ~seen);
        }
    }

    /// @dev 16 `{ "svn": n, ... }` objects, packed component 0 first.
    function components(IntelJson.Doc memory d, uint256 p) private pure returns (bytes16 packed, uint256 q) {
        unchecked {
            uint256 n;
            uint256 acc;
            uint256 st;
            // room on the key stack for a component's one or three keys (else the general reader refuses)
            bool room1 = d.top < IntelJson.KEY_CAP;
            bool room3 = d.top + 2 < IntelJson.KEY_CAP;
            bool more;
            (more, q) = d.arrayOpen(p);
            while (more) {
                if (n == 16) revert TcbComponentCount(p - d.base);
                (n, acc, q, st) = fastComponents(d.end, q, n, acc, room1, room3);
                if (st == 1) break;
                if (st == 0) {
                    // a component in another shape (or a 17th one) at `q`
                    q = d.ws(q);
                    if (n == 16) revert TcbComponentCount(p - d.base);
                    uint256 v;
                    (v, q) = component(d, q);
                    acc |= v << (8 * (15 - n));
                    ++n;
                }
                (more, q) = d.next(q, 0x5d);
            }
            if (n != 16) revert TcbComponentCount(p - d.base);
            packed = bytes16(uint128(acc));
        }
    }

    /// @dev A component array of `fastLevel` whose text starts at `q` (after its `[`): its 16 SVNs packed
    ///      and the position after its `]`, or 0 for `q` when it is in another shape. An array that is
    ///      the template's text with other one-digit SVNs is read by comparing the two four words at a time;
    ///      any other is read by `fastComponents`, and becomes the template when its SVNs are one digit
    ///      each. The template (`tpl`: the start of its text, its length, the positions of its SVN digits,
    ///      16 bits each, component 0 first, then a mask per word of text, 0 at those digits and past
    ///      its end) holds an array `fastComponents` read, so both ways read the same arrays to the same
    ///      values.
    function componentArray(uint256 end, uint256 q, uint256 tpl) private pure returns (uint256 acc, uint256 r) {
        assembly ("memory-safe") {
            let a := mload(tpl)
            if a {
                let len := mload(add(tpl, 0x20))
                if iszero(gt(add(q, len), end)) {
                    // the template's text at i, the candidate's at i + dq, the mask at i + dm
                    let dq := sub(q, a)
                    let dm := sub(add(tpl, 0x60), a)
                    let diff := 0
                    for { let i := a } lt(i, add(a, len)) { i := add(i, 0x80) } {
                        let c := add(i, dq)
                        let k := add(i, dm)
                        diff := or(
                            or(
                                or(diff, and(xor(mload(c), mload(i)), mload(k))),
                                and(xor(mload(add(c, 0x20)), mload(add(i, 0x20))), mload(add(k, 0x20)))
                            ),
                            or(
                                and(xor(mload(add(c, 0x40)), mload(add(i, 0x40))), mload(add(k, 0x40))),
                                and(xor(mload(add(c, 0x60)), mload(add(i, 0x60))), mload(add(k, 0x60)))
                            )
                        )
                    }
                    if iszero(diff) {
                        // the 16 bytes at the SVN positions, component 0 first, must all be digits
                        let pos := mload(add(tpl, 0x40))
                        let raw := 0
                        for { let k := 240 } 1 { k := sub(k, 32) } {
                            raw := or(shl(8, raw), byte(0, mload(add(q, and(shr(k, pos), 0xffff)))))
                            raw := or(shl(8, raw), byte(0, mload(add(q, and(shr(sub(k, 16), pos), 0xffff)))))
                            if eq(k, 16) { break }
                        }
                        if and(
                            eq(and(raw, 0xf0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0), 0x30303030303030303030303030303030),
                            iszero(
                                and(
                                    add(and(raw, 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f), 0x06060606060606060606060606060606),
                                    0x10101010101010101010101010101010
                                )
                            )
                        ) {
                            acc := and(raw, 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f)
                            r := add(q, len)
                        }
                    }
                }
            }
        }
        if (r != 0) return (acc, r);
        uint256 n;
        uint256 st;
        (n, acc, r, st) = fastComponents(end, q, 0, 0, true, true);
        if (st != 1 || n != 16) return (0, 0);
        assembly ("memory-safe") {
            // the SVN positions `fastComponents` left at 0 (0 when one is not a single digit)
            let pos := mload(0)
            let len := sub(r, q)
            mstore(tpl, 0)
            if iszero(gt(len, 0x400)) {
                mstore(add(tpl, 0x20), len)
                mstore(add(tpl, 0x40), pos)
                let m := add(tpl, 0x60)
                // whole words of 0xff up to the end of the text, then 0 for the four words after it (the
                // comparison reads four words at a time)
                for { let i := 0 } lt(i, add(len, 0x20)) { i := add(i, 0x20) } { mstore(add(m, i), not(0)) }
                for { let i := len } lt(i, add(len, 0x80)) { i := add(i, 0x20) } { mstore(add(m, i), 0) }
                let one := 1
                for { let k := 0 } lt(k, 256) { k := add(k, 16) } {
                    let x := and(shr(k, pos), 0xffff)
                    if iszero(x) { one := 0 }
                    mstore8(add(m, x), 0)
                }
                // a template only when every SVN is one digit
                if one { mstore(tpl, q) }
            }
        }
    }

    /// @dev Reads, from the component at `q` on, the components in Intel's own compact shapes,
    ///      `{"svn":N}`, `{"svn":N,"category":"…"}` and `{"svn":N,"category":"…","type":"…"}` (N one to
    ///      three plain digits, at most 255; strings without escapes), each followed directly by `,` or
    ///      `]`, while fewer than 16 are read. These are exactly the objects the general reader accepts
    ///      in these shapes, with the same N; anything else stops the run and is left to it. Leaves in
    ///      the scratch word at 0 where the digit of each SVN read is, relative to `q` (16 bits each, the
    ///      first read highest; 0 for an SVN of several digits), for `componentArray`'s template.
    /// @return st 0: stopped at the start of a component (`q`, after the comma); 1: the array closed
    ///         (`q` after `]`); 2: stopped after a component (`q`, before its separator)
    function fastComponents(uint256 end, uint256 q, uint256 n, uint256 acc, bool room1, bool room3)
        private
        pure
        returns (uint256, uint256, uint256, uint256 st)
    {
        assembly ("memory-safe") {
            // `"<name>"` at `s` for Intel's category and type names (closing quote included): the position
            // after it, or 0 for any other string (left to the general reader)
            function known(s) -> r {
                let w := mload(s)
                switch byte(0, w)
                case 0x42 { if eq(shr(216, w), 0x42494f5322) { r := add(s, 5) } } // BIOS"
                case 0x4f { if eq(shr(200, w), 0x4f532f564d4d22) { r := add(s, 7) } } // OS/VMM"
                case 0x45 {
                    // Early Microcode Update"
                    if eq(shr(72, w), 0x4561726c79204d6963726f636f64652055706461746522) { r := add(s, 23) }
                }
                case 0x53 {
                    // SGX Late Microcode Update" / SEAMLDR ACM"
                    if eq(shr(48, w), 0x534758204c617465204d6963726f636f64652055706461746522) { r := add(s, 26) }
                    if eq(shr(160, w), 0x5345414d4c44522041434d22) { r := add(s, 12) }
                }
                case 0x54 {
                    // TXT SINIT" / TDX Module" / TDX Late Microcode Update"
                    if eq(shr(176, w), 0x5458542053494e495422) { r := add(s, 10) }
                    if eq(shr(168, w), 0x544458204d6f64756c6522) { r := add(s, 11) }
                    if eq(shr(48, w), 0x544458204c617465204d6963726f636f64652055706461746522) { r := add(s, 26) }
                }
            }
            // at 0: where each SVN's digit is, relative to `q` (at 0x20; 16 bits each, 0 for an SVN of
            // several digits)
            mstore(0, 0)
            mstore(0x20, q)
            for {} lt(n, 16) {} {
                let w := mload(q)
                // `{"svn":`, a digit and a closing byte
                if iszero(and(lt(add(q, 8), end), eq(shr(200, w), 0x7b2273766e223a))) { break }
                // one to three digits at bytes 7-9 (the first must be one), without a loop
                let v := sub(byte(7, w), 0x30)
                let j := 8
                let x := sub(byte(8, w), 0x30)
                if lt(x, 10) {
                    v := add(mul(v, 10), x)
                    j := 9
                    x := sub(byte(9, w), 0x30)
                    if lt(x, 10) {
                        v := add(mul(v, 10), x)
                        j := 10
                    }
                }
                // no leading zero, at most 255, and the next byte in the text
                if iszero(
                    and(
                        and(lt(sub(byte(7, w), 0x30), 10), lt(add(q, j), end)),
                        and(iszero(gt(v, 255)), iszero(and(gt(j, 8), eq(byte(7, w), 0x30))))
                    )
                ) { break }
                let c := byte(j, w)
                let r := add(add(q, j), 1)
                if eq(c, 0x2c) {
                    if iszero(room3) { break }
                    // `"category":"` and a known name
                    if iszero(eq(shr(160, mload(r)), 0x2263617465676f7279223a22)) { break }
                    r := known(add(r, 12))
                    // the name and the byte after it are in the text
                    if iszero(and(gt(r, 0), lt(r, end))) { break }
                    c := byte(0, mload(r))
                    if eq(c, 0x2c) {
                        // `,"type":"` and a known name
                        if iszero(eq(shr(184, mload(r)), 0x2c2274797065223a22)) { break }
                        r := known(add(r, 9))
                        if iszero(and(gt(r, 0), lt(r, end))) { break }
                        c := byte(0, mload(r))
                    }
                    r := add(r, 1)
                }
                // the closing brace and the byte after it are in the text
                if iszero(and(and(eq(c, 0x7d), room1), lt(r, end))) { break }
                acc := or(acc, shl(shl(3, sub(15, n)), v))
                mstore(0, or(shl(16, mload(0)), mul(eq(j, 8), sub(add(q, 7), mload(0x20)))))
                n := add(n, 1)
                q := r
                st := 2
                c := byte(0, mload(q))
                if eq(c, 0x5d) {
                    q := add(q, 1)
                    st := 1
                    break
                }
                if iszero(eq(c, 0x2c)) { break }
                q := add(q, 1)
                st := 0
            }
        }
        return (n, acc, q, st);
    }

    /// @dev The `n` (≤ 32) bytes at memory position `q`, all before `end`, are `want` (right-aligned).
    function isLiteral(uint256 q, uint256 end, uint256 want, uint256 n) private pure returns (bool r) {
        assembly ("memory-safe") {
            r := and(iszero(gt(add(q, n), end)), eq(shr(sub(256, shl(3, n)), mload(q)), want))
        }
    }

    /// @dev The byte at memory position `q`, or 256 at or after `end`.
    function byteAt(uint256 q, uint256 end) private pure returns (uint256 c) {
        assembly ("memory-safe") {
            c := 256
            if lt(q, end) { c := byte(0, mload(q)) }
        }
    }

    /// @dev A TCB level at `p` in Intel's compact shape, `{"tcb":{"sgxtcbcomponents":[16 components],
    ///      "pcesvn":N[,"tdxtcbcomponents":[16 components]]},"tcbDate":"…","tcbStatus":"…"
    ///      [,"advisoryIDs":["…",…]]}` (no whitespace, the components as `fastComponents` reads them,
    ///      PCESVN plain digits ≤ 65535, strings without escapes, a known status) read into `lv`: the
    ///      position after it, or 0 when the level is in another shape (left to the general reader,
    ///      which reads every level of this shape to the same values). Needs room for the level's keys
    ///      on the key stack, as the general reader does.
    function fastLevel(IntelJson.Doc memory d, uint256 p, Level memory lv, uint256 tpl) private pure returns (uint256) {
        unchecked {
            uint256 end = d.end;
            if (d.top + 10 > IntelJson.KEY_CAP) return 0;
            if (!isLiteral(p, end, 0x7b22746362223a7b22736778746362636f6d706f6e656e7473223a5b, 28)) return 0;
            (uint256 acc, uint256 q) = componentArray(end, p + 28, tpl);
            if (q == 0 || !isLiteral(q, end, 0x2c2270636573766e223a, 10)) return 0;
            lv.sgx = bytes16(uint128(acc));
            uint256 v;
            (v, q) = plainUint(q + 10, end);
            if (q == 0) return 0;
            lv.pceSvn = uint16(v);
            if (isLiteral(q, end, 0x2c22746478746362636f6d706f6e656e7473223a5b, 21)) {
                (acc, q) = componentArray(end, q + 21, tpl + 32 * TPL_WORDS);
                if (q == 0) return 0;
                lv.tdx = bytes16(uint128(acc));
                lv.hasTdx = true;
            }
            if (byteAt(q, end) != 0x7d || !isLiteral(q + 1, end, 0x2c2274636244617465223a22, 12)) return 0;
            uint256 z = IntelJson.plainString(q + 13, end);
            if (z == 0 || !isLiteral(z + 1, end, 0x2c22746362537461747573223a22, 14)) return 0;
            lv.tcbDate = ((q + 13 - d.base) << 128) | (z - q - 13);
            q = z + 15;
            z = IntelJson.plainString(q, end);
            if (z == 0) return 0;
            bool known;
            (known, lv.status) = IntelJson.statusOf(q, z - q);
            if (!known) return 0;
            q = z + 1;
            if (isLiteral(q, end, 0x2c2261647669736f7279494473223a5b, 16)) {
                uint256 a = q + 15;
                q = advisories(a, end);
                if (q == 0) return 0;
                lv.advisories = ((a - d.base) << 128) | (q - a);
            }
            return byteAt(q, end) == 0x7d ? q + 1 : 0;
        }
    }

    /// @dev An `advisoryIDs` array of plain strings whose `[` is at `p`: the position after its `]` (0
    ///      when it is in another shape). `"INTEL-SA-` and five digits `"` are recognised by their bytes,
    ///      any other string is scanned.
    function advisories(uint256 p, uint256 end) private pure returns (uint256 q) {
        unchecked {
            q = p + 1;
            if (byteAt(q, end) == 0x5d) return q + 1;
            while (true) {
                uint256 c;
                assembly ("memory-safe") {
                    for {} 1 {} {
                        c := 0
                        let w := mload(q)
                        let x := shr(128, w)
                        // `"INTEL-SA-`, five digits and `"` (the digits' high nibbles 3, each ≤ 9), and the byte after
                        // them in the text
                        if iszero(
                            and(
                                and(
                                    eq(and(x, 0xfffffffffffffffffffff0f0f0f0f0ff), 0x22494e54454c2d53412d303030303022),
                                    iszero(and(add(and(x, 0x0f0f0f0f0f00), 0x060606060600), 0x101010101000))
                                ),
                                lt(add(q, 16), end)
                            )
                        ) { break }
                        c := byte(16, w)
                        q := add(q, 17)
                        if iszero(eq(c, 0x2c)) { break }
                    }
                }
                if (c == 0) {
                    // another string, or the end of the text
                    if (byteAt(q, end) != 0x22) return 0;
                    q = IntelJson.plainString(q + 1, end);
                    if (q == 0) return 0;
                    c = byteAt(++q, end);
                    ++q;
                }
                if (c == 0x5d) return q;
                if (c != 0x2c) return 0;
            }
        }
    }

    /// @dev Plain digits at `p` (one to five, no leading zero, at most 65535) followed by `,` or `}`:
    ///      their value and where they end (0 when not).
    function plainUint(uint256 p, uint256 end) private pure returns (uint256 v, uint256 q) {
        assembly ("memory-safe") {
            let w := mload(p)
            let j := 0
            for {} lt(j, 6) { j := add(j, 1) } {
                let x := sub(byte(j, w), 0x30)
                if iszero(lt(x, 10)) { break }
                v := add(mul(v, 10), x)
            }
            let c := byte(j, w)
            q := add(p, j)
            if iszero(
                and(
                    and(and(gt(j, 0), lt(j, 6)), lt(q, end)),
                    and(and(iszero(gt(v, 0xffff)), or(eq(c, 0x2c), eq(c, 0x7d))), iszero(and(gt(j, 1), eq(byte(0, w), 0x30))))
                )
            ) { q := 0 }
        }
    }

    /// @dev A `{ "svn": n, ... }` object at `p` in any shape: n and the position after it.
    function component(IntelJson.Doc memory d, uint256 p) private pure returns (uint256 v, uint256 q) {
        unchecked {
            uint256 kb = d.top;
            bool svn;
            bool more;
            (more, q) = d.objectOpen(p);
            while (more) {
                bytes32 k;
                (k, q) = d.key(q, kb);
                if (k == K_SVN) {
                    (v, q) = d.uintValue(q, 255);
                    svn = true;
                } else {
                    q = d.skip(q, 6);
                }
                (more, q) = d.next(q, 0x7d);
            }
            d.top = kb;
            if (!svn) revert IntelJson.JsonMissingKey(p - d.base, 1);
        }
    }

    /// @dev Stable insertion sort, highest first (already-sorted input, Intel's order, costs one
    ///      comparison per level).
    function sortLevels(Level[] memory lv, bool tdx) private pure {
        unchecked {
            for (uint256 i = 1; i < lv.length; ++i) {
                Level memory x = lv[i];
                uint256 j = i;
                while (j > 0 && greater(x, lv[j - 1], tdx)) {
                    lv[j] = lv[j - 1];
                    --j;
                }
                if (j != i) lv[j] = x;
            }
        }
    }

    function greater(Level memory a, Level memory b, bool tdx) private pure returns (bool) {
        if (a.sgx != b.sgx) return a.sgx > b.sgx;
        if (a.pceSvn != b.pceSvn) return a.pceSvn > b.pceSvn;
        return tdx && a.tdx > b.tdx;
    }

    // -----------------------------------------------------------------------------------------
    // evaluation
    // -----------------------------------------------------------------------------------------

    /// @notice The TCB Info is the one for this platform and this kind of quote: same FMSPC and
    ///         PCE-ID as the PCK, TDX TCB Info (v3+) for a TDX quote, SGX TCB Info (v2+) for an SGX one.
    function checkForPlatform(bytes memory s, Info memory info, bytes6 fmspc, bytes2 pceId, bool tdx) internal pure {
        IntelJson.raise(platformError(s, info, fmspc, pceId, tdx));
    }

    /// @notice `checkForPlatform`'s error (`FmspcMismatch`, `PceIdMismatch`, `TcbInfoTeeMismatch`) as revert
    ///         data, or empty when the TCB Info is the platform's.
    function platformError(bytes memory s, Info memory info, bytes6 fmspc, bytes2 pceId, bool tdx)
        internal
        pure
        returns (bytes memory)
    {
        if (info.fmspc != fmspc) return abi.encodeWithSelector(FmspcMismatch.selector);
        if (info.pceId != pceId) return abi.encodeWithSelector(PceIdMismatch.selector);
        if (tdx ? !isTdx(s, info) : !isSgx(s, info)) return abi.encodeWithSelector(TcbInfoTeeMismatch.selector);
        return "";
    }

    /// @notice The index (in the sorted `tcbLevels`) of the first level the platform reaches: PCESVN,
    ///         the 16 CPUSVN components and, for TDX (`tdx`), the TEE TCB SVN components, of which
    ///         0 and 1 are not compared when a TDX module major version is reported
    ///         (`teeTcbSvn[1] > 0`): the module identity grades those.
    function matchPlatformLevel(Info memory info, bytes16 cpuSvn, uint16 pceSvn, bytes16 teeTcbSvn, bool tdx)
        internal
        pure
        returns (uint256 index)
    {
        bytes memory err;
        (index, err) = tryMatchPlatformLevel(info, cpuSvn, pceSvn, teeTcbSvn, tdx);
        IntelJson.raise(err);
    }

    /// @notice `matchPlatformLevel` with its error (`TcbLevelInvalid`, `TcbLevelNotFound`) returned as
    ///         revert data (empty on a match).
    function tryMatchPlatformLevel(Info memory info, bytes16 cpuSvn, uint16 pceSvn, bytes16 teeTcbSvn, bool tdx)
        internal
        pure
        returns (uint256, bytes memory)
    {
        // components 0 and 1 (the top two bytes) dropped from both sides when the module grades them
        bytes16 keep = tdx && uint8(teeTcbSvn[1]) > 0 ? bytes16(uint128(type(uint112).max)) : bytes16(type(uint128).max);
        bytes16 tee = teeTcbSvn & keep;
        Level[] memory lv = info.tcbLevels;
        for (uint256 i; i < lv.length; ++i) {
            Level memory lvl = lv[i];
            if (pceSvn < lvl.pceSvn || !allAtLeast(cpuSvn, lvl.sgx)) continue;
            if (tdx) {
                if (!lvl.hasTdx) return (i, abi.encodeWithSelector(TcbLevelInvalid.selector, i));
                if (!allAtLeast(tee, lvl.tdx & keep)) continue;
            }
            return (i, "");
        }
        return (0, abi.encodeWithSelector(TcbLevelNotFound.selector));
    }

    /// @dev Every byte of `a` is at least the same byte of `b`: with each byte widened to a 16-bit lane
    ///      whose bit 8 is set, `a - b` leaves every lane's bit 8 set exactly when no lane borrowed.
    function allAtLeast(bytes16 a, bytes16 b) private pure returns (bool) {
        uint256 wa = spread(uint128(a)) | 0x0100010001000100010001000100010001000100010001000100010001000100;
        uint256 wb = spread(uint128(b));
        unchecked {
            return ((wa - wb) & 0x0100010001000100010001000100010001000100010001000100010001000100) ==
                0x0100010001000100010001000100010001000100010001000100010001000100;
        }
    }

    /// @dev 16 bytes → 16 lanes of 16 bits (byte i in the low half of lane i).
    function spread(uint256 x) private pure returns (uint256) {
        x = (x | (x << 64)) & 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff;
        x = (x | (x << 32)) & 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff;
        x = (x | (x << 16)) & 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
        x = (x | (x << 8)) & 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
        return x;
    }

    /// @notice The TDX module identity: the SEAM module's MRSIGNER and attributes (under the mask, and
    ///         no bit outside it) must be those of `tdxModule`, or, when a module major version is
    ///         reported and the TCB Info lists module identities, those of identity `TDX_<major>` (hex,
    ///         compared without case), whose levels then grade the module SVN (`teeTcbSvn[0]`).
    /// @return graded whether an identity's levels graded the module; then its status and advisories slice
    function checkTdxModule(bytes memory s, Info memory info, bytes16 teeTcbSvn, bytes memory mrSignerSeam, bytes8 seamAttributes)
        internal
        pure
        returns (bool graded, IntelJson.TcbStatus status, uint256 advisories)
    {
        bytes memory err;
        (graded, status, advisories, err) = tryCheckTdxModule(s, info, teeTcbSvn, mrSignerSeam, seamAttributes);
        IntelJson.raise(err);
    }

    /// @notice `checkTdxModule` with its error (the `TdxModule…` errors) returned as revert data (empty
    ///         when the module passes).
    function tryCheckTdxModule(
        bytes memory s,
        Info memory info,
        bytes16 teeTcbSvn,
        bytes memory mrSignerSeam,
        bytes8 seamAttributes
    ) internal pure returns (bool graded, IntelJson.TcbStatus status, uint256 advisories, bytes memory err) {
        if (!info.hasTdxModule) return (false, status, 0, abi.encodeWithSelector(TdxModuleMissing.selector));
        uint8 major = uint8(teeTcbSvn[1]);
        ModuleIdentity memory m;
        if (major > 0 && info.tdxModuleIdentities.length > 0) {
            bool found;
            (found, m) = findIdentity(s, info.tdxModuleIdentities, major);
            if (!found) return (false, status, 0, abi.encodeWithSelector(TdxModuleIdentityNotFound.selector, major));
            graded = true;
        } else {
            m.mrSigner = info.tdxModuleMrSigner;
            m.attributes = info.tdxModuleAttributes;
            m.attributesMask = info.tdxModuleAttributesMask;
        }
        if (mrSignerSeam.length != 48 || keccak256(mrSignerSeam) != keccak256(m.mrSigner)) {
            return (false, status, 0, abi.encodeWithSelector(TdxModuleMrSignerMismatch.selector));
        }
        if (((m.attributes ^ seamAttributes) & m.attributesMask) != 0 || (seamAttributes & ~m.attributesMask) != 0) {
            return (false, status, 0, abi.encodeWithSelector(TdxModuleAttributesMismatch.selector));
        }
        if (!graded) return (false, IntelJson.TcbStatus.UpToDate, 0, "");
        uint8 svn = uint8(teeTcbSvn[0]);
        IntelJson.EnclaveLevel[] memory lv = m.tcbLevels;
        for (uint256 i; i < lv.length; ++i) {
            if (svn >= lv[i].isvSvn) return (true, lv[i].status, lv[i].advisories, "");
        }
        return (false, status, 0, abi.encodeWithSelector(TdxModuleSvnTooLow.selector, svn));
    }

    function findIdentity(bytes memory s, ModuleIdentity[] memory ids, uint8 major)
        private
        pure
        returns (bool, ModuleIdentity memory m)
    {
        // "TDX_" and two upper-case hex digits
        uint256 hi = major >> 4;
        uint256 lo = major & 15;
        uint256 want = (uint256(uint32(bytes4("TDX_"))) << 16) | ((hi < 10 ? 48 + hi : 55 + hi) << 8) |
            (lo < 10 ? 48 + lo : 55 + lo);
        for (uint256 i; i < ids.length; ++i) {
            uint256 sl = ids[i].id;
            if (uint128(sl) != 6) continue;
            uint256 got;
            assembly ("memory-safe") {
                got := shr(208, mload(add(add(s, 32), shr(128, sl))))
            }
            // ASCII upper case: clear bit 5 of each letter
            uint256 up;
            for (uint256 j; j < 6; ++j) {
                uint256 c = (got >> (8 * (5 - j))) & 0xff;
                if (c >= 0x61 && c <= 0x7a) c -= 32;
                up = (up << 8) | c;
            }
            if (up == want) return (true, ids[i]);
        }
        return (false, m);
    }
}
