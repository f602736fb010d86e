// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IKmsRegistry} from "../IKmsRegistry.sol";
import {KmsRegistry} from "../KmsRegistry.sol";
import {LowerHex} from "../lib/LowerHex.sol";
import {Secp256k1} from "../lib/Secp256k1.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @dev The few Hardhat/EDR cheatcodes these tests use (forge-std is not installed; EDR has no
///      `createWallet`, so public keys come from a fixed table of keys made with noble-curves).
interface Vm {
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
    function assume(bool condition) external pure;
    function roll(uint256 blockNumber) external;
    function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
}

/// @dev Exposes the libraries' calldata functions.
contract LibHarness {
    function decompress(uint256 prefix, uint256 x) external view returns (bool ok, uint256 y) {
        return Secp256k1.decompress(prefix, x);
    }

    function addressOf(bytes calldata pubkey) external view returns (address) {
        return Secp256k1.addressOf(pubkey);
    }

    function toHex(bytes calldata data) external pure returns (bytes memory out) {
        out = new bytes(2 * data.length + 32); // room for the writer's overrun
        uint256 dest;
        assembly ("memory-safe") {
            dest := add(out, 0x20)
        }
        LowerHex.writeHex(dest, data);
        assembly ("memory-safe") {
            mstore(out, shl(1, data.length))
        }
    }
}

