// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// The memory structs are never stored, so slot packing does not apply.
// solhint-disable gas-struct-packing

import {IntelJson} from "./IntelJson.sol";

/// @title IDcapVerifier
/// @notice A stateless verifier of Intel TDX quotes against Intel's collateral passed in calldata, at a
///         given time, under one trust root fixed at deployment.
interface IDcapVerifier {
    /// @notice The verification steps, in the order they run.
    enum Step {
        QuoteParse,
        QuoteHeader,
        RootCaCrl,
        TcbInfoValidity,
        TcbInfoChain,
        TcbInfoSignature,
        QeIdentityValidity,
        QeIdentityChain,
        QeIdentitySignature,
        QeIdentityId,
        PckChain,
        PckExtension,
        QeReportSignature,
        QeReportBinding,
        QeIdentityPolicy,
        QuoteSignature,
        TcbFmspc,
        TcbLevel,
        TcbTdxModule,
        TcbStatus,
        ReportPolicy
    }

    /// @notice Why a step failed.
    enum Reason {
        HeaderInvalid,
        IssuerMismatch,
        SignatureInvalid,
        NotYetValid,
        Expired,
        Revoked,
        CertificateInvalid,
        NotTcbSigning,
        NotPckCa,
        StatusRevoked,
        ServiceTdNotZero,
        ReservedAttributes,
        DebugTd,
        SeptVeDisableClear
    }

    /// @notice Intel's collateral for one quote, every field as published by Intel's PCS.
    struct Collateral {
        /// the `tcbInfo` object's exact text
        bytes tcbInfoJson;
        /// raw r ‖ s over `tcbInfoJson`
        bytes tcbInfoSignature;
        /// the `enclaveIdentity` object's exact text
        bytes qeIdentityJson;
        /// raw r ‖ s over `qeIdentityJson`
        bytes qeIdentitySignature;
        /// the Intel SGX TCB Signing certificate that signed the TCB Info (DER)
        bytes tcbSigningCert;
        /// the PCK Platform or Processor CA certificate (DER)
        bytes pckCaCert;
        /// the PCK leaf certificate (DER)
        bytes pckLeafCert;
        /// the PCK CA's CRL (DER)
        bytes pckCrl;
        /// the root CA's CRL (DER)
        bytes rootCaCrl;
        /// the certificate that signed the QE Identity (DER); empty when it is `tcbSigningCert`
        bytes qeIdentitySigningCert;
    }

    /// @notice What a verified quote attests.
    struct Result {
        IntelJson.TcbStatus status;
        string[] advisoryIds;
        bytes6 fmspc;
        /// the matched platform TCB level's `tcbDate`
        string tcbDate;
        /// the earliest `nextUpdate` of the TCB Info, the QE Identity and both CRLs (unix seconds)
        uint256 earliestNextUpdate;
        bytes reportData;
        bytes mrTd;
        bytes[4] rtMrs;
        bytes8 tdAttributes;
        bool isIntelRoot;
        /// the TCB Info's `issueDate` (unix seconds)
        uint64 tcbInfoIssueDate;
        /// the TCB Info's `tcbEvaluationDataNumber`
        uint64 tcbEvaluationDataNumber;
    }

    /// @notice Step `step` failed for `reason`.
    error VerificationFailed(Step step, Reason reason);


    /// @notice True when the trust root is Intel's SGX Root CA key.
    function isIntelRoot() external view returns (bool);

    /// @notice Verifies a TDX quote against `c` at `time` (unix seconds). Reverts at the first failing
    ///         step; returns the TCB status (never Revoked), its advisory IDs and what the TD reported.
    function verify(bytes calldata quote, Collateral calldata c, uint64 time) external view returns (Result memory r);
}
