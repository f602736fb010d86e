// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDcapVerifier} from "./dcap/IDcapVerifier.sol";

/// @title IKmsRegistry
/// @notice External interface of the dstack KMS registry. A registrar submits a KMS's P-256 CA key, its
///         secp256k1 root key ("k256 key") and its Intel TDX quote; the registry checks that the quote's
///         report_data binds exactly these two keys, keeps a compact record keyed by the Ethereum address
///         of the k256 key and emits the whole quote, so anyone can re-verify the registration off chain
///         from chain data alone. Dapps then check what the KMS root key signs (app keys, env-encrypt
///         keys, GetKey signature chains) with the `verify*` views, and anyone can submit a fresh answer
///         of a KMS to an on-chain challenge as proof that it is still online (`proveLiveness`).
/// @dev The messages the KMS root key signs, all hashed with keccak256 and signed without an EIP-191
///      prefix (65-byte r ‖ s ‖ v signatures, v ∈ {0, 1, 27, 28}, low s):
///      - app key: "dstack-kms-issued:" ‖ appId (20 bytes) ‖ appPubkey (33-byte compressed k256 key);
///      - env-encrypt key: "dstack-env-encrypt-pubkey:" ‖ appId (20) ‖ timestamp (u64 big-endian) ‖
///        X25519 public key (32);
///      - GetKey chain: the app key signs purpose ‖ ":" ‖ lowerhex(derived public key), and the KMS signs
///        the app-key message of that app key.
///      The report_data of a registration quote is keccak256(binding string) ‖ 32 zero bytes, with the
///      binding string "dstack-kms-genereted-keys-v1:" ‖ lowerhex(caPubkey) ‖ ";" ‖ lowerhex(k256Pubkey)
///      ‖ ";" (the misspelling is dstack's own).
///
///      Two registration paths: `register` / `registerWithCollateral` (REGISTRAR_ROLE; the registrar
///      verified the quote off chain) and `registerVerified` (anyone; the quote is verified on chain by
///      the immutable `verifier()` at block.timestamp against Intel's collateral passed in calldata). A
///      dapp that trusts the registrar checks `isRegistered`; one that trusts only Intel checks
///      `isVerifiedOnChain`. `recheck` re-verifies an on-chain registration with newer collateral and
///      marks it stale when Intel's own authentic, fresh documents say the quote no longer passes.
interface IKmsRegistry {
    // ───────────────────────────── types ─────────────────────────────

    /// @notice What the registry stores per KMS (keyed by the Ethereum address of its root k256 key),
    ///         packed into four storage slots.
    /// @param caKeyHash keccak256 of the 91-byte P-256 CA SubjectPublicKeyInfo.
    /// @param quoteHash keccak256 of the latest accepted TDX quote (the quote itself is in the event).
    /// @param imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2) of that quote.
    /// @param registrar Account that submitted the latest (re-)attestation.
    /// @param attestedAt block.timestamp of the latest (re-)attestation; 0 means never registered.
    /// @param revoked True once revoked; a revoked KMS can never be registered again.
    /// @param livenessNonce Number of accepted liveness proofs; part of the next challenge.
    /// @param path How the latest (re-)attestation was made: 0 = registrar (`register`,
    ///        `registerWithCollateral`), 1 = on chain (`registerVerified`). The fields below are all zero
    ///        on the registrar path.
    /// @param intelRoot True when the verifier's trust root is Intel's SGX Root CA.
    /// @param stale True when a `recheck` found that Intel's current collateral no longer passes the quote.
    /// @param tcbStatus The TCB status of the latest verification (IntelJson.TcbStatus order: UpToDate,
    ///        SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate,
    ///        OutOfDateConfigurationNeeded, Revoked); Revoked only after a recheck saw Intel revoke the
    ///        platform's TCB level or the registered PCK certificate (final: no later recheck clears it).
    /// @param fmspc The platform's FMSPC, from its PCK certificate.
    /// @param collateralExpiry The earliest `nextUpdate` of the collateral of the latest verification.
    /// @param tcbEvaluationDataNumber The TCB Info's `tcbEvaluationDataNumber` of the latest verification;
    ///        later rechecks may not use a lower one.
    /// @param pckLeafHash keccak256 of the DER PCK leaf certificate the quote was verified with; rechecks
    ///        must use the same one.
    // The first seven fields keep their order (the registry's first interface); the rest follow them.
    // solhint-disable-next-line gas-struct-packing
    struct KmsRecord {
        bytes32 caKeyHash;
        bytes32 quoteHash;
        bytes32 imageMeasurement;
        address registrar;
        uint40 attestedAt;
        bool revoked;
        uint48 livenessNonce;
        uint8 path;
        bool intelRoot;
        bool stale;
        uint8 tcbStatus;
        bytes6 fmspc;
        uint64 collateralExpiry;
        uint64 tcbEvaluationDataNumber;
        bytes32 pckLeafHash;
    }

    // ───────────────────────────── events ─────────────────────────────

