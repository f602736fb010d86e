// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IKmsRegistry} from "./IKmsRegistry.sol";
import {LowerHex} from "./lib/LowerHex.sol";
import {Secp256k1} from "./lib/Secp256k1.sol";

/// @title KmsRegistry
/// @notice On-chain registry of dstack KMS identities. A registrar submits a KMS's P-256 CA key, its
///         secp256k1 root key and its Intel TDX quote; the contract recomputes dstack's report_data
///         binding (`keccak256("dstack-kms-genereted-keys-v1:" + hex(ca) + ";" + hex(k256) + ";") ‖ 0×32`)
///         from the submitted keys and requires the quote to carry it, stores a compact record keyed by
///         the Ethereum address of the k256 key, and emits the whole quote so anyone can re-verify the
///         Intel signature chain off chain from chain data alone. Dapps then check signatures the KMS
///         root key makes (app keys, env-encrypt keys, GetKey chains) with the `verify*` views.
/// @dev Non-upgradeable by design: the registry's value is its history, so there is no proxy and no
///      code path that rewrites past records. The quote's Intel signatures are NOT verified on chain
///      (that is the off-chain verifier's job); on chain only the key binding and the measurements are
///      read from the quote.
contract KmsRegistry is IKmsRegistry, AccessControl {
    /// @notice Role allowed to register and revoke KMS identities.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice A liveness timestamp may be at most this many seconds older than the block
    ///         (matches the dstack SDKs' 300 s acceptance window for env-encrypt signatures).
    uint64 public constant LIVENESS_MAX_AGE = 300;
    /// @notice A liveness timestamp may be at most this many seconds ahead of the block (clock skew).
    uint64 public constant LIVENESS_MAX_FUTURE = 60;
    /// @notice Blocks per liveness epoch. A challenge is bound to the hash of the block just before its
    ///         epoch, so an answer cannot be prepared before that block is mined; proofs are accepted for the
    ///         current and the previous epoch. 128 is the largest length for which the previous epoch's
    ///         anchor (at most 2 · 128 blocks back) stays within the 256 blocks `blockhash` can read.
    uint256 public constant LIVENESS_EPOCH_BLOCKS = 128;

    /// @dev The first 27 bytes of every P-256 SubjectPublicKeyInfo with an uncompressed point.
    uint256 private constant SPKI_P256_PREFIX = 0x3059301306072a8648ce3d020106082a8648ce3d03010703420004;
    /// @dev TDX TEE type in the quote header.
    uint32 private constant TEE_TYPE_TDX = 0x81;
    /// @dev Offsets inside a TD report body (TD10 and TD15 share them).
    uint256 private constant BODY_MR_TD = 136;
    uint256 private constant BODY_RTMR0 = 328;
    uint256 private constant BODY_REPORT_DATA = 520;

    mapping(address kms => KmsRecord) private _records;
    mapping(bytes32 imageMeasurement => bool) private _allowedImages;
    bool private _allowlistEnabled;

    /// @notice Deploys the registry.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (manages roles and the image allowlist) and REGISTRAR_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    // ───────────────────────────── registration ─────────────────────────────

    /// @notice Registers a KMS, or re-attests an active one with a new quote (same CA key).
    /// @dev Checks: `caPubkey` is a 91-byte P-256 SPKI; `k256Pubkey` is a 33-byte compressed secp256k1
    ///      point on the curve; `quote` is TDX v4 or v5 (TD10/TD15 body) whose report_data equals the
    ///      binding of the two keys; the image measurement is allowed when the allowlist is on; the KMS
    ///      is not revoked and, if already registered, has the same CA key. Emits `KmsRegistered`.
    /// @param caPubkey DER SubjectPublicKeyInfo of the KMS root CA key (P-256), 91 bytes.
    /// @param k256Pubkey SEC1 compressed root k256 key, 33 bytes.
    /// @param quote Raw Intel TDX quote produced at bootstrap.
    /// @return kms The KMS's address (Ethereum address of `k256Pubkey`), the registry key.
    function register(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata quote)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (address kms)
    {
        bytes32 image;
        (kms, image) = _checkRegistration(caPubkey, k256Pubkey, quote);
        bytes32 quoteHash = _store(kms, keccak256(caPubkey), image, keccak256(quote));
        emit KmsRegistered(kms, quoteHash, msg.sender, caPubkey, k256Pubkey, quote);
    }

    /// @notice Revokes a registered KMS for good: its signatures stop verifying, it cannot prove
    ///         liveness and cannot be registered again. Only REGISTRAR_ROLE. Emits `KmsRevoked`.
    /// @param kms The KMS address.
    /// @param reason Free-text reason, kept in the event.
    function revoke(address kms, string calldata reason) external onlyRole(REGISTRAR_ROLE) {
        KmsRecord storage r = _records[kms];
        if (r.attestedAt == 0) revert KmsNotRegistered(kms);
        if (r.revoked) revert KmsIsRevoked(kms);
        r.revoked = true;
        emit KmsRevoked(kms, msg.sender, reason);
    }

    // ───────────────────────────── image allowlist ─────────────────────────────

    /// @notice Switches the image-measurement allowlist on or off (DEFAULT_ADMIN_ROLE). When on,
    ///         `register` requires the quote's image measurement to be allowed. Emits `ImageAllowlistToggled`.
    /// @param enabled New state.
    function setImageAllowlistEnabled(bool enabled) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _allowlistEnabled = enabled;
        emit ImageAllowlistToggled(enabled);
    }

    /// @notice Adds an image measurement to, or removes it from, the allowlist (DEFAULT_ADMIN_ROLE).
    ///         Emits `ImageMeasurementSet`.
    /// @param imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    /// @param allowed True to allow, false to remove.
    function setImageAllowed(bytes32 imageMeasurement, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _allowedImages[imageMeasurement] = allowed;
        emit ImageMeasurementSet(imageMeasurement, allowed);
    }

    /// @notice Whether the image-measurement allowlist is enforced by `register`.
    /// @return True when on.
    function imageAllowlistEnabled() external view returns (bool) {
        return _allowlistEnabled;
    }

    /// @notice Whether an image measurement is on the allowlist.
    /// @param imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    /// @return True when allowed.
    function isImageAllowed(bytes32 imageMeasurement) external view returns (bool) {
        return _allowedImages[imageMeasurement];
    }

    // ───────────────────────────── reads ─────────────────────────────

    /// @notice True when `kms` is registered and not revoked.
    /// @param kms The KMS address.
    /// @return Active or not.
    function isRegistered(address kms) external view returns (bool) {
        return _isActive(kms);
    }

    /// @notice The full stored record of `kms` (all zero when never registered).
    /// @param kms The KMS address.
    /// @return The record.
    function kmsInfo(address kms) external view returns (KmsRecord memory) {
        return _records[kms];
    }

    /// @notice The current liveness nonce of `kms` (number of accepted liveness proofs).
    /// @param kms The KMS address.
    /// @return The nonce.
    function nonce(address kms) external view returns (uint256) {
        return _records[kms].livenessNonce;
    }

    /// @notice Ethereum address of a secp256k1 public key, as the registry computes it.
    /// @dev Reverts with `InvalidK256PubkeyLength` or `K256PubkeyNotOnCurve` for unusable keys.
    /// @param k256Pubkey 33-byte compressed or 65-byte uncompressed (0x04 ‖ x ‖ y) SEC1 key.
    /// @return The address (last 20 bytes of keccak256(x ‖ y)).
    function kmsAddress(bytes calldata k256Pubkey) external view returns (address) {
        if (k256Pubkey.length != 33 && k256Pubkey.length != 65) revert InvalidK256PubkeyLength(k256Pubkey.length);
        address a = Secp256k1.addressOf(k256Pubkey);
        if (a == address(0)) revert K256PubkeyNotOnCurve();
        return a;
    }

    /// @notice The 32-byte hash dstack puts in report_data[0:32] for these keys (the rest is zero).
    /// @param caPubkey CA SubjectPublicKeyInfo bytes (hex-encoded as given).
    /// @param k256Pubkey k256 key bytes (hex-encoded as given).
    /// @return keccak256("dstack-kms-genereted-keys-v1:" + lowerhex(caPubkey) + ";" + lowerhex(k256Pubkey) + ";").
    function reportDataHash(bytes calldata caPubkey, bytes calldata k256Pubkey) external pure returns (bytes32) {
        return _bindingHash(caPubkey, k256Pubkey);
    }

    /// @notice The fields `register` reads from a TDX quote.
    /// @dev Reverts with the quote errors of `register` for unsupported or truncated quotes.
    /// @param quote Raw TDX v4/v5 quote.
    /// @return reportDataHigh report_data[0:32].
    /// @return reportDataLow report_data[32:64].
    /// @return imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    function quoteFields(bytes calldata quote)
        external
        pure
        returns (bytes32 reportDataHigh, bytes32 reportDataLow, bytes32 imageMeasurement)
    {
        return _readQuote(quote);
    }

    // ───────────────────────────── signature views ─────────────────────────────

    /// @notice True when the active KMS `kms` signed `digest` (65-byte r‖s‖v, v ∈ {0,1,27,28}, low-s).
    ///         Never reverts: malformed signatures and unknown or revoked KMS give false.
    /// @dev Hash the message yourself; never accept a digest from a caller. Anyone can make a dstack KMS
    ///      sign an env-encrypt message (formats doc §8, message C) for any app id through its public
    ///      GetAppEnvEncryptPubKey RPC, so "the KMS signed this digest" only means something for a digest
    ///      of a message whose format cannot be confused with dstack's messages A–D.
    /// @param kms The KMS address.
    /// @param digest The signed 32-byte digest (no EIP-191 prefix).
    /// @param signature 65 bytes r ‖ s ‖ v.
    /// @return Valid or not.
    function verifySignature(address kms, bytes32 digest, bytes calldata signature) external view returns (bool) {
        return _isActive(kms) && _recover(digest, signature) == kms;
    }

    /// @notice True when the active KMS `kms` issued `appPubkey` to `appId`: `signature` is by the KMS
    ///         over keccak256("dstack-kms-issued:" ‖ appId ‖ appPubkey). Never reverts.
    /// @param kms The KMS address.
    /// @param appId The 20-byte dstack app id.
    /// @param appPubkey The app's 33-byte compressed k256 key.
    /// @param signature 65 bytes r ‖ s ‖ v (the `k256_signature` of GetAppKey).
    /// @return Valid or not.
    function verifyAppKey(address kms, address appId, bytes calldata appPubkey, bytes calldata signature)
        external
        view
        returns (bool)
    {
        if (appPubkey.length != 33) return false;
        return _isActive(kms) && _recover(_appKeyDigest(appId, appPubkey), signature) == kms;
    }

    /// @notice True when the active KMS `kms` signed the X25519 env-encrypt key `publicKey` for `appId`
    ///         at `timestamp` (message C, `signature_v1` of GetAppEnvEncryptPubKey). Freshness of
    ///         `timestamp` is the caller's policy. Never reverts.
    /// @param kms The KMS address.
    /// @param appId The 20-byte dstack app id.
    /// @param publicKey The X25519 public key.
    /// @param timestamp Unix seconds from the KMS answer.
    /// @param signature 65 bytes r ‖ s ‖ v.
    /// @return Valid or not.
    function verifyEnvEncryptPubkey(
        address kms,
        address appId,
        bytes32 publicKey,
        uint64 timestamp,
        bytes calldata signature
    ) external view returns (bool) {
        return _isActive(kms) && _recover(_envKeyDigest(appId, timestamp, publicKey), signature) == kms;
    }

    /// @notice Verifies a dstack GetKey signature chain [D, A] up to the active KMS `kms`:
    ///         `derivedSignature` by `appPubkey` over keccak256(purpose ‖ ":" ‖ lowerhex(derivedPubkey)) and
    ///         `appSignature` by the KMS over keccak256("dstack-kms-issued:" ‖ appId ‖ appPubkey). Never reverts.
    /// @param kms The KMS address.
    /// @param appId The 20-byte dstack app id.
    /// @param purpose The GetKey purpose string.
    /// @param derivedPubkey The derived secp256k1 key, 33-byte compressed (as dstack signs it) or 65-byte.
    /// @param derivedSignature signature_chain[0], by the app key.
    /// @param appPubkey The app's 33-byte compressed k256 key.
    /// @param appSignature signature_chain[1], by the KMS.
    /// @return derivedSigner Ethereum address of `derivedPubkey`, or address(0) if anything fails.
    function verifyKeyChain(
        address kms,
        address appId,
        string calldata purpose,
        bytes calldata derivedPubkey,
        bytes calldata derivedSignature,
        bytes calldata appPubkey,
        bytes calldata appSignature
    ) external view returns (address derivedSigner) {
        if (appPubkey.length != 33 || !_isActive(kms)) return address(0);
        if (_recover(_appKeyDigest(appId, appPubkey), appSignature) != kms) return address(0);
        address app = Secp256k1.addressOf(appPubkey);
        if (app == address(0)) return address(0);
        derivedSigner = Secp256k1.addressOf(derivedPubkey);
        if (derivedSigner == address(0)) return address(0);
        if (_recover(_keyChainDigest(purpose, derivedPubkey), derivedSignature) != app) return address(0);
    }

    // ───────────────────────────── liveness ─────────────────────────────

    /// @notice The current liveness epoch.
    /// @return epoch block.number / LIVENESS_EPOCH_BLOCKS.
    function livenessEpoch() external view returns (uint256 epoch) {
        return block.number / LIVENESS_EPOCH_BLOCKS;
    }

    /// @notice The app id a live KMS must sign an env-encrypt key for (via its public
    ///         GetAppEnvEncryptPubKey RPC) to prove liveness in the current epoch:
    ///         bytes20(keccak256(abi.encode(block.chainid, address(this), kms, nonce(kms), epoch, anchor))),
    ///         with epoch = `livenessEpoch()` and anchor = blockhash(epoch · LIVENESS_EPOCH_BLOCKS − 1)
    ///         (blockhash(0) for epoch 0).
    /// @dev Reverts with `LivenessAnchorUnavailable` if the chain does not return the anchor's hash.
    /// @param kms The KMS address.
    /// @return appId The challenge.
    function livenessChallenge(address kms) external view returns (bytes20 appId) {
        uint256 epoch = block.number / LIVENESS_EPOCH_BLOCKS;
        return _challenge(kms, _records[kms].livenessNonce, epoch, _anchor(epoch));
    }

    /// @notice The liveness challenge of `kms` for `epoch`, which must be the current or the previous one.
    /// @dev Reverts with `LivenessEpochInFuture`, `LivenessEpochTooOld` or `LivenessAnchorUnavailable`,
    ///      exactly as `proveLiveness` would for that epoch.
    /// @param kms The KMS address.
    /// @param epoch The epoch (`livenessEpoch()` or one less).
    /// @return appId The challenge.
    function livenessChallengeAt(address kms, uint256 epoch) external view returns (bytes20 appId) {
        return _challenge(kms, _records[kms].livenessNonce, epoch, _acceptedAnchor(epoch));
    }

    /// @notice Accepts a v1 env-encrypt signature by the KMS for app id = `livenessChallengeAt(kms, epoch)`
    ///         as proof that whoever answers the KMS's RPC holds its root key. `epoch` must be the current
    ///         or the previous liveness epoch, so the answer cannot have been made before the last block
    ///         preceding that epoch, at most 256 blocks ago. `timestamp` must lie within
    ///         [block.timestamp - LIVENESS_MAX_AGE, block.timestamp + LIVENESS_MAX_FUTURE]. Anyone may
    ///         submit. Bumps the nonce by one (so a proof cannot be replayed) and emits `KmsLivenessProven`.
    /// @param kms The KMS address (registered, not revoked).
    /// @param epoch The liveness epoch the challenge was read for.
    /// @param publicKey The X25519 `public_key` of the KMS answer.
    /// @param timestamp The `timestamp` of the KMS answer.
    /// @param signature The `signature_v1` of the KMS answer (65 bytes r ‖ s ‖ v).
    function proveLiveness(address kms, uint256 epoch, bytes32 publicKey, uint64 timestamp, bytes calldata signature)
        external
    {
        KmsRecord storage r = _records[kms];
        if (r.attestedAt == 0) revert KmsNotRegistered(kms);
        if (r.revoked) revert KmsIsRevoked(kms);
        if (uint256(timestamp) + LIVENESS_MAX_AGE < block.timestamp) {
            revert LivenessTimestampTooOld(timestamp, block.timestamp);
        }
        if (uint256(timestamp) > block.timestamp + LIVENESS_MAX_FUTURE) {
            revert LivenessTimestampInFuture(timestamp, block.timestamp);
        }
        uint48 n = r.livenessNonce;
        address appId = address(_challenge(kms, n, epoch, _acceptedAnchor(epoch)));
        if (_recover(_envKeyDigest(appId, timestamp, publicKey), signature) != kms) {
            revert InvalidLivenessSignature(kms);
        }
        r.livenessNonce = n + 1;
        emit KmsLivenessProven(kms, timestamp, n);
    }

    // ───────────────────────────── internals ─────────────────────────────

    /// @dev Every stateless check of `register`; returns the KMS address and the image measurement.
    function _checkRegistration(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata quote)
        private
        view
        returns (address kms, bytes32 image)
    {
        _checkCaPubkey(caPubkey);
        if (k256Pubkey.length != 33) revert InvalidK256PubkeyLength(k256Pubkey.length);
        kms = Secp256k1.addressOf(k256Pubkey);
        if (kms == address(0)) revert K256PubkeyNotOnCurve();
        bytes32 high;
        bytes32 low;
        (high, low, image) = _readQuote(quote);
        bytes32 expected = _bindingHash(caPubkey, k256Pubkey);
        if (high != expected || low != 0) revert ReportDataMismatch(expected, high, low);
        if (_allowlistEnabled && !_allowedImages[image]) revert ImageNotAllowed(image);
    }

    /// @dev The stateful part of `register`: revocation and CA-key checks, then the record update.
    function _store(address kms, bytes32 caKeyHash, bytes32 image, bytes32 quoteHash) private returns (bytes32) {
        KmsRecord storage r = _records[kms];
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
        return quoteHash;
    }

    function _isActive(address kms) private view returns (bool) {
        KmsRecord storage r = _records[kms];
        return r.attestedAt != 0 && !r.revoked;
    }

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

    function _checkCaPubkey(bytes calldata caPubkey) private pure {
        if (caPubkey.length != 91) revert InvalidCaPubkeyLength(caPubkey.length);
        uint256 head;
        assembly ("memory-safe") {
            head := shr(40, calldataload(caPubkey.offset))
        }
        if (head != SPKI_P256_PREFIX) revert InvalidCaPubkeyPrefix();
    }

    /// @dev Recovers the signer of a 65-byte r‖s‖v signature (v ∈ {0,1,27,28}); address(0) for anything
    ///      malformed, high-s or unrecoverable (OpenZeppelin ECDSA.tryRecover rejects high s).
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint256 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 0x20))
            v := byte(0, calldataload(add(signature.offset, 0x40)))
        }
        if (v < 2) v += 27;
        else if (v != 27 && v != 28) return address(0);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, uint8(v), r, s);
        return err == ECDSA.RecoverError.NoError ? signer : address(0);
    }

    /// @dev keccak256("dstack-kms-issued:" ‖ appId (20) ‖ appPubkey (33)) — message A, 71 bytes.
    function _appKeyDigest(address appId, bytes calldata appPubkey) private pure returns (bytes32 d) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, "dstack-kms-issued:")
            mstore(add(m, 18), shl(96, appId))
            calldatacopy(add(m, 38), appPubkey.offset, 33)
            d := keccak256(m, 71)
        }
    }

    /// @dev keccak256("dstack-env-encrypt-pubkey:" ‖ appId (20) ‖ timestamp (u64 BE) ‖ publicKey (32)) — message C, 86 bytes.
    function _envKeyDigest(address appId, uint64 ts, bytes32 publicKey) private pure returns (bytes32 d) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, "dstack-env-encrypt-pubkey:")
            mstore(add(m, 26), shl(96, appId))
            mstore(add(m, 46), shl(192, ts))
            mstore(add(m, 54), publicKey)
            d := keccak256(m, 86)
        }
    }

    /// @dev keccak256(purpose ‖ ":" ‖ lowerhex(derivedPubkey)) — message D.
    function _keyChainDigest(string calldata purpose, bytes calldata derivedPubkey) private pure returns (bytes32 d) {
        uint256 m;
        uint256 len = bytes(purpose).length;
        assembly ("memory-safe") {
            m := mload(0x40)
            calldatacopy(m, purpose.offset, len)
            mstore8(add(m, len), 0x3a) // ':'
            // reserve the message plus LowerHex's up-to-31-byte overrun
            mstore(0x40, add(m, add(add(len, 64), shl(1, derivedPubkey.length))))
        }
        LowerHex.writeHex(m + len + 1, derivedPubkey);
        uint256 total = len + 1 + 2 * derivedPubkey.length;
        assembly ("memory-safe") {
            d := keccak256(m, total)
        }
    }

    /// @dev keccak256 of the 279-byte binding string
    ///      "dstack-kms-genereted-keys-v1:" ‖ hex(ca) (182) ‖ ";" ‖ hex(k256) (66) ‖ ";" for the
    ///      registered lengths; any lengths work (used by `reportDataHash`).
    function _bindingHash(bytes calldata caPubkey, bytes calldata k256Pubkey) private pure returns (bytes32 d) {
        uint256 m;
        uint256 caHexEnd = 29 + 2 * caPubkey.length;
        uint256 total = caHexEnd + 2 + 2 * k256Pubkey.length;
        assembly ("memory-safe") {
            m := mload(0x40)
            mstore(m, "dstack-kms-genereted-keys-v1:")
            mstore(0x40, add(m, add(total, 64)))
        }
        LowerHex.writeHex(m + 29, caPubkey);
        assembly ("memory-safe") {
            mstore8(add(m, caHexEnd), 0x3b) // ';' (after the hex writer's overrun)
        }
        LowerHex.writeHex(m + caHexEnd + 1, k256Pubkey);
        assembly ("memory-safe") {
            mstore8(add(m, sub(total, 1)), 0x3b)
            d := keccak256(m, total)
        }
    }

    /// @dev Locates the TD report body of a TDX v4 / v5 quote and reads report_data and the image
    ///      measurement. Layout: 48-byte header (version u16 LE at 0, tee_type u32 LE at 4); v4 body at
    ///      48 (584 bytes); v5: body type u16 LE at 48, body size u32 LE at 50, body at 54 (type 2 =
    ///      TD10, 584 bytes; type 3 = TD15, 648 bytes). In the body: mr_td at 136, rtmr0..2 at 328..472,
    ///      report_data at 520..584.
    function _readQuote(bytes calldata quote) private pure returns (bytes32 high, bytes32 low, bytes32 image) {
        if (quote.length < 54) revert QuoteTooShort(quote.length, 54);
        uint256 w0;
        uint256 w48;
        assembly ("memory-safe") {
            w0 := calldataload(quote.offset)
            w48 := calldataload(add(quote.offset, 48))
        }
        uint16 version = uint16((w0 >> 248) | (((w0 >> 240) & 0xff) << 8));
        uint32 teeType = uint32(
            ((w0 >> 216) & 0xff) | (((w0 >> 208) & 0xff) << 8) | (((w0 >> 200) & 0xff) << 16)
                | (((w0 >> 192) & 0xff) << 24)
        );
        uint256 body;
        uint256 required;
        if (version == 4) {
            if (teeType != TEE_TYPE_TDX) revert UnsupportedTeeType(teeType);
            body = 48;
            required = 48 + 584;
        } else if (version == 5) {
            if (teeType != TEE_TYPE_TDX) revert UnsupportedTeeType(teeType);
            uint16 bodyType = uint16((w48 >> 248) | (((w48 >> 240) & 0xff) << 8));
            uint32 bodySize = uint32(
                ((w48 >> 232) & 0xff) | (((w48 >> 224) & 0xff) << 8) | (((w48 >> 216) & 0xff) << 16)
                    | (((w48 >> 208) & 0xff) << 24)
            );
            if (bodyType == 2) {
                if (bodySize != 584) revert QuoteBodySizeMismatch(bodyType, bodySize);
            } else if (bodyType == 3) {
                if (bodySize != 648) revert QuoteBodySizeMismatch(bodyType, bodySize);
            } else {
                revert UnsupportedQuoteBodyType(bodyType);
            }
            body = 54;
            required = 54 + uint256(bodySize);
        } else {
            revert UnsupportedQuoteVersion(version);
        }
        if (quote.length < required) revert QuoteTooShort(quote.length, required);
        assembly ("memory-safe") {
            let b := add(quote.offset, body)
            high := calldataload(add(b, BODY_REPORT_DATA))
            low := calldataload(add(b, add(BODY_REPORT_DATA, 32)))
            let m := mload(0x40)
            calldatacopy(m, add(b, BODY_MR_TD), 48)
            calldatacopy(add(m, 48), add(b, BODY_RTMR0), 144)
            image := keccak256(m, 192)
        }
    }
}
