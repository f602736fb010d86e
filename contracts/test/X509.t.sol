// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Crl} from "../dcap/Crl.sol";
import {Der} from "../dcap/Der.sol";
import {X509} from "../dcap/X509.sol";
import {BoundsHarness} from "./BoundsHarness.sol";
import {X509Harness} from "./X509Harness.sol";

/// @dev Fuzz tests of the DER, X.509 and CRL readers: on random bytes and on random mutations and
///      truncations of a real Intel PCK certificate and the real Intel root CA CRL, every reader either
///      returns or reverts with one of the readers' own errors, never a panic or an empty revert.
contract X509FuzzTest {
    X509Harness internal h;
    BoundsHarness internal b;

    /// @dev The PCK leaf certificate of the real TDX quote (test/fixtures/dcap/tdx_quote).
    bytes internal constant PCK_LEAF =
        hex"308204f130820496a00302010202143c16ed54eacbb4ced072be72630c85788cf46e36300a06082a8648ce3d040302307031"
        hex"22302006035504030c19496e74656c205347582050434b20506c6174666f726d204341311a3018060355040a0c11496e7465"
        hex"6c20436f72706f726174696f6e3114301206035504070c0b53616e746120436c617261310b300906035504080c024341310b"
        hex"3009060355040613025553301e170d3235303230363233323535315a170d3332303230363233323535315a30703122302006"
        hex"035504030c19496e74656c205347582050434b204365727469666963617465311a3018060355040a0c11496e74656c20436f"
        hex"72706f726174696f6e3114301206035504070c0b53616e746120436c617261310b300906035504080c024341310b30090603"
        hex"550406130255533059301306072a8648ce3d020106082a8648ce3d030107034200041720fa04edef8680bfb748fd965af93d"
        hex"61a417a8f1f29910e8b88b3666dfff6d2b2660f3288f203356f90253a7f6f76616e24212c22cfcc3e66d681f971c9769a382"
        hex"030c30820308301f0603551d23041830168014956f5dcdbd1be1e94049c9d4f433ce01570bde54306b0603551d1f04643062"
        hex"3060a05ea05c865a68747470733a2f2f6170692e7472757374656473657276696365732e696e74656c2e636f6d2f7367782f"
        hex"63657274696669636174696f6e2f76342f70636b63726c3f63613d706c6174666f726d26656e636f64696e673d646572301d"
        hex"0603551d0e04160414abb69a0c1e8a557559e916c02b4b19af8044fbd9300e0603551d0f0101ff0404030206c0300c060355"
        hex"1d130101ff040230003082023906092a864886f84d010d010482022a30820226301e060a2a864886f84d010d01010410811d"
        hex"ca2a26b952e85bb6448b097ba4fd30820163060a2a864886f84d010d0102308201533010060b2a864886f84d010d01020102"
        hex"01033010060b2a864886f84d010d0102020201033010060b2a864886f84d010d0102030201023010060b2a864886f84d010d"
        hex"0102040201023010060b2a864886f84d010d0102050201043010060b2a864886f84d010d0102060201013010060b2a864886"
        hex"f84d010d0102070201003010060b2a864886f84d010d0102080201053010060b2a864886f84d010d0102090201003010060b"
        hex"2a864886f84d010d01020a0201003010060b2a864886f84d010d01020b0201003010060b2a864886f84d010d01020c020100"
        hex"3010060b2a864886f84d010d01020d0201003010060b2a864886f84d010d01020e0201003010060b2a864886f84d010d0102"
        hex"0f0201003010060b2a864886f84d010d0102100201003010060b2a864886f84d010d01021102010b301f060b2a864886f84d"
        hex"010d0102120410030302020401000500000000000000003010060a2a864886f84d010d0103040200003014060a2a864886f8"
        hex"4d010d01040406b0c06f000000300f060a2a864886f84d010d01050a0101301e060a2a864886f84d010d0106041007828474"
        hex"603e7019dc930775ffe8cdd23044060a2a864886f84d010d010730363010060b2a864886f84d010d0107010101ff3010060b"
        hex"2a864886f84d010d0107020101ff3010060b2a864886f84d010d0107030101ff300a06082a8648ce3d040302034900304602"
        hex"2100c93bd84d51d4b83454cdd50927fb670c706b5eb9bd4036f42fde5bee4a91f56702210092c287d922000a0e5b36bf25aa"
        hex"068a783b537bd7af6e93b0ce7a9aa604c1d155";

    /// @dev The real Intel SGX Root CA CRL of its collateral (root_ca_crl).
    bytes internal constant ROOT_CRL =
        hex"308201203081c8020101300a06082a8648ce3d0403023068311a301806035504030c11496e74656c2053475820526f6f7420"
        hex"4341311a3018060355040a0c11496e74656c20436f72706f726174696f6e3114301206035504070c0b53616e746120436c61"
        hex"7261310b300906035504080c024341310b3009060355040613025553170d3235303332303131323135375a170d3236303430"
        hex"333131323135375aa02f302d300a0603551d140403020101301f0603551d2304183016801422650cd65a9d3489f383b49552"
        hex"bf501b392706ac300a06082a8648ce3d0403020347003044022030c9fce1438da0a94e4fffdd46c9650e393be6e5a7862d4e"
        hex"4e73527932d04af302206539efe3f734c3d7df20d9dfc4630e1c7ff0439a0f8ece101f15b5eaff9b4f33";

    function setUp() public {
        h = new X509Harness();
        b = new BoundsHarness();
    }

    /// @dev Reverts unless `reason` is one of the readers' custom errors.
    function _expectOwnError(bytes memory reason) internal pure {
        require(reason.length >= 4, "empty revert or panic-free failure without an error");
        bytes4 sel = bytes4(reason);
        require(
            sel == Der.DerTruncated.selector || sel == Der.DerBadLength.selector || sel == Der.DerHighTag.selector
                || sel == Der.DerUnexpectedTag.selector || sel == Der.DerBadInteger.selector
                || sel == Der.DerBadStructure.selector || sel == X509.X509TrailingBytes.selector
                || sel == X509.X509UnsupportedAlgorithm.selector || sel == X509.X509BadTime.selector
                || sel == X509.X509BadSignature.selector || sel == X509.X509DuplicateExtension.selector
                || sel == X509.SgxExtensionMissing.selector || sel == X509.SgxFieldInvalid.selector,
            "not a reader error"
        );
    }

    function _certificate(bytes memory der) internal view {
        try h.parseCertificate(der) returns (X509.Certificate memory c) {
            require(c.tbsEnd <= der.length && c.subjectEnd <= c.tbsEnd && c.sgxEnd <= c.tbsEnd, "range");
        } catch (bytes memory reason) {
            _expectOwnError(reason);
        }
        try h.sgxExtension(der) returns (X509.SgxExtension memory) {} catch (bytes memory reason) {
            _expectOwnError(reason);
        }
    }

    function _crl(bytes memory der, uint256 serial) internal view {
        try h.parseCrl(der) returns (Crl.CertList memory list) {
            require(list.tbsEnd <= der.length && list.revokedEnd <= list.tbsEnd, "range");
        } catch (bytes memory reason) {
            _expectOwnError(reason);
        }
        try h.isRevoked(der, serial) returns (bool) {} catch (bytes memory reason) {
            _expectOwnError(reason);
        }
    }

    function _mutate(bytes memory src, uint256 seed, uint8 count) internal pure returns (bytes memory out) {
        out = bytes.concat(src);
        uint256 n = uint256(count % 4) + 1;
        for (uint256 i; i < n; ++i) {
            seed = uint256(keccak256(abi.encode(seed, i)));
            out[seed % out.length] = bytes1(uint8(seed >> 128));
        }
    }

    function _truncate(bytes memory src, uint256 len) internal pure returns (bytes memory out) {
        len %= src.length;
        out = new bytes(len);
        for (uint256 i; i < len; ++i) {
            out[i] = src[i];
        }
    }

    function test_RealInputsParse() public view {
        X509.Certificate memory c = h.parseCertificate(PCK_LEAF);
        require(c.isP256 && !c.isCa && c.sgxEnd != 0, "leaf");
        X509.SgxExtension memory x = h.sgxExtension(PCK_LEAF);
        require(x.fmspc != bytes6(0), "fmspc");
        Crl.CertList memory list = h.parseCrl(ROOT_CRL);
        require(list.hasNextUpdate && list.nextUpdate > list.thisUpdate, "crl");
    }

    function testFuzz_CertificateOnRandomBytes(bytes calldata data) public view {
        _certificate(data);
        _crl(data, uint256(keccak256(data)));
    }

    function testFuzz_CertificateOnRandomDerHeader(bytes calldata body, uint8 tag, uint16 len) public view {
        // a SEQUENCE-like header in front of random bytes, so the readers go further in
        _certificate(bytes.concat(bytes1(tag | 0x20), hex"82", bytes2(len), body));
    }

    function testFuzz_MutatedCertificate(uint256 seed, uint8 count) public view {
        _certificate(_mutate(PCK_LEAF, seed, count));
    }

    function testFuzz_TruncatedCertificate(uint256 len) public view {
        _certificate(_truncate(PCK_LEAF, len));
    }

    function testFuzz_MutatedCrl(uint256 seed, uint8 count, uint256 serial) public view {
        _crl(_mutate(ROOT_CRL, seed, count), serial);
    }

    /// @dev The readers on `d` with two different tails after it in calldata: the same result or the same
    ///      reader error (nothing read past the end of `d`).
    function _sameWhateverFollows(bytes memory d, bytes memory tailA, bytes memory tailB, uint256 serial) internal view {
        (bool okA, bytes memory a) = address(b).staticcall(abi.encodeCall(b.der, (bytes.concat(d, tailA), d.length, serial)));
        (bool okB, bytes memory c) = address(b).staticcall(abi.encodeCall(b.der, (bytes.concat(d, tailB), d.length, serial)));
        require(okA == okB && keccak256(a) == keccak256(c), "a reader read past the end of its input");
        if (!okA) _expectOwnError(a);
    }

    function testFuzz_NoReadPastEndOfInput(bytes calldata data, bytes calldata tail, uint256 serial) public view {
        _sameWhateverFollows(data, tail, new bytes(tail.length), serial);
    }

    /// @dev The real certificate or CRL, mutated and cut anywhere, followed in calldata by the rest of
    ///      it or by zeros: the outcome is the same.
    function testFuzz_NoReadPastEndOfRealInput(uint256 seed, uint256 len, uint8 count) public view {
        bytes memory full = _mutate(seed % 2 == 0 ? PCK_LEAF : ROOT_CRL, seed, count);
        len %= full.length + 1;
        bytes memory d = new bytes(len);
        bytes memory rest = new bytes(full.length - len + 32);
        for (uint256 i; i < full.length; ++i) {
            if (i < len) d[i] = full[i];
            else rest[i - len] = full[i];
        }
        _sameWhateverFollows(d, rest, new bytes(rest.length), seed >> 8);
    }

    function testFuzz_TruncatedCrl(uint256 len, uint256 serial) public view {
        _crl(_truncate(ROOT_CRL, len), serial);
    }
}