    /// @notice A KMS was registered or re-attested. The event carries everything needed to re-verify the
    ///         registration off chain from chain data alone: both keys and the whole quote.
    /// @param kms The KMS address (Ethereum address of `k256Pubkey`).
    /// @param quoteHash keccak256(quote), as stored in the record.
    /// @param registrar The account that submitted the registration.
    /// @param caPubkey The 91-byte P-256 CA SubjectPublicKeyInfo.
    /// @param k256Pubkey The 33-byte compressed root k256 key.
    /// @param quote The raw TDX quote.
    event KmsRegistered(
        address indexed kms, bytes32 indexed quoteHash, address indexed registrar, bytes caPubkey, bytes k256Pubkey, bytes quote
    );

    /// @notice A KMS was revoked for good.
    /// @param kms The KMS address.
    /// @param by The account that revoked it.
    /// @param reason The free-text reason given.
    event KmsRevoked(address indexed kms, address indexed by, string reason);

    /// @notice A liveness proof was accepted.
    /// @param kms The KMS address.
    /// @param timestamp The timestamp of the KMS answer.
    /// @param nonce The nonce the challenge was computed with; the stored nonce is now `nonce + 1`.
    event KmsLivenessProven(address indexed kms, uint64 timestamp, uint256 nonce);

    /// @notice The image-measurement allowlist was switched on or off.
    /// @param enabled The new state.
    event ImageAllowlistToggled(bool enabled);

    /// @notice An image measurement was added to or removed from the allowlist.
    /// @param imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    /// @param allowed True when added, false when removed.
    event ImageMeasurementSet(bytes32 indexed imageMeasurement, bool allowed);

    /// @notice A quote was verified on chain (`registerVerified`).
    /// @param kms The KMS address.
    /// @param quoteHash keccak256(quote).
    /// @param tcbStatus The TCB status the verifier returned (IntelJson.TcbStatus order).
    /// @param fmspc The platform's FMSPC.
    /// @param collateralExpiry The collateral's earliest `nextUpdate` (unix seconds).
    /// @param intelRoot True when the verifier's root is Intel's SGX Root CA.
    event KmsVerifiedOnChain(
        address indexed kms, bytes32 indexed quoteHash, uint8 tcbStatus, bytes6 fmspc, uint64 collateralExpiry, bool intelRoot
    );

    /// @notice The collateral a registration was (or, on the registrar path, says it was) verified with,
    ///         so anyone can re-run the verification at the registration's block time from chain data alone.
    /// @param kms The KMS address.
    /// @param quoteHash keccak256 of the registered quote.
    /// @param collateral Intel's collateral, in the verifier's layout.
    event KmsCollateralPublished(address indexed kms, bytes32 indexed quoteHash, IDcapVerifier.Collateral collateral);

    /// @notice A `recheck` updated the record of an on-chain registration.
    /// @param kms The KMS address.
    /// @param by The account that submitted the recheck.
    /// @param tcbStatus The record's TCB status now.
    /// @param collateralExpiry The record's collateral expiry now.
    /// @param stale Whether the record is now stale.
    event KmsRechecked(address indexed kms, address indexed by, uint8 tcbStatus, uint64 collateralExpiry, bool stale);

    /// @notice A TCB status was added to or removed from the set `registerVerified` accepts.
    /// @param tcbStatus The status (IntelJson.TcbStatus order).
    /// @param accepted True when accepted now.
    event AcceptedStatusSet(uint8 indexed tcbStatus, bool accepted);

    // ───────────────────────────── errors ─────────────────────────────

    /// @notice The registry was deployed without a verifier: `registerVerified` and `recheck` are disabled.
    error NoVerifier();

    /// @notice The verified quote's TCB status is not in the accepted set.
    /// @param tcbStatus The status the verifier returned.
    error StatusNotAccepted(uint8 tcbStatus);

    /// @notice `setStatusAccepted` was given a status outside UpToDate … OutOfDateConfigurationNeeded
    ///         (Revoked can never be accepted).
    /// @param tcbStatus The status given.
    error InvalidTcbStatus(uint8 tcbStatus);

    /// @notice The quote given to `recheck` is not the registered one.
    /// @param registered The record's quoteHash.
    /// @param submitted keccak256 of the quote given.
    error QuoteHashMismatch(bytes32 registered, bytes32 submitted);

    /// @notice The collateral's TCB Info has a lower `tcbEvaluationDataNumber` than the record's.
    /// @param registered The record's number.
    /// @param submitted The collateral's number.
    error CollateralRollback(uint64 registered, uint64 submitted);

    /// @notice The collateral's PCK leaf certificate is not the one the registration was verified with.
    /// @param registered The record's pckLeafHash.
    /// @param submitted keccak256 of the collateral's PCK leaf.
    error PckLeafMismatch(bytes32 registered, bytes32 submitted);

    /// @notice `recheck` needs a KMS whose latest attestation was verified on chain.
    /// @param kms The KMS address.
    error KmsNotVerifiedOnChain(address kms);

    /// @notice A recheck saw Intel revoke this registration's TCB level or PCK certificate: no recheck, and
    ///         no re-attestation with the same PCK certificate, can make it current again.
    /// @param kms The KMS address.
    error KmsRevokedByIntel(address kms);

    /// @notice The constructor was given the zero address as admin.
    error ZeroAdmin();

    /// @notice `caPubkey` is not 91 bytes long.
    /// @param length The length given.
    error InvalidCaPubkeyLength(uint256 length);

