// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IKmsRegistry
/// @notice External interface of the dstack KMS registry: events, custom errors, record layout and
///         functions. See `KmsRegistry` for the semantics.
interface IKmsRegistry {
    /// @notice What the registry stores per KMS (keyed by the Ethereum address of its root k256 key),
    ///         packed into four storage slots.
    /// @param caKeyHash keccak256 of the 91-byte P-256 CA SubjectPublicKeyInfo.
    /// @param quoteHash keccak256 of the latest accepted TDX quote (the quote itself is in the event).
    /// @param imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2) of that quote.
    /// @param registrar Account that submitted the latest (re-)attestation.
    /// @param attestedAt block.timestamp of the latest (re-)attestation; 0 means never registered.
    /// @param revoked True once revoked; a revoked KMS can never be registered again.
    /// @param livenessNonce Number of accepted liveness proofs; part of the next challenge.
    struct KmsRecord {
        bytes32 caKeyHash;
        bytes32 quoteHash;
        bytes32 imageMeasurement;
        address registrar;
        uint40 attestedAt;
        bool revoked;
        uint48 livenessNonce;
    }

    // ───────────────────────────── events ─────────────────────────────

    /// @notice A KMS was registered or re-attested. Carries everything needed to re-verify the
    ///         registration off chain from chain data alone (keys and the whole quote).
    event KmsRegistered(
        address indexed kms, bytes32 indexed quoteHash, address indexed registrar, bytes caPubkey, bytes k256Pubkey, bytes quote
    );
    /// @notice A KMS was revoked by `by`.
    event KmsRevoked(address indexed kms, address indexed by, string reason);
    /// @notice A liveness proof was accepted; `nonce` is the nonce the challenge was computed with
    ///         (the stored nonce is now `nonce + 1`).
    event KmsLivenessProven(address indexed kms, uint64 timestamp, uint256 nonce);
    /// @notice The image-measurement allowlist was switched on or off.
    event ImageAllowlistToggled(bool enabled);
    /// @notice An image measurement was added to (`allowed`) or removed from the allowlist.
    event ImageMeasurementSet(bytes32 indexed imageMeasurement, bool allowed);

    // ───────────────────────────── errors ─────────────────────────────

    /// @notice The constructor was given the zero address as admin.
    error ZeroAdmin();
    /// @notice `caPubkey` is not 91 bytes long.
    error InvalidCaPubkeyLength(uint256 length);
    /// @notice `caPubkey` does not start with the P-256 SPKI DER prefix `3059…034200 04`.
    error InvalidCaPubkeyPrefix();
    /// @notice `k256Pubkey` has the wrong length (33 for `register`; 33 or 65 for `kmsAddress`).
    error InvalidK256PubkeyLength(uint256 length);
    /// @notice `k256Pubkey` is not a secp256k1 point (bad prefix, x ≥ p or not on the curve).
    error K256PubkeyNotOnCurve();
    /// @notice The quote is shorter than its header says it must be.
    error QuoteTooShort(uint256 length, uint256 required);
    /// @notice The quote version is not 4 or 5.
    error UnsupportedQuoteVersion(uint16 version);
    /// @notice The quote's TEE type is not TDX (0x81).
    error UnsupportedTeeType(uint32 teeType);
    /// @notice A v5 quote's body type is not 2 (TD report 1.0) or 3 (TD report 1.5).
    error UnsupportedQuoteBodyType(uint16 bodyType);
    /// @notice A v5 quote's body size does not match its body type (584 for type 2, 648 for type 3).
    error QuoteBodySizeMismatch(uint16 bodyType, uint32 bodySize);
    /// @notice The quote's report_data is not keccak256(binding string) ‖ 0×32 for the submitted keys.
    error ReportDataMismatch(bytes32 expected, bytes32 foundHigh, bytes32 foundLow);
    /// @notice The allowlist is on and the quote's image measurement is not in it.
    error ImageNotAllowed(bytes32 imageMeasurement);
    /// @notice The KMS is revoked (cannot be re-registered, revoked again or prove liveness).
    error KmsIsRevoked(address kms);
    /// @notice The KMS was never registered.
    error KmsNotRegistered(address kms);
    /// @notice The k256 key is already registered with a different CA key.
    error CaKeyMismatch(address kms, bytes32 registeredCaKeyHash, bytes32 submittedCaKeyHash);
    /// @notice The liveness timestamp is more than `LIVENESS_MAX_AGE` seconds before the block.
    error LivenessTimestampTooOld(uint64 timestamp, uint256 blockTimestamp);
    /// @notice The liveness timestamp is more than `LIVENESS_MAX_FUTURE` seconds after the block.
    error LivenessTimestampInFuture(uint64 timestamp, uint256 blockTimestamp);
    /// @notice The liveness signature was not made by the KMS over the challenge of the given epoch.
    error InvalidLivenessSignature(address kms);
    /// @notice The liveness epoch has not started yet (its anchor block hash is not known).
    error LivenessEpochInFuture(uint256 epoch, uint256 currentEpoch);
    /// @notice The liveness epoch is older than the previous one (only `currentEpoch` and
    ///         `currentEpoch - 1` are accepted).
    error LivenessEpochTooOld(uint256 epoch, uint256 currentEpoch);
    /// @notice The chain does not return the hash of the epoch's anchor block (`blockhash` gave zero).
    error LivenessAnchorUnavailable(uint256 epoch, uint256 anchorBlock);

