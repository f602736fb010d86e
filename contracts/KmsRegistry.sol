// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IDcapVerifier} from "./dcap/IDcapVerifier.sol";
import {IntelJson} from "./dcap/IntelJson.sol";
import {QeIdentity} from "./dcap/QeIdentity.sol";
import {TcbInfo} from "./dcap/TcbInfo.sol";
import {IKmsRegistry} from "./IKmsRegistry.sol";
import {LowerHex} from "./lib/LowerHex.sol";
import {Secp256k1} from "./lib/Secp256k1.sol";
import {NitroDocument} from "./lib/NitroDocument.sol";
import {SnpReport} from "./lib/SnpReport.sol";

/// @title KmsRegistry
/// @notice On-chain registry of dstack KMS identities: see `IKmsRegistry` for the interface and its
///         documentation.
/// @dev Non-upgradeable by design: the registry's value is its history, so there is no proxy and no
///      code path that rewrites past records. On the registrar path (`register`,
///      `registerWithCollateral`) the quote's Intel signatures are NOT verified on chain (that is the
///      registrar's off-chain verifier's job): only the key binding and the measurements are read from
///      the quote. On the on-chain path (`registerVerified`, `recheck`) the immutable verifier checks
///      the whole quote against Intel's collateral at block.timestamp.
contract KmsRegistry is IKmsRegistry, AccessControl {
    /// @inheritdoc IKmsRegistry
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @inheritdoc IKmsRegistry
    uint64 public constant LIVENESS_MAX_AGE = 300;
    /// @inheritdoc IKmsRegistry
    uint64 public constant LIVENESS_MAX_FUTURE = 60;
    /// @inheritdoc IKmsRegistry
    uint256 public constant LIVENESS_EPOCH_BLOCKS = 128;

    // ─── CA key: DER SubjectPublicKeyInfo of a P-256 key with an uncompressed point ───

    /// @dev Length of the SubjectPublicKeyInfo: the fixed prefix, then x and y (32 bytes each).
    uint256 private constant CA_PUBKEY_LENGTH = 91;
    /// @dev Length of the fixed prefix: SEQUENCE, AlgorithmIdentifier (id-ecPublicKey, prime256v1),
    ///      BIT STRING header and the 0x04 uncompressed-point tag.
    uint256 private constant SPKI_P256_PREFIX_LENGTH = 27;
    /// @dev The fixed prefix itself.
    uint256 private constant SPKI_P256_PREFIX = 0x3059301306072a8648ce3d020106082a8648ce3d03010703420004;

    // ─── TDX quote (integers little-endian) ───

    /// @dev Size of the quote header; a v4 quote's TD report body follows it.
    uint256 private constant HEADER_SIZE = 48;
    /// @dev Offset of the header's version (u16).
    uint256 private constant HEADER_VERSION = 0;
    /// @dev Offset of the header's TEE type (u32).
    uint256 private constant HEADER_TEE_TYPE = 4;
    /// @dev TEE type of TDX.
    uint32 private constant TEE_TYPE_TDX = 0x81;
    /// @dev Quote versions with a TD report body.
    uint16 private constant QUOTE_VERSION_4 = 4;
    uint16 private constant QUOTE_VERSION_5 = 5;
    /// @dev Offset of the TD report body in a v4 quote, right after the header.
    uint256 private constant V4_BODY = HEADER_SIZE;
    /// @dev A v5 quote has a body descriptor after the header: the body type (u16) at V5_BODY_TYPE, the
    ///      body size (u32) at V5_BODY_SIZE, then the body at V5_BODY.
    uint256 private constant V5_BODY_TYPE = HEADER_SIZE;
    uint256 private constant V5_BODY_SIZE = 50;
    uint256 private constant V5_BODY = 54;
    /// @dev Bytes read before the version is known: the header and the v5 body descriptor (V5_BODY).
    uint256 private constant QUOTE_MIN_LENGTH = V5_BODY;
    /// @dev Right shifts that bring the first (least significant) byte of a little-endian field down to the
    ///      lowest byte of the 32-byte word it is read from: 8 · (31 − its position in that word); byte k of
    ///      the field is at shift − 8k. The header is read as the word at 0, the v5 body descriptor as the
    ///      word at V5_BODY_TYPE (the body type opens it). Use them in unchecked code only, where solc folds
    ///      the arithmetic at compile time.
    uint256 private constant VERSION_SHIFT = 8 * (31 - HEADER_VERSION);
    uint256 private constant TEE_TYPE_SHIFT = 8 * (31 - HEADER_TEE_TYPE);
    uint256 private constant BODY_TYPE_SHIFT = 8 * 31;
    uint256 private constant BODY_SIZE_SHIFT = 8 * (31 - (V5_BODY_SIZE - V5_BODY_TYPE));
    /// @dev v5 body types: TD report 1.0 and TD report 1.5.
    uint16 private constant BODY_TYPE_TD10 = 2;
    uint16 private constant BODY_TYPE_TD15 = 3;
    /// @dev Sizes of a TD report 1.0 body (the only body of a v4 quote) and of a TD report 1.5 body.
    uint256 private constant TD10_BODY_SIZE = 584;
    uint256 private constant TD15_BODY_SIZE = 648;
    /// @dev Offsets inside a TD report body (TD report 1.0 and 1.5 share them): mr_td, then rtmr0,
    ///      rtmr1 and rtmr2 back to back, then report_data.
    uint256 private constant BODY_MR_TD = 136;
    uint256 private constant BODY_RTMR0 = 328;
    uint256 private constant BODY_REPORT_DATA = 520;
    /// @dev Size of a measurement register (a SHA-384 digest).
    uint256 private constant MEASUREMENT_SIZE = 48;
    /// @dev Size of rtmr0 ‖ rtmr1 ‖ rtmr2.
    uint256 private constant RTMR0_2_SIZE = 144;
    /// @dev Size of mr_td ‖ rtmr0 ‖ rtmr1 ‖ rtmr2, the preimage of the image measurement.
    uint256 private constant IMAGE_PREIMAGE_SIZE = 192;
    /// @dev Offset of the second half of report_data, after the 32-byte binding hash.
    uint256 private constant REPORT_DATA_LOW = 32;

    // ─── Platforms ───

    /// @dev `platformOf` of an SEV-SNP registration (TDX is 0).
    uint8 private constant PLATFORM_SEV_SNP = 1;
    /// @dev `platformOf` of an AWS Nitro Enclave registration.
    uint8 private constant PLATFORM_NITRO_ENCLAVE = 2;

    // ─── Signed messages ───

    /// @dev Signature layout: r at 0, s at SIG_S, v (one byte) at SIG_V; SIGNATURE_LENGTH bytes in all.
    uint256 private constant SIGNATURE_LENGTH = 65;
    uint256 private constant SIG_S = 32;
    uint256 private constant SIG_V = 64;
    /// @dev Ethereum's v for recovery ids 0 and 1; 0 and 1 themselves are accepted as well.
    uint256 private constant V_RECOVERY_ID_0 = 27;
    uint256 private constant V_RECOVERY_ID_1 = 28;
    /// @dev secp256k1's group order n, halved: a larger s is the malleable twin of a valid signature.
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev The ecrecover precompile.
    uint256 private constant ECRECOVER = 1;
    /// @dev Left shifts that move an address (20 bytes) and a u64 (8 bytes) to the top of a word.
    uint256 private constant ADDRESS_TO_TOP = 96;
    uint256 private constant U64_TO_TOP = 192;
    /// @dev App-key message: "dstack-kms-issued:" ‖ appId (20) at APP_KEY_MSG_APP_ID ‖ compressed app key
    ///      (APP_KEY_MSG_PUBKEY_LENGTH = Secp256k1.COMPRESSED_LENGTH) at APP_KEY_MSG_PUBKEY;
    ///      APP_KEY_MSG_LENGTH bytes in all.
    uint256 private constant APP_KEY_MSG_APP_ID = 18;
    uint256 private constant APP_KEY_MSG_PUBKEY = 38;
    uint256 private constant APP_KEY_MSG_PUBKEY_LENGTH = 33;
    uint256 private constant APP_KEY_MSG_LENGTH = 71;
    /// @dev Env-encrypt message: "dstack-env-encrypt-pubkey:" ‖ appId (20) at ENV_KEY_MSG_APP_ID ‖
    ///      timestamp (u64 big-endian) at ENV_KEY_MSG_TIMESTAMP ‖ X25519 key (32) at ENV_KEY_MSG_PUBLIC_KEY;
    ///      ENV_KEY_MSG_LENGTH bytes in all.
    uint256 private constant ENV_KEY_MSG_APP_ID = 26;
    uint256 private constant ENV_KEY_MSG_TIMESTAMP = 46;
    uint256 private constant ENV_KEY_MSG_PUBLIC_KEY = 54;
    uint256 private constant ENV_KEY_MSG_LENGTH = 86;
    /// @dev Length of the binding string's prefix "dstack-kms-genereted-keys-v1:".
    uint256 private constant BINDING_PREFIX_LENGTH = 29;
    /// @dev ASCII ':' (after a GetKey purpose) and ';' (after each key of the binding string).
    uint256 private constant COLON = 0x3a;
    uint256 private constant SEMICOLON = 0x3b;
    /// @dev Memory reserved past a message built with `LowerHex.writeHex`, which writes up to 31 bytes
    ///      past the hex it produces.
    uint256 private constant HEX_WRITE_SLACK = 64;

    // ─── On-chain verification ───

    /// @dev `KmsRecord.path` values.
    uint8 private constant PATH_REGISTRAR = 0;
    uint8 private constant PATH_ON_CHAIN = 1;
    /// @dev IntelJson.TcbStatus.Revoked as a number: the status of a record Intel revoked.
    uint8 private constant STATUS_REVOKED = uint8(IntelJson.TcbStatus.Revoked);
    /// @dev The last status that may be accepted (every status before Revoked).
    uint8 private constant LAST_ACCEPTABLE_STATUS = STATUS_REVOKED - 1;
    /// @dev Length of a `VerificationFailed(step, reason)` revert: selector and two words.
    uint256 private constant VERIFICATION_FAILED_LENGTH = 68;
    /// @dev The TCB Info key whose number `recheck` reads when the verifier rejects the quote; its
    ///      length with both quotes and the colon.
    bytes32 private constant TCB_EVALUATION_KEY = "\"tcbEvaluationDataNumber\":";
    uint256 private constant TCB_EVALUATION_KEY_LENGTH = 26;
    /// @dev Mask of the first TCB_EVALUATION_KEY_LENGTH bytes of a word.
    uint256 private constant TCB_EVALUATION_KEY_MASK = ~uint256(0) << (8 * (32 - TCB_EVALUATION_KEY_LENGTH));
    /// @dev ASCII digits and the space.
    uint256 private constant DIGIT_0 = 0x30;
    uint256 private constant DIGIT_9 = 0x39;
    uint256 private constant SPACE = 0x20;
    /// @dev The accepted statuses by default: bit UpToDate and bit SWHardeningNeeded.
    uint8 private constant DEFAULT_STATUS_0 = uint8(IntelJson.TcbStatus.UpToDate);
    uint8 private constant DEFAULT_STATUS_1 = uint8(IntelJson.TcbStatus.SWHardeningNeeded);

    /// @dev What the verifier's revert says about the quote under Intel's own documents.
    enum Verdict {
        /// the failure proves nothing about the quote (bad, foreign, stale or unreadable collateral)
        None,
        /// Intel revoked the platform's TCB level, or the registered PCK certificate or its CA
        Revoked,
        /// no TCB level of the platform, the QE or the TDX module matches the quote any more
        NoLevel
    }

    /// @dev A record in storage (six slots for an on-chain registration, four on the registrar path):
    ///      the fields of `KmsRecord`, with `path` as the `onChain` flag next to `revoked` (the liveness
    ///      nonce is 40 bits wide in storage, 2^40 proofs being out of reach) and the on-chain fields,
    ///      meaningful only while `onChain`, in the fifth and sixth.
    // Packed by hand: slot 4 holds the 25 bytes of on-chain fields, slot 5 the PCK leaf hash alone.
    // solhint-disable-next-line gas-struct-packing
    struct Record {
        bytes32 caKeyHash;
        bytes32 quoteHash;
        bytes32 imageMeasurement;
        address registrar;
        uint40 attestedAt;
        bool revoked;
        bool onChain;
        uint40 livenessNonce;
        uint8 tcbStatus;
        bytes6 fmspc;
        uint64 collateralExpiry;
        uint64 tcbEvaluationDataNumber;
        bool intelRoot;
        bool stale;
        bytes32 pckLeafHash;
    }

    /// @dev The on-chain DCAP verifier (address(0): on-chain path disabled).
    IDcapVerifier private immutable VERIFIER;

    mapping(address kms => Record) private _records;
    mapping(bytes32 imageMeasurement => bool) private _allowedImages;
    bool private _allowlistEnabled;
    /// @dev Bit s set when TCB status s is accepted.
    uint256 private _acceptedStatuses;
    /// @dev The platform of each registered report, document or quote, by its hash: PLATFORM_SEV_SNP for the
    ///      reports `registerSnp` accepted, PLATFORM_NITRO_ENCLAVE for the documents `registerNitro` accepted,
    ///      0 (TDX) for everything else.
    mapping(bytes32 quoteHash => uint8) private _quotePlatform;

    /// @notice Deploys the registry.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (manages roles, the image allowlist and the accepted TCB
    ///        statuses) and REGISTRAR_ROLE.
    /// @param dcapVerifier The on-chain DCAP verifier (an `IDcapVerifier`), or address(0) to disable
    ///        `registerVerified` and `recheck`.
    constructor(address admin, address dcapVerifier) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        VERIFIER = IDcapVerifier(dcapVerifier);
        _acceptedStatuses = (1 << DEFAULT_STATUS_0) | (1 << DEFAULT_STATUS_1);
        emit AcceptedStatusSet(DEFAULT_STATUS_0, true);
        emit AcceptedStatusSet(DEFAULT_STATUS_1, true);
    }

    // ───────────────────────────── registration ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function register(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata quote)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (address kms)
    {
        bytes32 image;
        (kms, image) = _checkRegistration(caPubkey, k256Pubkey, quote);
        bytes32 quoteHash = _store(kms, keccak256(caPubkey), image, keccak256(quote), false);
        _emitRegistered(kms, quoteHash, caPubkey, k256Pubkey, quote);
    }

    /// @inheritdoc IKmsRegistry
    function registerWithCollateral(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata quote,
        IDcapVerifier.Collateral calldata collateral
    ) external onlyRole(REGISTRAR_ROLE) returns (address kms) {
        bytes32 image;
        (kms, image) = _checkRegistration(caPubkey, k256Pubkey, quote);
        bytes32 quoteHash = _store(kms, keccak256(caPubkey), image, keccak256(quote), false);
        _emitRegistered(kms, quoteHash, caPubkey, k256Pubkey, quote);
        emit KmsCollateralPublished(kms, quoteHash, collateral);
    }

    /// @inheritdoc IKmsRegistry
    function registerVerified(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata quote,
        IDcapVerifier.Collateral calldata collateral
    ) external returns (address kms) {
        IDcapVerifier.Result memory res = _requireVerifier().verify(quote, collateral, uint64(block.timestamp));
        if (!_isAccepted(uint8(res.status))) revert StatusNotAccepted(uint8(res.status));
        bytes32 image;
        (kms, image) = _checkRegistration(caPubkey, k256Pubkey, quote);
        _storeVerification(kms, res, keccak256(collateral.pckLeafCert));
        bytes32 quoteHash = _store(kms, keccak256(caPubkey), image, keccak256(quote), true);
        _emitRegistered(kms, quoteHash, caPubkey, k256Pubkey, quote);
        emit KmsVerifiedOnChain(
            kms, quoteHash, uint8(res.status), res.fmspc, uint64(res.earliestNextUpdate), res.isIntelRoot
        );
        emit KmsCollateralPublished(kms, quoteHash, collateral);
    }

    /// @inheritdoc IKmsRegistry
    function recheck(address kms, bytes calldata quote, IDcapVerifier.Collateral calldata collateral)
        external
        returns (bool stale)
    {
        IDcapVerifier v = _requireVerifier();
        Record storage r = _records[kms];
        if (r.attestedAt == 0) revert KmsNotRegistered(kms);
        if (r.revoked) revert KmsIsRevoked(kms);
        if (!r.onChain) revert KmsNotVerifiedOnChain(kms);
        if (r.tcbStatus == STATUS_REVOKED) revert KmsRevokedByIntel(kms);
        bytes32 quoteHash = keccak256(quote);
        if (quoteHash != r.quoteHash) revert QuoteHashMismatch(r.quoteHash, quoteHash);
        bytes32 leafHash = keccak256(collateral.pckLeafCert);
        if (leafHash != r.pckLeafHash) revert PckLeafMismatch(r.pckLeafHash, leafHash);
        uint64 registered = r.tcbEvaluationDataNumber;
        uint8 status;
        uint64 expiry = r.collateralExpiry;
        uint64 evaluation;
        try v.verify(quote, collateral, uint64(block.timestamp)) returns (IDcapVerifier.Result memory res) {
            status = uint8(res.status);
            expiry = uint64(res.earliestNextUpdate);
            evaluation = res.tcbEvaluationDataNumber;
            stale = !_isAccepted(status);
        } catch (bytes memory err) {
            Verdict verdict = _verdict(err);
            if (verdict == Verdict.None) {
                assembly ("memory-safe") {
                    revert(add(err, 0x20), mload(err))
                }
            }
            // the verifier checked the TCB Info's signature and dates before any step that gives a verdict
            bool found;
            (found, evaluation) = _tcbEvaluationDataNumber(collateral.tcbInfoJson);
            if (!found) {
                assembly ("memory-safe") {
                    revert(add(err, 0x20), mload(err))
                }
            }
            status = verdict == Verdict.Revoked ? STATUS_REVOKED : r.tcbStatus;
            stale = true;
        }
        if (evaluation < registered) revert CollateralRollback(registered, evaluation);
        r.tcbStatus = status;
        r.collateralExpiry = expiry;
        r.tcbEvaluationDataNumber = evaluation;
        r.stale = stale;
        emit KmsRechecked(kms, msg.sender, status, expiry, stale);
    }

    /// @inheritdoc IKmsRegistry
    function revoke(address kms, string calldata reason) external onlyRole(REGISTRAR_ROLE) {
        Record storage r = _records[kms];
        if (r.attestedAt == 0) revert KmsNotRegistered(kms);
        if (r.revoked) revert KmsIsRevoked(kms);
        r.revoked = true;
        emit KmsRevoked(kms, msg.sender, reason);
    }

    // ───────────────────────────── image allowlist ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function setImageAllowlistEnabled(bool enabled) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _allowlistEnabled = enabled;
        emit ImageAllowlistToggled(enabled);
    }

    /// @inheritdoc IKmsRegistry
    function setImageAllowed(bytes32 imageMeasurement, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _allowedImages[imageMeasurement] = allowed;
        emit ImageMeasurementSet(imageMeasurement, allowed);
    }

    // ───────────────────────────── accepted TCB statuses ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function setStatusAccepted(uint8 tcbStatus, bool accepted) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (tcbStatus > LAST_ACCEPTABLE_STATUS) revert InvalidTcbStatus(tcbStatus);
        if (accepted) _acceptedStatuses |= 1 << tcbStatus;
        else _acceptedStatuses &= ~(uint256(1) << tcbStatus);
        emit AcceptedStatusSet(tcbStatus, accepted);
    }

    /// @inheritdoc IKmsRegistry
    function isStatusAccepted(uint8 tcbStatus) external view returns (bool) {
        return _isAccepted(tcbStatus);
    }

    /// @inheritdoc IKmsRegistry
    function imageAllowlistEnabled() external view returns (bool) {
        return _allowlistEnabled;
    }

    /// @inheritdoc IKmsRegistry
    function isImageAllowed(bytes32 imageMeasurement) external view returns (bool) {
        return _allowedImages[imageMeasurement];
    }

    // ───────────────────────────── reads ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function isRegistered(address kms) external view returns (bool) {
        return _isActive(kms);
    }

    /// @inheritdoc IKmsRegistry
    function verifier() external view returns (address) {
        return address(VERIFIER);
    }

    /// @inheritdoc IKmsRegistry
    function isVerifiedOnChain(address kms) external view returns (bool) {
        Record storage r = _records[kms];
        return r.attestedAt != 0 && !r.revoked && r.onChain && r.intelRoot && !r.stale
            && block.timestamp < uint256(r.collateralExpiry) + 1;
    }

    /// @inheritdoc IKmsRegistry
    function kmsInfo(address kms) external view returns (KmsRecord memory) {
        Record storage r = _records[kms];
        KmsRecord memory info;
        info.caKeyHash = r.caKeyHash;
        info.quoteHash = r.quoteHash;
        info.imageMeasurement = r.imageMeasurement;
        info.registrar = r.registrar;
        info.attestedAt = r.attestedAt;
        info.revoked = r.revoked;
        info.livenessNonce = r.livenessNonce;
        if (r.onChain) {
            info.path = PATH_ON_CHAIN;
            info.intelRoot = r.intelRoot;
            info.stale = r.stale;
            info.tcbStatus = r.tcbStatus;
            info.fmspc = r.fmspc;
            info.collateralExpiry = r.collateralExpiry;
            info.tcbEvaluationDataNumber = r.tcbEvaluationDataNumber;
            info.pckLeafHash = r.pckLeafHash;
        } else {
            info.path = PATH_REGISTRAR;
        }
        return info;
    }

    /// @inheritdoc IKmsRegistry
    function nonce(address kms) external view returns (uint256) {
        return _records[kms].livenessNonce;
    }

    /// @inheritdoc IKmsRegistry
    function kmsAddress(bytes calldata k256Pubkey) external view returns (address) {
        if (k256Pubkey.length != Secp256k1.COMPRESSED_LENGTH && k256Pubkey.length != Secp256k1.UNCOMPRESSED_LENGTH) {
            revert InvalidK256PubkeyLength(k256Pubkey.length);
        }
        address a = Secp256k1.addressOf(k256Pubkey);
        if (a == address(0)) revert K256PubkeyNotOnCurve();
        return a;
    }

    /// @inheritdoc IKmsRegistry
    function reportDataHash(bytes calldata caPubkey, bytes calldata k256Pubkey) external pure returns (bytes32) {
        return _bindingHash(caPubkey, k256Pubkey);
    }

    /// @inheritdoc IKmsRegistry
    function quoteFields(bytes calldata quote)
        external
        pure
        returns (bytes32 reportDataHigh, bytes32 reportDataLow, bytes32 imageMeasurement)
    {
        return _readQuote(quote);
    }

    // ───────────────────────────── signature views ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function verifySignature(address kms, bytes32 digest, bytes calldata signature) external view returns (bool) {
        return _isActive(kms) && _recover(digest, signature) == kms;
    }

    /// @inheritdoc IKmsRegistry
    function verifyAppKey(address kms, address appId, bytes calldata appPubkey, bytes calldata signature)
        external
        view
        returns (bool)
    {
        if (appPubkey.length != Secp256k1.COMPRESSED_LENGTH) return false;
        return _isActive(kms) && _recover(_appKeyDigest(appId, appPubkey), signature) == kms;
    }

    /// @inheritdoc IKmsRegistry
    function verifyEnvEncryptPubkey(
        address kms,
        address appId,
        bytes32 publicKey,
        uint64 timestamp,
        bytes calldata signature
    ) external view returns (bool) {
        return _isActive(kms) && _recover(_envKeyDigest(appId, timestamp, publicKey), signature) == kms;
    }

    /// @inheritdoc IKmsRegistry
    function verifyKeyChain(
        address kms,
        address appId,
        string calldata purpose,
        bytes calldata derivedPubkey,
        bytes calldata derivedSignature,
        bytes calldata appPubkey,
        bytes calldata appSignature
    ) external view returns (address derivedSigner) {
        if (appPubkey.length != Secp256k1.COMPRESSED_LENGTH || !_isActive(kms)) return address(0);
        if (_recover(_appKeyDigest(appId, appPubkey), appSignature) != kms) return address(0);
        address app = Secp256k1.addressOf(appPubkey);
        if (app == address(0)) return address(0);
        derivedSigner = Secp256k1.addressOf(derivedPubkey);
        if (derivedSigner == address(0)) return address(0);
        if (_recover(_keyChainDigest(purpose, derivedPubkey), derivedSignature) != app) return address(0);
    }

    // ───────────────────────────── liveness ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function livenessEpoch() external view returns (uint256 epoch) {
        return block.number / LIVENESS_EPOCH_BLOCKS;
    }

    /// @inheritdoc IKmsRegistry
    function livenessChallenge(address kms) external view returns (bytes20 appId) {
        uint256 epoch = block.number / LIVENESS_EPOCH_BLOCKS;
        return _challenge(kms, _records[kms].livenessNonce, epoch, _anchor(epoch));
    }

    /// @inheritdoc IKmsRegistry
    function livenessChallengeAt(address kms, uint256 epoch) external view returns (bytes20 appId) {
        return _challenge(kms, _records[kms].livenessNonce, epoch, _acceptedAnchor(epoch));
    }

    /// @inheritdoc IKmsRegistry
    function proveLiveness(address kms, uint256 epoch, bytes32 publicKey, uint64 timestamp, bytes calldata signature)
        external
    {
        Record storage r = _records[kms];
        if (r.attestedAt == 0) revert KmsNotRegistered(kms);
        if (r.revoked) revert KmsIsRevoked(kms);
        if (uint256(timestamp) + LIVENESS_MAX_AGE < block.timestamp) {
            revert LivenessTimestampTooOld(timestamp, block.timestamp);
        }
        if (uint256(timestamp) > block.timestamp + LIVENESS_MAX_FUTURE) {
            revert LivenessTimestampInFuture(timestamp, block.timestamp);
        }
        uint40 n = r.livenessNonce;
        address appId = address(_challenge(kms, n, epoch, _acceptedAnchor(epoch)));
        if (_recover(_envKeyDigest(appId, timestamp, publicKey), signature) != kms) {
            revert InvalidLivenessSignature(kms);
        }
        r.livenessNonce = n + 1;
        emit KmsLivenessProven(kms, timestamp, n);
    }

    // ───────────────────────────── AMD SEV-SNP ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function registerSnp(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata report,
        bytes calldata vcek,
        bytes calldata amdChain,
        bytes calldata crl
    ) external onlyRole(REGISTRAR_ROLE) returns (address kms) {
        bytes32 quoteHash;
        (kms, quoteHash) = _registerPlatform(caPubkey, k256Pubkey, report, PLATFORM_SEV_SNP, SnpReport.read);
        emit KmsSnpEvidencePublished(kms, quoteHash, vcek, amdChain);
        if (crl.length != 0) emit KmsSnpCrlPublished(kms, quoteHash, crl);
    }

    // ───────────────────────────── AWS Nitro Enclaves ─────────────────────────────

    /// @inheritdoc IKmsRegistry
    function registerNitro(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata document)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (address kms)
    {
        (kms,) = _registerPlatform(caPubkey, k256Pubkey, document, PLATFORM_NITRO_ENCLAVE, _readNitro);
    }

    /// @inheritdoc IKmsRegistry
    function nitroDocumentFields(bytes calldata document)
        external
        pure
        returns (bytes32 reportDataHigh, bytes32 reportDataLow, bytes32 imageMeasurement, uint64 timestamp)
    {
        return NitroDocument.read(document);
    }

    /// @dev `NitroDocument.read` without the timestamp: the shape of an evidence reader.
    function _readNitro(bytes calldata document) private pure returns (bytes32 high, bytes32 low, bytes32 image) {
        (high, low, image,) = NitroDocument.read(document);
    }

    /// @dev A registrar-path registration of another platform's evidence (read by `reader`): the checks of
    ///      `register`, the record, its platform and `KmsRegistered`.
    function _registerPlatform(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata evidence,
        uint8 platform,
        function(bytes calldata) internal pure returns (bytes32, bytes32, bytes32) reader
    ) private returns (address kms, bytes32 quoteHash) {
        bytes32 image;
        (kms, image) = _checkEvidence(caPubkey, k256Pubkey, evidence, reader);
        quoteHash = _store(kms, keccak256(caPubkey), image, keccak256(evidence), false);
        _quotePlatform[quoteHash] = platform;
        _emitRegistered(kms, quoteHash, caPubkey, k256Pubkey, evidence);
    }

    /// @inheritdoc IKmsRegistry
    function platformOf(address kms) external view returns (uint8) {
        return _quotePlatform[_records[kms].quoteHash];
    }

    /// @inheritdoc IKmsRegistry
    function snpReportFields(bytes calldata report)
        external
        pure
        returns (bytes32 reportDataHigh, bytes32 reportDataLow, bytes32 imageMeasurement)
    {
        return SnpReport.read(report);
    }

    // ───────────────────────────── internals ─────────────────────────────

    /// @dev Every stateless check of `register`; returns the KMS address and the image measurement.
    function _checkRegistration(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata quote)
        private
        view
        returns (address kms, bytes32 image)
    {
        return _checkEvidence(caPubkey, k256Pubkey, quote, _readQuote);
    }

    /// @dev The stateless checks of every registration, with the platform's `reader` of report_data and the
    ///      image measurement: the CA key's shape, the k256 key's, report_data binding the keys, the
    ///      allowlist; returns the KMS address and the image measurement.
    function _checkEvidence(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata evidence,
        function(bytes calldata) internal pure returns (bytes32, bytes32, bytes32) reader
    ) private view returns (address kms, bytes32 image) {
        _checkCaPubkey(caPubkey);
        if (k256Pubkey.length != Secp256k1.COMPRESSED_LENGTH) revert InvalidK256PubkeyLength(k256Pubkey.length);
        kms = Secp256k1.addressOf(k256Pubkey);
        if (kms == address(0)) revert K256PubkeyNotOnCurve();
        bytes32 high;
        bytes32 low;
        (high, low, image) = reader(evidence);
        bytes32 expected = _bindingHash(caPubkey, k256Pubkey);
        if (high != expected || low != 0) revert ReportDataMismatch(expected, high, low);
        if (_allowlistEnabled && !_allowedImages[image]) revert ImageNotAllowed(image);
    }

    /// @dev The stateful part of a registration: revocation and CA-key checks, then the record update
    ///      (`onChain` says which path it took).
    function _store(address kms, bytes32 caKeyHash, bytes32 image, bytes32 quoteHash, bool onChain)
        private
        returns (bytes32)
    {
        Record storage r = _records[kms];
        if (r.revoked) revert KmsIsRevoked(kms);
        if (r.attestedAt == 0) {
            r.caKeyHash = caKeyHash;
        } else if (r.caKeyHash != caKeyHash) {
            revert CaKeyMismatch(kms, r.caKeyHash, caKeyHash);
        }
        r.quoteHash = quoteHash;
        r.imageMeasurement = image;
        r.registrar = msg.sender;
        r.attestedAt = uint40(block.timestamp);
        r.onChain = onChain;
        return quoteHash;
    }

    /// @dev The on-chain fields of a `registerVerified` record. Re-attesting an on-chain record may not use
    ///      an older TCB evaluation, nor come back with the PCK certificate of a record Intel revoked.
    function _storeVerification(address kms, IDcapVerifier.Result memory res, bytes32 leafHash) private {
        Record storage r = _records[kms];
        uint64 evaluation = res.tcbEvaluationDataNumber;
        if (r.onChain) {
            if (r.tcbStatus == STATUS_REVOKED && r.pckLeafHash == leafHash) revert KmsRevokedByIntel(kms);
            if (evaluation < r.tcbEvaluationDataNumber) revert CollateralRollback(r.tcbEvaluationDataNumber, evaluation);
        }
        r.tcbStatus = uint8(res.status);
        r.fmspc = res.fmspc;
        r.collateralExpiry = uint64(res.earliestNextUpdate);
        r.tcbEvaluationDataNumber = evaluation;
        r.intelRoot = res.isIntelRoot;
        r.stale = false;
        r.pckLeafHash = leafHash;
    }

    /// @dev `emit KmsRegistered(kms, quoteHash, msg.sender, caPubkey, k256Pubkey, quote)`, ABI-encoded by
    ///      hand (three offsets, then each byte string's length and its bytes zero-padded to whole words)
    ///      in memory past the free memory pointer, which is left as it is.
    function _emitRegistered(
        address kms,
        bytes32 quoteHash,
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata quote
    ) private {
        bytes32 topic = KmsRegistered.selector;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let caWords := and(add(caPubkey.length, 31), not(31))
            let kWords := and(add(k256Pubkey.length, 31), not(31))
            let qWords := and(add(quote.length, 31), not(31))
            mstore(m, 0x60)
            mstore(add(m, 0x20), add(0x80, caWords))
            mstore(add(m, 0x40), add(0xa0, add(caWords, kWords)))
            let p := add(m, 0x60)
            // zero each string's last word before its length and bytes go in (a no-op store into the
            // length word when the string is empty)
            mstore(add(p, caWords), 0)
            mstore(p, caPubkey.length)
            calldatacopy(add(p, 0x20), caPubkey.offset, caPubkey.length)
            p := add(p, add(0x20, caWords))
            mstore(add(p, kWords), 0)
            mstore(p, k256Pubkey.length)
            calldatacopy(add(p, 0x20), k256Pubkey.offset, k256Pubkey.length)
            p := add(p, add(0x20, kWords))
            mstore(add(p, qWords), 0)
            mstore(p, quote.length)
            calldatacopy(add(p, 0x20), quote.offset, quote.length)
            p := add(p, add(0x20, qWords))
            log4(m, sub(p, m), topic, kms, quoteHash, caller())
        }
    }

    /// @dev The verifier, or a `NoVerifier` revert when there is none.
    function _requireVerifier() private view returns (IDcapVerifier v) {
        v = VERIFIER;
        if (address(v) == address(0)) revert NoVerifier();
    }

    /// @dev Whether TCB status `s` is accepted.
    function _isAccepted(uint8 s) private view returns (bool) {
        return (_acceptedStatuses >> s) & 1 != 0;
    }

    /// @dev Reads the verifier's revert `err`. Only failures of steps that run after the TCB Info, the QE
    ///      Identity and (for the PCK CRL) the PCK CA were authenticated and found current are verdicts:
    ///      `VerificationFailed(tcb.status, StatusRevoked)` and `VerificationFailed(pck.chain, Revoked)`
    ///      (the leaf, whose hash `recheck` compared with the record's, or its CA on a CRL signed by its
    ///      issuer) say Revoked; `TcbLevelNotFound` (tcb.level), `TdxModuleIdentityNotFound` /
    ///      `TdxModuleSvnTooLow` (tcb.tdx-module) and `QeTcbLevelNotFound` (qe-identity.policy) say
    ///      that no TCB level matches any more. Everything else is no verdict.
    function _verdict(bytes memory err) private pure returns (Verdict) {
        if (err.length < 4) return Verdict.None;
        bytes4 selector;
        uint256 step;
        uint256 reason;
        assembly ("memory-safe") {
            selector := mload(add(err, 0x20))
            if eq(mload(err), VERIFICATION_FAILED_LENGTH) {
                step := mload(add(err, 0x24))
                reason := mload(add(err, 0x44))
            }
        }
        if (selector == IDcapVerifier.VerificationFailed.selector) {
            if (err.length != VERIFICATION_FAILED_LENGTH) return Verdict.None;
            if (
                (step == uint256(IDcapVerifier.Step.TcbStatus) && reason == uint256(IDcapVerifier.Reason.StatusRevoked))
                    || (step == uint256(IDcapVerifier.Step.PckChain) && reason == uint256(IDcapVerifier.Reason.Revoked))
            ) return Verdict.Revoked;
            return Verdict.None;
        }
        if (
            selector == TcbInfo.TcbLevelNotFound.selector || selector == TcbInfo.TdxModuleIdentityNotFound.selector
                || selector == TcbInfo.TdxModuleSvnTooLow.selector || selector == QeIdentity.QeTcbLevelNotFound.selector
        ) return Verdict.NoLevel;
        return Verdict.None;
    }

    /// @dev The number after the first `"tcbEvaluationDataNumber":` in a TCB Info text (spaces allowed
    ///      before it). Used only on text the verifier has authenticated as Intel's (the key opens no string
    ///      value there, and comes before the TCB levels, near the start).
    function _tcbEvaluationDataNumber(bytes calldata text) private pure returns (bool found, uint64 n) {
        uint256 len = text.length;
        if (len < TCB_EVALUATION_KEY_LENGTH) return (false, 0);
        uint256 end = len - TCB_EVALUATION_KEY_LENGTH + 1; // the key may start before `end`
        uint256 i;
        for (; i < end; ++i) {
            uint256 w;
            assembly ("memory-safe") {
                w := calldataload(add(text.offset, i))
            }
            if (w & TCB_EVALUATION_KEY_MASK == uint256(TCB_EVALUATION_KEY)) break;
        }
        if (i == end) return (false, 0);
        i += TCB_EVALUATION_KEY_LENGTH;
        while (i < len && uint8(text[i]) == SPACE) ++i;
        uint256 value;
        uint256 digits;
        while (i < len) {
            uint256 c = uint8(text[i]);
            if (c < DIGIT_0 || c > DIGIT_9) break;
            value = value * 10 + (c - DIGIT_0);
            if (value > type(uint64).max) return (false, 0);
            ++i;
            ++digits;
        }
        if (digits == 0) return (false, 0);
        return (true, uint64(value));
    }

    /// @dev Registered and not revoked.
    function _isActive(address kms) private view returns (bool) {
        Record storage r = _records[kms];
        return r.attestedAt != 0 && !r.revoked;
    }

    /// @dev The liveness challenge (an app id) for nonce `n` in `epoch` with that epoch's anchor hash.
    function _challenge(address kms, uint256 n, uint256 epoch, bytes32 anchor) private view returns (bytes20) {
        return bytes20(keccak256(abi.encode(block.chainid, address(this), kms, n, epoch, anchor)));
    }

    /// @dev The anchor of `epoch` after checking that it is the current or the previous epoch.
    function _acceptedAnchor(uint256 epoch) private view returns (bytes32) {
        uint256 current = block.number / LIVENESS_EPOCH_BLOCKS;
        if (epoch > current) revert LivenessEpochInFuture(epoch, current);
        if (epoch + 1 < current) revert LivenessEpochTooOld(epoch, current);
        return _anchor(epoch);
    }

    /// @dev blockhash of the last block before `epoch` (the genesis block for epoch 0); reverts when the
    ///      chain returns zero for it.
    function _anchor(uint256 epoch) private view returns (bytes32 h) {
        uint256 anchorBlock = epoch == 0 ? 0 : epoch * LIVENESS_EPOCH_BLOCKS - 1;
        h = blockhash(anchorBlock);
        if (h == 0) revert LivenessAnchorUnavailable(epoch, anchorBlock);
    }

    /// @dev Reverts unless `caPubkey` is a P-256 SubjectPublicKeyInfo with an uncompressed point.
    function _checkCaPubkey(bytes calldata caPubkey) private pure {
        if (caPubkey.length != CA_PUBKEY_LENGTH) revert InvalidCaPubkeyLength(caPubkey.length);
        uint256 head;
        assembly ("memory-safe") {
            head := calldataload(caPubkey.offset)
        }
        unchecked {
            // keep the first SPKI_P256_PREFIX_LENGTH bytes (a constant shift, folded at compile time)
            head >>= 8 * (32 - SPKI_P256_PREFIX_LENGTH);
        }
        if (head != SPKI_P256_PREFIX) revert InvalidCaPubkeyPrefix();
    }

    /// @dev Recovers the signer of a 65-byte r ‖ s ‖ v signature (v ∈ {0, 1, 27, 28}); address(0) for
    ///      anything malformed, high-s (s > n/2, as OpenZeppelin's ECDSA.tryRecover rejects it) or
    ///      unrecoverable. The ecrecover precompile is called directly (its input at the free memory
    ///      pointer, left unreserved; its output in scratch space).
    function _recover(bytes32 digest, bytes calldata signature) private view returns (address signer) {
        if (signature.length != SIGNATURE_LENGTH) return address(0);
        bytes32 r;
        bytes32 s;
        uint256 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, SIG_S))
            v := byte(0, calldataload(add(signature.offset, SIG_V)))
        }
        if (v < 2) v += V_RECOVERY_ID_0;
        else if (v != V_RECOVERY_ID_0 && v != V_RECOVERY_ID_1) return address(0);
        if (uint256(s) > HALF_ORDER) return address(0);
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, digest)
            mstore(add(m, 0x20), v)
            mstore(add(m, 0x40), r)
            mstore(add(m, 0x60), s)
            mstore(0, 0)
            // an invalid signature leaves no output: the zero address
            pop(staticcall(gas(), ECRECOVER, m, 0x80, 0, 0x20))
            signer := mload(0)
        }
    }

    /// @dev keccak256 of the app-key message "dstack-kms-issued:" ‖ appId ‖ appPubkey (its first
    ///      APP_KEY_MSG_PUBKEY_LENGTH bytes).
    function _appKeyDigest(address appId, bytes calldata appPubkey) private pure returns (bytes32 d) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, "dstack-kms-issued:")
            mstore(add(m, APP_KEY_MSG_APP_ID), shl(ADDRESS_TO_TOP, appId))
            calldatacopy(add(m, APP_KEY_MSG_PUBKEY), appPubkey.offset, APP_KEY_MSG_PUBKEY_LENGTH)
            d := keccak256(m, APP_KEY_MSG_LENGTH)
        }
    }

    /// @dev keccak256 of the env-encrypt message "dstack-env-encrypt-pubkey:" ‖ appId ‖ ts (u64 big-endian)
    ///      ‖ publicKey.
    function _envKeyDigest(address appId, uint64 ts, bytes32 publicKey) private pure returns (bytes32 d) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, "dstack-env-encrypt-pubkey:")
            mstore(add(m, ENV_KEY_MSG_APP_ID), shl(ADDRESS_TO_TOP, appId))
            mstore(add(m, ENV_KEY_MSG_TIMESTAMP), shl(U64_TO_TOP, ts))
            mstore(add(m, ENV_KEY_MSG_PUBLIC_KEY), publicKey)
            d := keccak256(m, ENV_KEY_MSG_LENGTH)
        }
    }

    /// @dev keccak256 of the GetKey message purpose ‖ ":" ‖ lowerhex(derivedPubkey), which the app key signs.
    function _keyChainDigest(string calldata purpose, bytes calldata derivedPubkey) private pure returns (bytes32 d) {
        uint256 m;
        uint256 len = bytes(purpose).length;
        assembly ("memory-safe") {
            m := mload(0x40)
            calldatacopy(m, purpose.offset, len)
            mstore8(add(m, len), COLON)
            // reserve the message plus LowerHex's overrun
            mstore(0x40, add(m, add(add(len, HEX_WRITE_SLACK), shl(1, derivedPubkey.length))))
        }
        LowerHex.writeHex(m + len + 1, derivedPubkey);
        uint256 total = len + 1 + 2 * derivedPubkey.length;
        assembly ("memory-safe") {
            d := keccak256(m, total)
        }
    }

    /// @dev keccak256 of the binding string "dstack-kms-genereted-keys-v1:" ‖ lowerhex(caPubkey) ‖ ";" ‖
    ///      lowerhex(k256Pubkey) ‖ ";" (279 bytes for the lengths `register` accepts; any lengths work).
    function _bindingHash(bytes calldata caPubkey, bytes calldata k256Pubkey) private pure returns (bytes32 d) {
        uint256 m;
        uint256 caHexEnd = BINDING_PREFIX_LENGTH + 2 * caPubkey.length;
        uint256 total = caHexEnd + 2 + 2 * k256Pubkey.length; // the two ';' and both hex strings
        assembly ("memory-safe") {
            m := mload(0x40)
            mstore(m, "dstack-kms-genereted-keys-v1:")
            mstore(0x40, add(m, add(total, HEX_WRITE_SLACK)))
        }
        LowerHex.writeHex(m + BINDING_PREFIX_LENGTH, caPubkey);
        assembly ("memory-safe") {
            mstore8(add(m, caHexEnd), SEMICOLON) // after the hex writer's overrun
        }
        LowerHex.writeHex(m + caHexEnd + 1, k256Pubkey);
        assembly ("memory-safe") {
            mstore8(add(m, sub(total, 1)), SEMICOLON)
            d := keccak256(m, total)
        }
    }

    /// @dev Locates the TD report body of a TDX v4 or v5 quote and reads report_data and the image
    ///      measurement keccak256(mr_td ‖ rtmr0 ‖ rtmr1 ‖ rtmr2). The header and body-descriptor fields are
    ///      decoded in an unchecked block: the shift arithmetic is on constants only (folded at compile
    ///      time; VERSION_SHIFT and BODY_TYPE_SHIFT leave a single byte), and V5_BODY + a u32 cannot overflow.
    function _readQuote(bytes calldata quote) private pure returns (bytes32 high, bytes32 low, bytes32 image) {
        if (quote.length < QUOTE_MIN_LENGTH) revert QuoteTooShort(quote.length, QUOTE_MIN_LENGTH);
        uint256 header;
        uint256 descriptor;
        assembly ("memory-safe") {
            header := calldataload(quote.offset)
            descriptor := calldataload(add(quote.offset, V5_BODY_TYPE))
        }
        uint256 body;
        uint256 required;
        unchecked {
            uint16 version = uint16((header >> VERSION_SHIFT) | (((header >> (VERSION_SHIFT - 8)) & 0xff) << 8));
            uint32 teeType = uint32(
                ((header >> TEE_TYPE_SHIFT) & 0xff) | (((header >> (TEE_TYPE_SHIFT - 8)) & 0xff) << 8)
                    | (((header >> (TEE_TYPE_SHIFT - 16)) & 0xff) << 16) | (((header >> (TEE_TYPE_SHIFT - 24)) & 0xff) << 24)
            );
            if (version == QUOTE_VERSION_4) {
                if (teeType != TEE_TYPE_TDX) revert UnsupportedTeeType(teeType);
                body = V4_BODY;
                required = V4_BODY + TD10_BODY_SIZE;
            } else if (version == QUOTE_VERSION_5) {
                if (teeType != TEE_TYPE_TDX) revert UnsupportedTeeType(teeType);
                uint16 bodyType = uint16((descriptor >> BODY_TYPE_SHIFT) | (((descriptor >> (BODY_TYPE_SHIFT - 8)) & 0xff) << 8));
                uint32 bodySize = uint32(
                    ((descriptor >> BODY_SIZE_SHIFT) & 0xff) | (((descriptor >> (BODY_SIZE_SHIFT - 8)) & 0xff) << 8)
                        | (((descriptor >> (BODY_SIZE_SHIFT - 16)) & 0xff) << 16)
                        | (((descriptor >> (BODY_SIZE_SHIFT - 24)) & 0xff) << 24)
                );
                if (bodyType == BODY_TYPE_TD10) {
                    if (bodySize != TD10_BODY_SIZE) revert QuoteBodySizeMismatch(bodyType, bodySize);
                } else if (bodyType == BODY_TYPE_TD15) {
                    if (bodySize != TD15_BODY_SIZE) revert QuoteBodySizeMismatch(bodyType, bodySize);
                } else {
                    revert UnsupportedQuoteBodyType(bodyType);
                }
                body = V5_BODY;
                required = V5_BODY + uint256(bodySize);
            } else {
                revert UnsupportedQuoteVersion(version);
            }
        }
        if (quote.length < required) revert QuoteTooShort(quote.length, required);
        assembly ("memory-safe") {
            let b := add(quote.offset, body)
            high := calldataload(add(b, BODY_REPORT_DATA))
            low := calldataload(add(b, add(BODY_REPORT_DATA, REPORT_DATA_LOW)))
            let m := mload(0x40)
            calldatacopy(m, add(b, BODY_MR_TD), MEASUREMENT_SIZE)
            calldatacopy(add(m, MEASUREMENT_SIZE), add(b, BODY_RTMR0), RTMR0_2_SIZE)
            image := keccak256(m, IMAGE_PREIMAGE_SIZE)
        }
    }
}