    /// @notice `caPubkey` does not start with the 27-byte DER prefix of a P-256 SubjectPublicKeyInfo with
    ///         an uncompressed point (`3059301306072a8648ce3d020106082a8648ce3d03010703420004`).
    error InvalidCaPubkeyPrefix();

    /// @notice `k256Pubkey` has the wrong length (33 for `register`; 33 or 65 for `kmsAddress`).
    /// @param length The length given.
    error InvalidK256PubkeyLength(uint256 length);

    /// @notice `k256Pubkey` is not a secp256k1 point (bad prefix byte, a coordinate ≥ p, or not on the curve).
    error K256PubkeyNotOnCurve();

    /// @notice The quote is shorter than its header and body require.
    /// @param length The quote's length.
    /// @param required The length its version and body type require.
    error QuoteTooShort(uint256 length, uint256 required);

    /// @notice The quote version is neither 4 nor 5.
    /// @param version The version in the quote header.
    error UnsupportedQuoteVersion(uint16 version);

    /// @notice The quote's TEE type is not TDX (0x81).
    /// @param teeType The TEE type in the quote header.
    error UnsupportedTeeType(uint32 teeType);

    /// @notice A v5 quote's body type is neither 2 (TD report 1.0) nor 3 (TD report 1.5).
    /// @param bodyType The body type in the v5 body descriptor.
    error UnsupportedQuoteBodyType(uint16 bodyType);

    /// @notice A v5 quote's body size does not match its body type (584 bytes for type 2, 648 for type 3).
    /// @param bodyType The body type in the v5 body descriptor.
    /// @param bodySize The body size in the v5 body descriptor.
    error QuoteBodySizeMismatch(uint16 bodyType, uint32 bodySize);

    /// @notice The quote's report_data is not keccak256(binding string) ‖ 32 zero bytes for the submitted keys.
    /// @param expected keccak256 of the binding string of the submitted keys.
    /// @param foundHigh report_data[0:32] of the quote.
    /// @param foundLow report_data[32:64] of the quote.
    error ReportDataMismatch(bytes32 expected, bytes32 foundHigh, bytes32 foundLow);

    /// @notice An SEV-SNP report is not 1184 bytes long (truncated or with trailing bytes).
    /// @param length The length given.
    /// @param expected 1184.
    error SnpReportLengthMismatch(uint256 length, uint256 expected);

    /// @notice An SEV-SNP report's version (u32 at 0) is not 2, 3, 4 or 5.
    /// @param version The version found.
    error UnsupportedSnpReportVersion(uint32 version);

    /// @notice An SEV-SNP report's signature algorithm (u32 at 0x34) is not 1 (ECDSA P-384 with SHA-384).
    /// @param algorithm The algorithm found.
    error UnsupportedSnpSignatureAlgorithm(uint32 algorithm);

    /// @notice A CBOR item of a Nitro attestation document runs past the end of what holds it.
    /// @param offset Where the item (or its head) starts: in the document, or in its payload for the
    ///        payload's items.
    error CborTruncated(uint256 offset);

    /// @notice A CBOR encoding the Nitro document reader does not read: a reserved additional information
    ///         value, an indefinite-length integer or tag, a break out of place, a simple value other than
    ///         false/true/null/undefined or a float, or nesting deeper than 16.
    /// @param offset Where the item starts (in the document, or in its payload).
    error CborUnsupported(uint256 offset);

    /// @notice A Nitro attestation document is not shaped as an NSM document: the COSE_Sign1 array, one of
    ///         its items, the payload map or one of the fields read has another type, a field read appears
    ///         twice, or bytes follow the document.
    /// @param field The part that is wrong ("COSE_Sign1", "protected header", "unprotected header",
    ///        "payload", "signature", "user_data", "pcrs", "timestamp"), left-aligned ASCII.
    error NitroDocumentMalformed(bytes32 field);

    /// @notice A field the registry reads is absent from the Nitro document's payload (or null).
    /// @param field "user_data", "pcrs", "timestamp", "PCR0", "PCR1" or "PCR2", left-aligned ASCII.
    error NitroFieldMissing(bytes32 field);

    /// @notice The Nitro document's user_data is not 64 bytes (dstack puts its 64-byte report_data there).
    /// @param length The length found.
    /// @param expected 64.
    error NitroUserDataLengthMismatch(uint256 length, uint256 expected);

    /// @notice The allowlist is on and the quote's image measurement is not in it.
    /// @param imageMeasurement The quote's keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    error ImageNotAllowed(bytes32 imageMeasurement);

    /// @notice The KMS is revoked: it cannot be registered again, revoked again or prove liveness.
    /// @param kms The KMS address.
    error KmsIsRevoked(address kms);

    /// @notice The KMS was never registered.
    /// @param kms The KMS address.
    error KmsNotRegistered(address kms);

    /// @notice The k256 key is already registered with a different CA key.
    /// @param kms The KMS address.
    /// @param registeredCaKeyHash keccak256 of the CA key in the record.
    /// @param submittedCaKeyHash keccak256 of the CA key submitted now.
    error CaKeyMismatch(address kms, bytes32 registeredCaKeyHash, bytes32 submittedCaKeyHash);