    // ───────────────────────────── functions ─────────────────────────────

    /// @notice Role allowed to register and revoke KMS identities.
    function REGISTRAR_ROLE() external view returns (bytes32);

    /// @notice Registers (or re-attests) a KMS after checking the report_data binding on chain.
    function register(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata quote)
        external
        returns (address kms);

    /// @notice Revokes a registered KMS for good.
    function revoke(address kms, string calldata reason) external;

    /// @notice True when `kms` is registered and not revoked.
    function isRegistered(address kms) external view returns (bool);

    /// @notice The stored record of `kms` (all zero when never registered).
    function kmsInfo(address kms) external view returns (KmsRecord memory);

    /// @notice The current liveness nonce of `kms` (number of accepted liveness proofs), part of the challenge.
    function nonce(address kms) external view returns (uint256);

    /// @notice Ethereum address of a 33-byte compressed or 65-byte uncompressed secp256k1 key.
    function kmsAddress(bytes calldata k256Pubkey) external view returns (address);

    /// @notice True when `signature` over `digest` was made by the active KMS `kms`.
    function verifySignature(address kms, bytes32 digest, bytes calldata signature) external view returns (bool);

    /// @notice True when the active KMS `kms` issued `appPubkey` to `appId` (message A).
    function verifyAppKey(address kms, address appId, bytes calldata appPubkey, bytes calldata signature)
        external
        view
        returns (bool);

    /// @notice True when the active KMS `kms` signed the env-encrypt key `publicKey` for `appId` at `timestamp` (message C).
    function verifyEnvEncryptPubkey(
        address kms,
        address appId,
        bytes32 publicKey,
        uint64 timestamp,
        bytes calldata signature
    ) external view returns (bool);

    /// @notice Verifies a GetKey signature chain [D, A] up to the active KMS; returns the derived key's address or 0.
    function verifyKeyChain(
        address kms,
        address appId,
        string calldata purpose,
        bytes calldata derivedPubkey,
        bytes calldata derivedSignature,
        bytes calldata appPubkey,
        bytes calldata appSignature
    ) external view returns (address derivedSigner);

    /// @notice Blocks per liveness epoch (128). Epoch `e` covers blocks [e·128, (e+1)·128); its anchor is
    ///         the hash of block e·128 − 1, the last block before it (block 0, genesis, for epoch 0). A
    ///         challenge depends on its epoch's anchor, so nobody can know it, and no KMS answer for it can
    ///         exist, before that block is mined. Proofs are accepted for the current and the previous
    ///         epoch: the previous anchor is at most 2·128 = 256 blocks old, the reach of `blockhash`.
    function LIVENESS_EPOCH_BLOCKS() external view returns (uint256);

    /// @notice The current liveness epoch: block.number / LIVENESS_EPOCH_BLOCKS.
    function livenessEpoch() external view returns (uint256 epoch);

    /// @notice The app id the KMS must sign an env-encrypt key for to prove liveness in the current epoch:
    ///         bytes20(keccak256(abi.encode(chainid, registry, kms, nonce(kms), epoch, anchor hash))).
    function livenessChallenge(address kms) external view returns (bytes20 appId);

    /// @notice The liveness challenge of `kms` for `epoch` (current or previous; reverts like `proveLiveness` otherwise).
    function livenessChallengeAt(address kms, uint256 epoch) external view returns (bytes20 appId);

    /// @notice Accepts a fresh v1 env-encrypt signature over the challenge of `epoch` (current or previous)
    ///         as proof of liveness; bumps the nonce by one.
    function proveLiveness(address kms, uint256 epoch, bytes32 publicKey, uint64 timestamp, bytes calldata signature)
        external;
}