contract KmsRegistryFuzzTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    LibHarness internal lib;
    KmsRegistry internal registry;

    uint256[] internal privateKeys;
    bytes[] internal publicKeys;

    function setUp() public {
        lib = new LibHarness();
        registry = new KmsRegistry(address(this), address(0));
        // privateKey_i = keccak256("kms-registry-fuzz-key-" + i), compressed public keys by noble-curves
        _add(0xb2355c82a026578ce0334fde7ba34688d007c6603cd72d9c9f1196972cc13c4c, hex"03cf9da3b51a51cdc182eb0fb131d3c6afd06aea64071f94a14eca04df0bb7f500");
        _add(0x577ef2093530b6aee5f3ef6c0b15ae6e73e498a5b09aaf87db12a2f7fb17f15c, hex"0381824f48e2c59204578baf3f97d0ddf5a9d60475a3fade13d6120ac4b0a6e36b");
        _add(0xd184140af92845f69e5feab4e09e20b49215e3a369328bdd316c6e2392da2840, hex"03dc6bd2677ccb6fd580ab79d8a9bd32c5d88e996f8495e189f9e85049a47a7a50");
        _add(0x078b24ac5fea115ff06890699f369aa59f8923b83978c01f73dd4291890ee9a9, hex"025741cad56e47de1d2b5c93c67776e47b05ef63725f166b5535fc0c4b639b81e5");
        _add(0xecb295546c3a8be35c15855f00d6a32471daf2cb85ee63e29d81849227c8fb09, hex"021ef89b873637c842c36c7cb394234647a07f430ea59348ef154b48df346ee053");
        _add(0x3e340e6522c086ddcc7688c054c9ee52a0861b0d7c68c7a6a55b6f5147d7f2b1, hex"030afebf169f6b12aed1d6008ecd7c4f11c17cb84b751dad59fa52b83461f6d63a");
        _add(0x75e221a29ba62ebe4fe9381e381922c081ea425291a00a40c39fa844c044f93a, hex"0291823ed4aba16de320f5ec3e2a0d6764adc3f5ff29ee40493fc0f335a0d128c9");
        _add(0x5241daab730e4ca0a212e20ba7fec7ef2841d7f273a1ede1f915c9ff41b76607, hex"026c6c5cad65939edd2be8be5ca7b457f330294f909eab578ac0ec326617e5683d");
    }

    function _add(uint256 pk, bytes memory pub) internal {
        privateKeys.push(pk);
        publicKeys.push(pub);
    }

    // ───────────────────────────── helpers ─────────────────────────────

    function _key(uint256 seed) internal view returns (uint256 pk, bytes memory pub) {
        uint256 i = seed % privateKeys.length;
        return (privateKeys[i], publicKeys[i]);
    }

    /// @dev Reference lower-case hex: one byte at a time through a lookup string.
    function _refHex(bytes memory data) internal pure returns (string memory) {
        bytes memory alphabet = "0123456789abcdef";
        bytes memory out = new bytes(2 * data.length);
        for (uint256 i = 0; i < data.length; i++) {
            out[2 * i] = alphabet[uint8(data[i]) >> 4];
            out[2 * i + 1] = alphabet[uint8(data[i]) & 15];
        }
        return string(out);
    }

    /// @dev Square-and-multiply, independent of the modexp precompile.
    function _powmod(uint256 b, uint256 e) internal pure returns (uint256 r) {
        r = 1;
        b %= P;
        while (e != 0) {
            if (e & 1 == 1) r = mulmod(r, b, P);
            b = mulmod(b, b, P);
            e >>= 1;
        }
    }

    function _sig(uint256 pk, bytes32 digest, bool raw) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, raw ? v - 27 : v);
    }

    /// @dev A minimal TDX v4 quote (header + TD10 body) carrying `reportData`.
    function _quote(bytes32 reportData) internal pure returns (bytes memory q) {
        q = new bytes(632);
        q[0] = 0x04;
        q[2] = 0x02;
        q[4] = 0x81;
        for (uint256 i = 0; i < 32; i++) {
            q[568 + i] = reportData[i];
        }
    }

    function _referenceBinding(bytes memory ca, bytes memory k) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                "dstack-kms-genereted-keys-v1:", _refHex(ca), ";", _refHex(k), ";"
            )
        );
    }

    /// @dev Registers table key `seed % 8` (once) and returns (private key, KMS address).
    function _registerKey(uint256 seed) internal returns (uint256 pk, address kms) {
        bytes memory k;
        (pk, k) = _key(seed);
        kms = vm.addr(pk);
        if (registry.isRegistered(kms)) return (pk, kms);
        bytes memory ca = abi.encodePacked(
            hex"3059301306072a8648ce3d020106082a8648ce3d03010703420004", keccak256(abi.encode(pk)), keccak256(abi.encode(pk, 1))
        );
        require(registry.register(ca, k, _quote(_referenceBinding(ca, k))) == kms, "register returned the wrong address");
    }

    // ───────────────────────────── decompression ─────────────────────────────

    /// @dev Independent oracle: ecrecover(0, 27 + parity, r = x, s = x) = x⁻¹·(x·R − 0·G) = R, the curve point
    ///      with x-coordinate x and that y parity — i.e. the precompile decompresses for us (for x < n).
    function testFuzz_DecompressMatchesEcrecover(uint256 x, bool odd) public view {
        vm.assume(x != 0 && x < N);
        uint256 prefix = odd ? 3 : 2;
        (bool ok, uint256 y) = lib.decompress(prefix, x);
        address viaPrecompile = ecrecover(bytes32(0), odd ? 28 : 27, bytes32(x), bytes32(x));
        require(ok == (viaPrecompile != address(0)), "decompress and ecrecover disagree on validity");
        if (ok) {
            require(y & 1 == (odd ? 1 : 0), "parity");
            require(lib.addressOf(abi.encodePacked(uint8(prefix), x)) == viaPrecompile, "address differs from ecrecover's");
            require(lib.addressOf(abi.encodePacked(uint8(4), x, y)) == viaPrecompile, "uncompressed address differs");
        }
    }

    function testFuzz_TableKeysMatchVmAddr(uint256 seed) public view {
        (uint256 pk, bytes memory pub) = _key(seed);
        require(lib.addressOf(pub) == vm.addr(pk), "compressed key address != vm.addr");
        require(registry.kmsAddress(pub) == vm.addr(pk), "kmsAddress != vm.addr");
    }

    function testFuzz_DecompressRejectsInvalidX(uint256 x) public view {
        (bool ok, uint256 y) = lib.decompress(2, x);
        if (x >= P) {
            require(!ok, "x >= p accepted");
            return;
        }
        uint256 rhs = addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
        // Euler's criterion: rhs is a non-zero square iff rhs^((p-1)/2) == 1
        bool isSquare = _powmod(rhs, (P - 1) / 2) == 1;
        require(ok == isSquare, "decompress disagrees with Euler's criterion");
        if (ok) {
            require(mulmod(y, y, P) == rhs && y & 1 == 0, "bad root");
        } else {
            require(lib.addressOf(abi.encodePacked(uint8(2), x)) == address(0), "off-curve key got an address");
        }
    }

    function testFuzz_BadPrefixAndUncompressedOffCurve(uint8 prefix, uint256 x, uint256 y) public view {
        vm.assume(prefix != 2 && prefix != 3);
        (bool ok,) = lib.decompress(prefix, x);
        require(!ok, "bad prefix accepted");
        bool onCurve = x < P && y < P && mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
        address a = lib.addressOf(abi.encodePacked(uint8(4), x, y));
        require((a != address(0)) == onCurve, "uncompressed on-curve check");
    }

    // ───────────────────────────── hex encoding ─────────────────────────────

    function testFuzz_HexMatchesReference(bytes calldata data) public view {
        require(keccak256(lib.toHex(data)) == keccak256(bytes(_refHex(data))), "hex differs");
    }

    /// @dev Second, independent oracle: OpenZeppelin's byte-at-a-time `Strings.toHexString(bytes)` (what
    ///      LowerHex replaces for gas; it adds the "0x" prefix).
    function testFuzz_HexMatchesOpenZeppelin(bytes calldata data) public view {
        require(
            keccak256(abi.encodePacked("0x", lib.toHex(data))) == keccak256(bytes(Strings.toHexString(data))),
            "hex differs from OpenZeppelin Strings"
        );
    }

    function test_HexAllByteValues() public view {
        bytes memory all = new bytes(256);
        for (uint256 i = 0; i < 256; i++) {
            all[i] = bytes1(uint8(i));
        }
        require(keccak256(lib.toHex(all)) == keccak256(bytes(_refHex(all))), "hex differs");
    }

    function testFuzz_ReportDataHashMatchesReference(bytes calldata ca, bytes calldata k) public view {
        require(registry.reportDataHash(ca, k) == _referenceBinding(ca, k), "binding hash differs");
    }

    function test_ReportDataHashNearVector() public view {
        bytes memory ca =
            hex"3059301306072a8648ce3d020106082a8648ce3d03010703420004228f800590a10442cba9d0e6adb2fa9f195eea9e75e23dd35990d52b59dda2415a63674c38adebde4ffd4d4b265bf818985933820c8053cee3ce29b5fb0fbcbc";
        bytes memory k = hex"022829d063e6a13dd83f5c8896d0cc680e5a1d32221bda219982dcfe47be3fde6e";
        require(
            registry.reportDataHash(ca, k) == 0x30dd5d40583a4cdbf151238925fd1fbca449528a757423a5534a1dab9f1d6429,
            "NEAR vector"
        );
    }

    // ───────────────────────────── quote parsing ─────────────────────────────

    /// @dev Random bytes (with a plausible header half the time): quoteFields either succeeds on a well-formed
    ///      TDX v4/v5 layout or reverts with one of the quote errors — never with anything else.
    function testFuzz_QuoteFieldsOnJunk(bytes memory q, bool plausible, uint8 bodyType) public view {
        if (plausible && q.length >= 54) {
            q[0] = bytes1(uint8(4 + (bodyType & 1)));
            q[1] = 0;
            q[4] = 0x81;
            q[5] = 0;
            q[6] = 0;
            q[7] = 0;
            q[48] = bytes1(bodyType % 4);
            q[49] = 0;
        }
        try registry.quoteFields(q) returns (bytes32, bytes32, bytes32) {
            uint256 version = uint8(q[0]) | (uint256(uint8(q[1])) << 8);
            require(version == 4 || version == 5, "accepted a version other than 4/5");
            require(uint8(q[4]) == 0x81 && q[5] == 0 && q[6] == 0 && q[7] == 0, "accepted a non-TDX quote");
            require(q.length >= (version == 4 ? 632 : 638), "accepted a truncated quote");
        } catch (bytes memory err) {
            bytes4 sel = bytes4(err);
            require(
                sel == IKmsRegistry.QuoteTooShort.selector || sel == IKmsRegistry.UnsupportedQuoteVersion.selector
                    || sel == IKmsRegistry.UnsupportedTeeType.selector
                    || sel == IKmsRegistry.UnsupportedQuoteBodyType.selector
                    || sel == IKmsRegistry.QuoteBodySizeMismatch.selector,
                "unexpected revert"
            );
        }
    }

    /// @dev Fills q[from : from + len] with bytes derived from `seed`.
    function _fill(bytes memory q, uint256 from, uint256 len, bytes32 seed) internal pure {
        for (uint256 i = 0; i < len; i++) {
            q[from + i] = keccak256(abi.encode(seed, i / 32))[i % 32];
        }
    }

    /// @dev A TDX quote of the given layout (0: v4 TD10, 1: v5 TD10, 2: v5 TD15) with a random body,
    ///      `reportData` at body + 520 and `tail` bytes of signature data after the body.
    function _layoutQuote(uint256 kind, bytes32 seed, bytes memory reportData, uint256 tail)
        internal
        pure
        returns (bytes memory q, uint256 body)
    {
        body = kind == 0 ? 48 : 54;
        uint256 bodySize = kind == 2 ? 648 : 584;
        q = new bytes(body + bodySize + tail);
        _fill(q, 0, q.length, seed);
        q[0] = kind == 0 ? bytes1(0x04) : bytes1(0x05);
        q[1] = 0;
        q[4] = 0x81;
        q[5] = 0;
        q[6] = 0;
        q[7] = 0;
        if (kind != 0) {
            q[48] = kind == 2 ? bytes1(0x03) : bytes1(0x02);
            q[49] = 0;
            q[50] = bytes1(uint8(bodySize));
            q[51] = bytes1(uint8(bodySize >> 8));
            q[52] = 0;
            q[53] = 0;
        }
        for (uint256 i = 0; i < 64; i++) {
            q[body + 520 + i] = reportData[i];
        }
    }

    /// @dev report_data and the image measurement are read at the right offsets for every layout, whatever
    ///      the other body fields and the trailing signature data hold.
    function testFuzz_QuoteFieldsLayouts(uint8 kind, bytes32 seed, bytes32 high, bytes32 low, uint16 tail) public view {
        (bytes memory q, uint256 body) = _layoutQuote(kind % 3, seed, abi.encodePacked(high, low), tail % 1024);
        (bytes32 h, bytes32 l, bytes32 image) = registry.quoteFields(q);
        require(h == high && l == low, "report_data read at the wrong offset");
        bytes memory measured = new bytes(192);
        for (uint256 i = 0; i < 48; i++) {
            measured[i] = q[body + 136 + i]; // mr_td
        }
        for (uint256 i = 0; i < 144; i++) {
            measured[48 + i] = q[body + 328 + i]; // rtmr0, rtmr1, rtmr2
        }
        require(image == keccak256(measured), "image measurement differs");
        // rtmr3 (body 472..520) and mr_config_id (184..232) are not part of the image
        q[body + 472] = ~q[body + 472];
        q[body + 200] = ~q[body + 200];
        (,, bytes32 image2) = registry.quoteFields(q);
        require(image2 == image, "rtmr3 / mr_config_id changed the image");
        q[body + 471] = ~q[body + 471]; // last byte of rtmr2
        (,, bytes32 image3) = registry.quoteFields(q);
        require(image3 != image, "rtmr2 not part of the image");
    }

    /// @dev register accepts each layout bound to the keys and stores its hashes; one flipped report_data byte
    ///      (anywhere in the 64) is refused with ReportDataMismatch.
    function testFuzz_RegisterLayouts(uint8 kind, bytes32 seed, uint256 keySeed, uint8 flip) public {
        (uint256 pk, bytes memory k) = _key(keySeed);
        bytes memory ca = abi.encodePacked(hex"3059301306072a8648ce3d020106082a8648ce3d03010703420004", seed, keccak256(abi.encode(seed)));
        bytes memory rd = abi.encodePacked(_referenceBinding(ca, k), bytes32(0));
        (bytes memory q,) = _layoutQuote(kind % 3, seed, rd, 64);
        (,, bytes32 image) = registry.quoteFields(q);

        bytes memory bad = abi.encodePacked(q);
        uint256 pos = (kind % 3 == 0 ? 48 : 54) + 520 + (flip % 64);
        bad[pos] = bad[pos] ^ 0x01;
        try registry.register(ca, k, bad) {
            revert("tampered report_data accepted");
        } catch (bytes memory err) {
            require(bytes4(err) == IKmsRegistry.ReportDataMismatch.selector, "expected ReportDataMismatch");
        }

        address kms = vm.addr(pk);
        IKmsRegistry.KmsRecord memory before = registry.kmsInfo(kms);
        if (before.attestedAt != 0 && before.caKeyHash != keccak256(ca)) {
            try registry.register(ca, k, q) {
                revert("other CA key accepted");
            } catch (bytes memory err) {
                require(bytes4(err) == IKmsRegistry.CaKeyMismatch.selector, "expected CaKeyMismatch");
            }
            return;
        }
        require(registry.register(ca, k, q) == kms, "register returned the wrong address");
        IKmsRegistry.KmsRecord memory r = registry.kmsInfo(kms);
        require(r.caKeyHash == keccak256(ca) && r.quoteHash == keccak256(q) && r.imageMeasurement == image, "record");
        require(r.registrar == address(this) && r.attestedAt == block.timestamp && !r.revoked, "record meta");
    }

    // ───────────────────────────── signature checks ─────────────────────────────

    function testFuzz_VerifySignature(uint256 seed, bytes32 digest, uint256 otherSeed) public {
        (uint256 pk, address kms) = _registerKey(seed);
        (uint256 other,) = _key(otherSeed);
        vm.assume(pk != other);

        bytes memory raw = _sig(pk, digest, true);
        require(registry.verifySignature(kms, digest, raw), "v in {0,1} rejected");
        require(registry.verifySignature(kms, digest, _sig(pk, digest, false)), "v in {27,28} rejected");
        require(!registry.verifySignature(kms, digest, _sig(other, digest, true)), "other signer accepted");

        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        // high-s twin of a valid signature: same signer mathematically, refused
        bytes memory highS = abi.encodePacked(r, bytes32(N - uint256(s)), v == 27 ? uint8(1) : uint8(0));
        require(!registry.verifySignature(kms, digest, highS), "high-s accepted");
        bytes memory wrongV = abi.encodePacked(r, s, v == 27 ? uint8(1) : uint8(0));
        require(!registry.verifySignature(kms, digest, wrongV), "wrong v accepted");
        require(!registry.verifySignature(address(uint160(kms) ^ 1), digest, raw), "unregistered kms accepted");

        registry.revoke(kms, "fuzz");
        require(!registry.verifySignature(kms, digest, raw), "revoked kms accepted");
    }

    /// @dev One byte of a valid signature set to anything: verifySignature agrees with a reference built on
    ///      the bare ecrecover precompile (v ∈ {0,1,27,28}, s ≤ n/2), and an untouched byte still verifies.
    function testFuzz_SignatureByteMutation(uint256 seed, bytes32 digest, uint8 pos, uint8 value) public {
        (uint256 pk, address kms) = _registerKey(seed);
        bytes memory sig = _sig(pk, digest, true);
        sig[pos % 65] = bytes1(value);
        bytes32 r;
        bytes32 s;
        assembly ("memory-safe") {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
        }
        uint8 v = uint8(sig[64]);
        if (v < 2) v += 27;
        bool expected = (v == 27 || v == 28) && uint256(s) <= N / 2 && ecrecover(digest, v, r, s) == kms;
        require(registry.verifySignature(kms, digest, sig) == expected, "verifySignature disagrees with the reference");
    }

    function testFuzz_VerifyNeverReverts(bytes memory signature, bytes32 digest, bytes memory appPubkey) public {
        (, address kms) = _registerKey(0);
        // any bytes: the views answer false / zero, they do not revert
        require(!registry.verifySignature(kms, digest, signature) || signature.length == 65, "non-65-byte signature accepted");
        registry.verifyAppKey(kms, address(0x1234), appPubkey, signature);
        registry.verifyEnvEncryptPubkey(kms, address(0x1234), digest, 1, signature);
        _keyChainNeverReverts(kms, signature, appPubkey);
    }

    function _keyChainNeverReverts(address kms, bytes memory signature, bytes memory appPubkey) internal view {
        address d = registry.verifyKeyChain(kms, address(0x1234), "p", appPubkey, signature, appPubkey, signature);
        require(d == address(0) || appPubkey.length == 33, "key chain with a bad app key");
    }

    function testFuzz_VerifyAppKeyAndKeyChain(uint256 seed, uint256 appSeed, uint256 derivedSeed, address appId) public {
        (uint256 pk, address kms) = _registerKey(seed);
        (uint256 appPk, bytes memory appPub) = _key(appSeed);
        (uint256 derivedPk, bytes memory derivedPub) = _key(derivedSeed);

        bytes memory appSig = _sig(pk, keccak256(abi.encodePacked("dstack-kms-issued:", appId, appPub)), true);
        require(registry.verifyAppKey(kms, appId, appPub, appSig), "app key rejected");
        require(!registry.verifyAppKey(kms, address(uint160(appId) ^ 1), appPub, appSig), "other app id accepted");

        bytes32 dDigest = keccak256(abi.encodePacked("signing:", _refHex(derivedPub)));
        bytes memory dSig = _sig(appPk, dDigest, true);
        require(
            registry.verifyKeyChain(kms, appId, "signing", derivedPub, dSig, appPub, appSig) == vm.addr(derivedPk),
            "chain rejected"
        );
        require(
            registry.verifyKeyChain(kms, appId, "signin", derivedPub, dSig, appPub, appSig) == address(0),
            "other purpose accepted"
        );
        if (appPk != pk) {
            // a derived-key signature by the KMS instead of the app key
            require(
                registry.verifyKeyChain(kms, appId, "signing", derivedPub, _sig(pk, dDigest, true), appPub, appSig)
                    == address(0),
                "wrong signer for D accepted"
            );
        }
    }

    function testFuzz_EnvEncryptPubkey(uint256 seed, address appId, bytes32 x25519, uint64 ts) public {
        (uint256 pk, address kms) = _registerKey(seed);
        bytes memory sig = _sig(pk, keccak256(abi.encodePacked("dstack-env-encrypt-pubkey:", appId, ts, x25519)), true);
        require(registry.verifyEnvEncryptPubkey(kms, appId, x25519, ts, sig), "env key rejected");
        require(!registry.verifyEnvEncryptPubkey(kms, appId, x25519, ts ^ 1, sig), "other timestamp accepted");
        // the legacy message B (no timestamp) is a different message
        bytes memory legacy = _sig(pk, keccak256(abi.encodePacked("dstack-env-encrypt-pubkey:", appId, x25519)), true);
        require(!registry.verifyEnvEncryptPubkey(kms, appId, x25519, ts, legacy), "legacy message accepted as v1");
    }

    // ───────────────────────────── liveness epochs ─────────────────────────────

    /// @dev The liveness challenge computed here: the anchor is the hash of the block before the epoch.
    function _livenessChallenge(address kms, uint256 n, uint256 epoch) internal view returns (bytes20) {
        bytes32 anchor = blockhash(epoch == 0 ? 0 : epoch * 128 - 1);
        return bytes20(keccak256(abi.encode(block.chainid, address(registry), kms, n, epoch, anchor)));
    }

    /// @dev `livenessChallengeAt(kms, epoch)`, or the selector it reverted with (appId 0).
    function _challengeAt(address kms, uint256 epoch) internal view returns (bytes4 err, bytes20 appId) {
        try registry.livenessChallengeAt(kms, epoch) returns (bytes20 c) {
            return (bytes4(0), c);
        } catch (bytes memory data) {
            return (bytes4(data), bytes20(0));
        }
    }

    /// @dev A block number in epoch ≥ 2 at its first, second, last or a random position.
    function _epochBlock(uint32 epochSeed, uint8 position) internal pure returns (uint256) {
        uint256 start = (uint256(epochSeed) + 2) * 128;
        if (position % 4 == 0) return start;
        if (position % 4 == 1) return start + 1;
        if (position % 4 == 2) return start + 127;
        return start + (position % 128);
    }

    /// @dev At any block, exactly the current and the previous epoch have a challenge (the formula's);
    ///      later epochs are in the future, earlier ones too old.
    function testFuzz_LivenessEpochWindow(uint32 epochSeed, uint8 position, uint8 distance, uint256 keySeed) public {
        (, address kms) = _registerKey(keySeed);
        vm.roll(_epochBlock(epochSeed, position));
        uint256 current = block.number / 128;
        require(registry.LIVENESS_EPOCH_BLOCKS() == 128, "epoch length");
        require(registry.livenessEpoch() == current, "livenessEpoch");
        (bytes4 err, bytes20 c) = _challengeAt(kms, current);
        require(err == 0 && c == _livenessChallenge(kms, 0, current), "current epoch");
        require(registry.livenessChallenge(kms) == c, "livenessChallenge is not the current epoch's");
        (err, c) = _challengeAt(kms, current - 1);
        require(err == 0 && c == _livenessChallenge(kms, 0, current - 1), "previous epoch");
        (err,) = _challengeAt(kms, current + 1 + distance);
        require(err == IKmsRegistry.LivenessEpochInFuture.selector, "future epoch accepted");
        (err,) = _challengeAt(kms, type(uint256).max - distance);
        require(err == IKmsRegistry.LivenessEpochInFuture.selector, "far future epoch accepted");
        if (current >= 2 + uint256(distance)) {
            (err,) = _challengeAt(kms, current - 2 - distance);
            require(err == IKmsRegistry.LivenessEpochTooOld.selector, "old epoch accepted");
        }
    }

    /// @dev The challenge follows the anchor block's hash and no other block's.
    function testFuzz_LivenessChallengeDependsOnAnchorHash(bytes32 h1, bytes32 h2, bytes32 other) public {
        vm.assume(h1 != 0 && h2 != 0 && h1 != h2);
        (, address kms) = _registerKey(0);
        vm.roll(1000); // epoch 7 = blocks 896..1023, anchored on block 895
        vm.setBlockhash(895, h1);
        bytes20 c1 = registry.livenessChallenge(kms);
        require(c1 == bytes20(keccak256(abi.encode(block.chainid, address(registry), kms, uint256(0), uint256(7), h1))), "formula");
        vm.setBlockhash(895, h2);
        bytes20 c2 = registry.livenessChallenge(kms);
        require(c2 != c1, "challenge does not depend on the anchor hash");
        vm.setBlockhash(896, other);
        vm.setBlockhash(999, other);
        require(registry.livenessChallenge(kms) == c2, "challenge depends on a block other than the anchor");
    }

    /// @dev A chain that returns no hash for the anchor block gets a named error, not a zero-anchored challenge.
    function test_LivenessAnchorUnavailable() public {
        (uint256 pk, address kms) = _registerKey(0);
        vm.roll(1000);
        vm.setBlockhash(895, 0);
        try registry.livenessChallenge(kms) {
            revert("challenge with an unavailable anchor");
        } catch (bytes memory data) {
            require(keccak256(data) == keccak256(abi.encodeWithSelector(IKmsRegistry.LivenessAnchorUnavailable.selector, 7, 895)), "error");
        }
        (bytes4 err,) = _challengeAt(kms, 7);
        require(err == IKmsRegistry.LivenessAnchorUnavailable.selector, "livenessChallengeAt");
        bytes20 zeroAnchored = bytes20(keccak256(abi.encode(block.chainid, address(registry), kms, uint256(0), uint256(7), bytes32(0))));
        uint64 ts = uint64(block.timestamp);
        bytes32 x25519 = keccak256("x25519");
        bytes memory sig = _sig(pk, keccak256(abi.encodePacked("dstack-env-encrypt-pubkey:", zeroAnchored, ts, x25519)), true);
        try registry.proveLiveness(kms, 7, x25519, ts, sig) {
            revert("proof with an unavailable anchor");
        } catch (bytes memory data) {
            require(bytes4(data) == IKmsRegistry.LivenessAnchorUnavailable.selector, "proveLiveness");
        }
        // the previous epoch's anchor is still there
        (err,) = _challengeAt(kms, 6);
        require(err == 0, "previous epoch");
    }

    /// @dev A proof lands for the current or previous epoch and bumps the nonce by exactly one; for any other
    ///      epoch it is refused and the nonce stays.
    function testFuzz_ProveLivenessEpochs(uint32 epochSeed, uint8 position, uint8 back, uint256 keySeed) public {
        (uint256 pk, address kms) = _registerKey(keySeed);
        uint256 n = registry.nonce(kms);
        vm.roll(_epochBlock(epochSeed, position));
        uint256 current = block.number / 128;
        uint256 epoch = current + 1 - (back % 4); // current + 1, current, current - 1, current - 2
        uint64 ts = uint64(block.timestamp);
        bytes32 x25519 = keccak256(abi.encode(keySeed));
        bytes memory sig = _sig(pk, keccak256(abi.encodePacked("dstack-env-encrypt-pubkey:", _livenessChallenge(kms, n, epoch), ts, x25519)), true);
        bool accepted = epoch == current || epoch + 1 == current;
        try registry.proveLiveness(kms, epoch, x25519, ts, sig) {
            require(accepted, "proof for an epoch outside the window accepted");
            require(registry.nonce(kms) == n + 1, "nonce not bumped by one");
        } catch (bytes memory data) {
            require(!accepted, "proof for the current or previous epoch refused");
            bytes4 want = epoch > current ? IKmsRegistry.LivenessEpochInFuture.selector : IKmsRegistry.LivenessEpochTooOld.selector;
            require(bytes4(data) == want, "wrong error");
            require(registry.nonce(kms) == n, "nonce moved on a refused proof");
        }
    }
}