    /// @notice The liveness timestamp is more than `LIVENESS_MAX_AGE` seconds before the block's.
    /// @param timestamp The timestamp of the KMS answer.
    /// @param blockTimestamp block.timestamp.
    error LivenessTimestampTooOld(uint64 timestamp, uint256 blockTimestamp);

    /// @notice The liveness timestamp is more than `LIVENESS_MAX_FUTURE` seconds after the block's.
    /// @param timestamp The timestamp of the KMS answer.
    /// @param blockTimestamp block.timestamp.
    error LivenessTimestampInFuture(uint64 timestamp, uint256 blockTimestamp);

    /// @notice The liveness signature was not made by the KMS over the challenge of the given epoch.
    /// @param kms The KMS address.
    error InvalidLivenessSignature(address kms);

    /// @notice The liveness epoch has not started yet (its anchor block hash is not known).
    /// @param epoch The epoch given.
    /// @param currentEpoch The current epoch, `livenessEpoch()`.
    error LivenessEpochInFuture(uint256 epoch, uint256 currentEpoch);

    /// @notice The liveness epoch is older than the previous one (only `currentEpoch` and
    ///         `currentEpoch - 1` are accepted).
    /// @param epoch The epoch given.
    /// @param currentEpoch The current epoch, `livenessEpoch()`.
    error LivenessEpochTooOld(uint256 epoch, uint256 currentEpoch);

    /// @notice The chain does not return the hash of the epoch's anchor block (`blockhash` gave zero).
    /// @param epoch The epoch.
    /// @param anchorBlock The number of its anchor block.
    error LivenessAnchorUnavailable(uint256 epoch, uint256 anchorBlock);

    // ───────────────────────────── constants ─────────────────────────────

    /// @notice Role allowed to register and revoke KMS identities.
    /// @return keccak256("REGISTRAR_ROLE").
    function REGISTRAR_ROLE() external view returns (bytes32);

    /// @notice A liveness timestamp may be at most this many seconds older than the block (300, the
    ///         window in which the dstack SDKs accept an env-encrypt signature).
    /// @return The maximum age in seconds.
    function LIVENESS_MAX_AGE() external view returns (uint64);

    /// @notice A liveness timestamp may be at most this many seconds ahead of the block (60, for clock skew).
    /// @return The maximum lead in seconds.
    function LIVENESS_MAX_FUTURE() external view returns (uint64);

    /// @notice Blocks per liveness epoch (128). Epoch `e` covers blocks [e·128, (e+1)·128); its anchor is
    ///         the hash of block e·128 − 1, the last block before it (block 0, genesis, for epoch 0). A
    ///         challenge depends on its epoch's anchor, so nobody can know it, and no KMS answer for it can
    ///         exist, before that block is mined. Proofs are accepted for the current and the previous
    ///         epoch: the previous anchor is at most 2·128 = 256 blocks old, the reach of `blockhash`, and
    ///         128 is the largest epoch length for which that holds.
    /// @return The epoch length in blocks.
    function LIVENESS_EPOCH_BLOCKS() external view returns (uint256);

    // ───────────────────────────── registration ─────────────────────────────

    /// @notice Registers a KMS, or re-attests an active one with a new quote (same CA key). Only
    ///         REGISTRAR_ROLE. Emits `KmsRegistered`.
    /// @dev Checks, in this order: `caPubkey` is a 91-byte P-256 SubjectPublicKeyInfo with an
    ///      uncompressed point; `k256Pubkey` is a 33-byte compressed secp256k1 point on the curve; `quote`
    ///      is a TDX v4 quote, or a v5 quote with a TD report 1.0 or 1.5 body, whose report_data is
    ///      keccak256(binding string) ‖ 32 zero bytes for the two keys; its image measurement is allowed
    ///      when the allowlist is on; the KMS is not revoked and, if already registered, has the same CA
    ///      key. The quote's Intel signatures are not checked on chain: that is left to off-chain
    ///      verifiers, which find the whole quote in the event.
    /// @param caPubkey DER SubjectPublicKeyInfo of the KMS root CA key (P-256), 91 bytes.
    /// @param k256Pubkey SEC1 compressed root k256 key, 33 bytes.
    /// @param quote Raw Intel TDX quote produced at bootstrap.
    /// @return kms The KMS's address (Ethereum address of `k256Pubkey`), the registry key.
    function register(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata quote)
        external
        returns (address kms);

    /// @notice Same as `register` (REGISTRAR_ROLE, no on-chain verification of Intel's signatures), and
    ///         also publishes the collateral the registrar verified the quote with (`KmsCollateralPublished`),
    ///         so `audit --reverify` needs nothing but the chain. The collateral is not checked on chain.
    /// @param caPubkey DER SubjectPublicKeyInfo of the KMS root CA key (P-256), 91 bytes.
    /// @param k256Pubkey SEC1 compressed root k256 key, 33 bytes.
    /// @param quote Raw Intel TDX quote produced at bootstrap.
    /// @param collateral Intel's collateral for the quote, in the verifier's layout.
    /// @return kms The KMS's address.
    function registerWithCollateral(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata quote,
        IDcapVerifier.Collateral calldata collateral
    ) external returns (address kms);

    /// @notice Registers a KMS, or re-attests an active one, with the quote verified ON CHAIN: anyone may
    ///         call it. The verifier checks the quote against `collateral` at block.timestamp (Intel's
    ///         signatures, certificates, CRLs, TCB level, QE identity, TD attributes); its status must be
    ///         accepted (`isStatusAccepted`); then every check of `register` applies (key binding in
    ///         report_data, image allowlist, revocation, same CA key). Emits `KmsRegistered`,
    ///         `KmsVerifiedOnChain` and `KmsCollateralPublished`.
    /// @dev Reverts with the verifier's `VerificationFailed(step, reason)` or a reading library's error
    ///      when the quote does not verify, `StatusNotAccepted`, `NoVerifier`, the errors of `register`,
    ///      and, re-attesting an on-chain record, `CollateralRollback` (a lower tcbEvaluationDataNumber)
    ///      or `KmsRevokedByIntel` (same PCK certificate as a record Intel revoked).
    /// @param caPubkey DER SubjectPublicKeyInfo of the KMS root CA key (P-256), 91 bytes.
    /// @param k256Pubkey SEC1 compressed root k256 key, 33 bytes.
    /// @param quote Raw Intel TDX quote.
    /// @param collateral Intel's collateral for the quote, in the verifier's layout.
    /// @return kms The KMS's address.
    function registerVerified(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata quote,
        IDcapVerifier.Collateral calldata collateral
    ) external returns (address kms);

    /// @notice Re-verifies the registered quote of an on-chain registration with (newer) collateral, at
    ///         block.timestamp; anyone may call it. When it verifies, the record's status, collateral
    ///         expiry and tcbEvaluationDataNumber are updated and the record is stale exactly when the
    ///         status is not accepted. When Intel's own authentic, fresh documents reject it — the TCB
    ///         level is Revoked, no TCB level (of the platform, the QE or the TDX module) matches any
    ///         more, or the registered PCK certificate (or its CA) is on Intel's CRL — the record is
    ///         marked stale (Revoked for revocations, which is final). Any other failure (bad or foreign
    ///         signatures, expired or not-yet-valid documents, another platform's documents, unreadable
    ///         input) reverts and changes nothing: junk collateral cannot make a KMS stale. Emits
    ///         `KmsRechecked`.
    /// @dev Reverts with `NoVerifier`, `KmsNotRegistered`, `KmsIsRevoked`, `KmsNotVerifiedOnChain`,
    ///      `KmsRevokedByIntel`, `QuoteHashMismatch`, `PckLeafMismatch`, `CollateralRollback`, or the
    ///      verifier's error.
    /// @param kms The KMS address.
    /// @param quote The registered quote (keccak256 must equal the record's quoteHash).
    /// @param collateral Intel's collateral, with the registered PCK leaf and a TCB Info whose
    ///        tcbEvaluationDataNumber is at least the record's.
    /// @return stale Whether the record is stale now.
    function recheck(address kms, bytes calldata quote, IDcapVerifier.Collateral calldata collateral)
        external
        returns (bool stale);

    /// @notice Revokes a registered KMS for good: its signatures stop verifying, it cannot prove
    ///         liveness and cannot be registered again. Only REGISTRAR_ROLE. Emits `KmsRevoked`.
    /// @param kms The KMS address.
    /// @param reason Free-text reason, kept in the event.
    function revoke(address kms, string calldata reason) external;

    // ───────────────────────────── image allowlist ─────────────────────────────

    /// @notice Switches the image-measurement allowlist on or off (DEFAULT_ADMIN_ROLE). While it is on,
    ///         `register` requires the quote's image measurement to be allowed. Emits `ImageAllowlistToggled`.
    /// @param enabled The new state.
    function setImageAllowlistEnabled(bool enabled) external;

    /// @notice Adds an image measurement to, or removes it from, the allowlist (DEFAULT_ADMIN_ROLE).
    ///         Emits `ImageMeasurementSet`.
    /// @param imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    /// @param allowed True to allow, false to remove.
    function setImageAllowed(bytes32 imageMeasurement, bool allowed) external;

    /// @notice Whether `register` enforces the image-measurement allowlist.
    /// @return True when on.
    function imageAllowlistEnabled() external view returns (bool);

    /// @notice Whether an image measurement is on the allowlist.
    /// @param imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    /// @return True when allowed.
    function isImageAllowed(bytes32 imageMeasurement) external view returns (bool);

    // ───────────────────────────── accepted TCB statuses ─────────────────────────────

    /// @notice Adds a TCB status to, or removes it from, the set `registerVerified` and `recheck` accept
    ///         (DEFAULT_ADMIN_ROLE). Defaults: UpToDate and SWHardeningNeeded. Emits `AcceptedStatusSet`.
    /// @param tcbStatus The status (IntelJson.TcbStatus order), UpToDate … OutOfDateConfigurationNeeded.
    /// @param accepted True to accept.
    function setStatusAccepted(uint8 tcbStatus, bool accepted) external;

    /// @notice Whether a TCB status is accepted.
    /// @param tcbStatus The status (IntelJson.TcbStatus order).
    /// @return True when accepted.
    function isStatusAccepted(uint8 tcbStatus) external view returns (bool);

    // ───────────────────────────── reads ─────────────────────────────

    /// @notice The on-chain DCAP verifier, fixed at deployment (address(0): on-chain path disabled).
    /// @return The verifier's address.
    function verifier() external view returns (address);

    /// @notice Whether a dapp that trusts only Intel may rely on `kms`: registered, not revoked, its latest
    ///         attestation verified on chain under Intel's root, not stale, and block.timestamp ≤ the
    ///         collateral's expiry (after which a `recheck` with fresh collateral renews it).
    /// @param kms The KMS address.
    /// @return True when all hold.
    function isVerifiedOnChain(address kms) external view returns (bool);

    /// @notice Whether `kms` is registered and not revoked.
    /// @param kms The KMS address.
    /// @return True when active.
    function isRegistered(address kms) external view returns (bool);

    /// @notice The stored record of `kms` (all zero when never registered).
    /// @param kms The KMS address.
    /// @return The record.
    function kmsInfo(address kms) external view returns (KmsRecord memory);

    /// @notice The current liveness nonce of `kms`: the number of accepted liveness proofs, part of the challenge.
    /// @param kms The KMS address.
    /// @return The nonce.
    function nonce(address kms) external view returns (uint256);

    /// @notice Ethereum address of a secp256k1 public key, as the registry computes it.
    /// @dev Reverts with `InvalidK256PubkeyLength` or `K256PubkeyNotOnCurve` for unusable keys.
    /// @param k256Pubkey 33-byte compressed or 65-byte uncompressed (0x04 ‖ x ‖ y) SEC1 key.
    /// @return The address: the last 20 bytes of keccak256(x ‖ y).
    function kmsAddress(bytes calldata k256Pubkey) external view returns (address);

    /// @notice The 32-byte hash a KMS quote carries in report_data[0:32] for these keys (the rest is zero).
    /// @dev Any lengths are accepted; `register` only accepts 91 and 33 bytes.
    /// @param caPubkey CA SubjectPublicKeyInfo bytes (hex-encoded as given).
    /// @param k256Pubkey k256 key bytes (hex-encoded as given).
    /// @return keccak256("dstack-kms-genereted-keys-v1:" ‖ lowerhex(caPubkey) ‖ ";" ‖ lowerhex(k256Pubkey) ‖ ";").
    function reportDataHash(bytes calldata caPubkey, bytes calldata k256Pubkey) external pure returns (bytes32);

    /// @notice The fields `register` reads from a TDX quote.
    /// @dev Reverts with the quote errors of `register` for unsupported or truncated quotes.
    /// @param quote Raw TDX v4/v5 quote.
    /// @return reportDataHigh report_data[0:32].
    /// @return reportDataLow report_data[32:64].
    /// @return imageMeasurement keccak256(mrTd ‖ rtMr0 ‖ rtMr1 ‖ rtMr2).
    function quoteFields(bytes calldata quote)
        external
        pure
        returns (bytes32 reportDataHigh, bytes32 reportDataLow, bytes32 imageMeasurement);

    // ───────────────────────────── signature views ─────────────────────────────

    /// @notice Whether the active KMS `kms` signed `digest` (65-byte r ‖ s ‖ v, v ∈ {0, 1, 27, 28}, low s).
    ///         Never reverts: malformed signatures and unknown or revoked KMS give false.
    /// @dev Hash the message yourself; never accept a digest from a caller. Anyone can make a dstack KMS
    ///      sign an env-encrypt message for any app id through its public GetAppEnvEncryptPubKey RPC, so
    ///      "the KMS signed this digest" only means something for the digest of a message that cannot be
    ///      confused with the messages the KMS signs (app key, env-encrypt key, GetKey chain).
    /// @param kms The KMS address.
    /// @param digest The signed 32-byte digest (no EIP-191 prefix).
    /// @param signature 65 bytes r ‖ s ‖ v.
    /// @return True when valid.
    function verifySignature(address kms, bytes32 digest, bytes calldata signature) external view returns (bool);

    /// @notice Whether the active KMS `kms` issued `appPubkey` to `appId`: `signature` is by the KMS over
    ///         keccak256("dstack-kms-issued:" ‖ appId ‖ appPubkey). Never reverts.
    /// @param kms The KMS address.
    /// @param appId The 20-byte dstack app id.
    /// @param appPubkey The app's 33-byte compressed k256 key.
    /// @param signature 65 bytes r ‖ s ‖ v (the `k256_signature` of GetAppKey).
    /// @return True when valid.
    function verifyAppKey(address kms, address appId, bytes calldata appPubkey, bytes calldata signature)
        external
        view
        returns (bool);

    /// @notice Whether the active KMS `kms` signed the X25519 env-encrypt key `publicKey` for `appId` at
    ///         `timestamp`: `signature` is by the KMS over keccak256("dstack-env-encrypt-pubkey:" ‖ appId ‖
    ///         timestamp (u64 big-endian) ‖ publicKey), the `signature_v1` of GetAppEnvEncryptPubKey.
    ///         Freshness of `timestamp` is the caller's policy. Never reverts.
    /// @param kms The KMS address.
    /// @param appId The 20-byte dstack app id.
    /// @param publicKey The X25519 public key.
    /// @param timestamp Unix seconds from the KMS answer.
    /// @param signature 65 bytes r ‖ s ‖ v.
    /// @return True when valid.
    function verifyEnvEncryptPubkey(
        address kms,
        address appId,
        bytes32 publicKey,
        uint64 timestamp,
        bytes calldata signature
    ) external view returns (bool);

    /// @notice Verifies a dstack GetKey signature chain [derived, app] up to the active KMS `kms`:
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
    ) external view returns (address derivedSigner);

    // ───────────────────────────── liveness ─────────────────────────────

    /// @notice The current liveness epoch.
    /// @return epoch block.number / LIVENESS_EPOCH_BLOCKS.
    function livenessEpoch() external view returns (uint256 epoch);

    /// @notice The app id a live KMS must sign an env-encrypt key for (through its public
    ///         GetAppEnvEncryptPubKey RPC) to prove liveness in the current epoch:
    ///         bytes20(keccak256(abi.encode(block.chainid, registry, kms, nonce(kms), epoch, anchor))),
    ///         with epoch = `livenessEpoch()` and anchor = blockhash(epoch · LIVENESS_EPOCH_BLOCKS − 1)
    ///         (blockhash(0) for epoch 0).
    /// @dev Reverts with `LivenessAnchorUnavailable` if the chain does not return the anchor's hash.
    /// @param kms The KMS address.
    /// @return appId The challenge.
    function livenessChallenge(address kms) external view returns (bytes20 appId);

    /// @notice The liveness challenge of `kms` for `epoch`, which must be the current or the previous one.
    /// @dev Reverts with `LivenessEpochInFuture`, `LivenessEpochTooOld` or `LivenessAnchorUnavailable`,
    ///      exactly as `proveLiveness` would for that epoch.
    /// @param kms The KMS address.
    /// @param epoch The epoch (`livenessEpoch()` or one less).
    /// @return appId The challenge.
    function livenessChallengeAt(address kms, uint256 epoch) external view returns (bytes20 appId);

    /// @notice Accepts an env-encrypt signature (`signature_v1`) by the KMS for app id =
    ///         `livenessChallengeAt(kms, epoch)` as proof that whoever answers the KMS's RPC holds its root
    ///         key. Anyone may submit. Bumps the nonce by one, so a proof cannot be replayed, and emits
    ///         `KmsLivenessProven`.
    /// @dev `epoch` must be the current or the previous liveness epoch, so the answer cannot have been made
    ///      before the last block preceding that epoch, at most 256 blocks ago. `timestamp` must lie within
    ///      [block.timestamp − LIVENESS_MAX_AGE, block.timestamp + LIVENESS_MAX_FUTURE]. Reverts with
    ///      `KmsNotRegistered`, `KmsIsRevoked`, `LivenessTimestampTooOld`, `LivenessTimestampInFuture`,
    ///      `LivenessEpochInFuture`, `LivenessEpochTooOld`, `LivenessAnchorUnavailable` or
    ///      `InvalidLivenessSignature`.
    /// @param kms The KMS address (registered, not revoked).
    /// @param epoch The liveness epoch the challenge was read for.
    /// @param publicKey The X25519 `public_key` of the KMS answer.
    /// @param timestamp The `timestamp` of the KMS answer.
    /// @param signature The `signature_v1` of the KMS answer (65 bytes r ‖ s ‖ v).
    function proveLiveness(address kms, uint256 epoch, bytes32 publicKey, uint64 timestamp, bytes calldata signature)
        external;

    // ───────────────────────────── AMD SEV-SNP ─────────────────────────────

    /// @notice The AMD evidence of an SEV-SNP registration (`registerSnp`): with the report in the
    ///         `KmsRegistered` event of the same transaction, everything needed to re-verify the report's
    ///         signature and its chain VCEK ← ASK ← ARK off chain from chain data alone. Not checked on chain.
    /// @param kms The KMS address.
    /// @param quoteHash keccak256 of the registered SNP report.
    /// @param vcek The VCEK certificate (DER) the registrar verified the report's signature with.
    /// @param amdChain The ASK and ARK certificates (AMD's KDS `cert_chain`: PEM, ASK then ARK).
    event KmsSnpEvidencePublished(address indexed kms, bytes32 indexed quoteHash, bytes vcek, bytes amdChain);

    /// @notice The AMD CRL an SEV-SNP registration was checked against (`registerSnp` with a CRL): with
    ///         `KmsSnpEvidencePublished`, what an auditor needs to re-check AMD's revocation of the ASK from
    ///         chain data alone. Not checked on chain.
    /// @param kms The KMS address.
    /// @param quoteHash keccak256 of the registered SNP report.
    /// @param crl The CRL (DER) the ARK signed, as AMD's KDS serves it.
    event KmsSnpCrlPublished(address indexed kms, bytes32 indexed quoteHash, bytes crl);

    /// @notice Registers a KMS running on AMD SEV-SNP, or re-attests an active one (same CA key), with its
    ///         raw SNP attestation report. Only REGISTRAR_ROLE: the registrar verified the report off chain
    ///         (its VCEK signature, the AMD chain to the pinned ARK, the TCB and the guest policy). Emits
    ///         `KmsRegistered` (its `quote` is the raw report), `KmsSnpEvidencePublished` and, when `crl` is
    ///         not empty, `KmsSnpCrlPublished`.
    /// @dev The checks of `register` with the report in place of the quote: `caPubkey` and `k256Pubkey` as
    ///      there; the report is 1184 bytes of version 2 to 5 and signature algorithm 1
    ///      (`SnpReportLengthMismatch`, `UnsupportedSnpReportVersion`, `UnsupportedSnpSignatureAlgorithm`)
    ///      whose report_data (at 0x50) is keccak256(binding string) ‖ 32 zero bytes (`ReportDataMismatch`);
    ///      its image measurement keccak256(measurement), the 48 bytes at 0x90, is allowed when the
    ///      allowlist is on (`ImageNotAllowed`); the KMS is not
    ///      revoked and keeps its CA key. The record is a registrar-path record; `platformOf` says SEV-SNP.
    ///      `vcek`, `amdChain` and `crl` are only published.
    /// @param caPubkey DER SubjectPublicKeyInfo of the KMS root CA key (P-256), 91 bytes.
    /// @param k256Pubkey SEC1 compressed root k256 key, 33 bytes.
    /// @param report Raw SEV-SNP attestation report (1184 bytes).
    /// @param vcek The VCEK certificate, DER.
    /// @param amdChain The ASK and ARK certificates, PEM (AMD's KDS `cert_chain`).
    /// @param crl The AMD CRL (DER) the chain was checked against, or empty when none was.
    /// @return kms The KMS's address.
    function registerSnp(
        bytes calldata caPubkey,
        bytes calldata k256Pubkey,
        bytes calldata report,
        bytes calldata vcek,
        bytes calldata amdChain,
        bytes calldata crl
    ) external returns (address kms);

    /// @notice Registers a KMS running in an AWS Nitro Enclave, or re-attests an active one (same CA key),
    ///         with its NSM attestation document. Only REGISTRAR_ROLE: the registrar verified the document off
    ///         chain (its ES384 signature, the cabundle chain to AWS's pinned Nitro Enclaves Root-G1 at the
    ///         document's timestamp, the debug-mode rule). Emits `KmsRegistered`, whose `quote` is the
    ///         document: it carries its own certificate chain, so it can be re-verified from chain data alone.
    /// @dev The checks of `register` with the document in place of the quote: `caPubkey` and `k256Pubkey` as
    ///      there; the document's payload user_data (64 bytes: dstack's report_data) is keccak256(binding
    ///      string) ‖ 32 zero bytes (`ReportDataMismatch`); its image measurement sha256(PCR0 ‖ PCR1 ‖ PCR2),
    ///      dstack's os_image_hash, is allowed when the allowlist is on (`ImageNotAllowed`); the KMS is not
    ///      revoked and keeps its CA key. A document the reader cannot read reverts `CborTruncated`,
    ///      `CborUnsupported`, `NitroDocumentMalformed`, `NitroFieldMissing` or `NitroUserDataLengthMismatch`.
    ///      The record is a registrar-path record; `platformOf` says AWS Nitro Enclave.
    /// @param caPubkey DER SubjectPublicKeyInfo of the KMS root CA key (P-256), 91 bytes.
    /// @param k256Pubkey SEC1 compressed root k256 key, 33 bytes.
    /// @param document The NSM attestation document (COSE_Sign1, optionally tagged 18).
    /// @return kms The KMS's address.
    function registerNitro(bytes calldata caPubkey, bytes calldata k256Pubkey, bytes calldata document)
        external
        returns (address kms);

    /// @notice The fields `registerNitro` reads from a Nitro attestation document.
    /// @dev Reverts with the reader's errors (see `registerNitro`).
    /// @param document The NSM attestation document.
    /// @return reportDataHigh user_data[0:32].
    /// @return reportDataLow user_data[32:64].
    /// @return imageMeasurement sha256(PCR0 ‖ PCR1 ‖ PCR2) (dstack's os_image_hash).
    /// @return timestamp The document's timestamp, milliseconds since the Unix epoch.
    function nitroDocumentFields(bytes calldata document)
        external
        pure
        returns (bytes32 reportDataHigh, bytes32 reportDataLow, bytes32 imageMeasurement, uint64 timestamp);

    /// @notice The platform of the latest (re-)attestation of `kms`: 0 = Intel TDX (`register`,
    ///         `registerWithCollateral`, `registerVerified`), 1 = AMD SEV-SNP (`registerSnp`), 2 = AWS Nitro
    ///         Enclave (`registerNitro`).
    /// @dev Keyed by the record's quoteHash, so every registration path sets it. 0 also for a KMS that
    ///      was never registered: check `kmsInfo(kms).attestedAt` or `isRegistered`.
    /// @param kms The KMS address.
    /// @return The platform.
    function platformOf(address kms) external view returns (uint8);

    /// @notice The fields `registerSnp` reads from an SEV-SNP report.
    /// @dev Reverts with `SnpReportLengthMismatch`, `UnsupportedSnpReportVersion` or
    ///      `UnsupportedSnpSignatureAlgorithm`.
    /// @param report Raw SEV-SNP attestation report.
    /// @return reportDataHigh report_data[0:32] (bytes 0x50–0x6F).
    /// @return reportDataLow report_data[32:64] (bytes 0x70–0x8F).
    /// @return imageMeasurement keccak256(measurement), the 48 bytes at 0x90.
    function snpReportFields(bytes calldata report)
        external
        pure
        returns (bytes32 reportDataHigh, bytes32 reportDataLow, bytes32 imageMeasurement);
}
