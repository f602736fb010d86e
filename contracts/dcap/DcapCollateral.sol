// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Comparisons follow Intel's rules (≥, ≤) and the memory structs are never stored, so slot packing
// does not apply.
// solhint-disable gas-strict-inequalities, gas-struct-packing

import {IDcapVerifier} from "./IDcapVerifier.sol";
import {IntelJson} from "./IntelJson.sol";
import {QeIdentity} from "./QeIdentity.sol";
import {TcbInfo} from "./TcbInfo.sol";

/// @title DcapCollateral
/// @notice The Intel-JSON steps of `DcapVerifier`: each document read and checked for its validity
///         window (reverting there, at `<document>.validity`), and graded against the platform in the
///         same call, with the grading's failure returned as revert data for the verifier to raise at
///         its own, later step (qe-identity.id, qe-identity.policy, tcb.fmspc, tcb.level,
///         tcb.tdx-module). `DcapVerifier` deploys it in its constructor; it is stateless.
contract DcapCollateral {
    /// @notice What the TCB Info is graded against: the PCK's platform fields (`graded` false when the
    ///         PCK chain failed, which the verifier reports first) and the quote's TDX module fields.
    struct Platform {
        bool graded;
        bytes6 fmspc;
        bytes2 pceId;
        bytes16 cpuSvn;
        uint16 pceSvn;
        bytes16 teeTcbSvn;
        bytes mrSignerSeam;
        bytes8 seamAttributes;
    }

    /// @notice The TCB Info's dates and its grade of the platform: the level's status converged with the
    ///         module's, their advisory IDs and the level's tcbDate, or `failure` (revert data) when a
    ///         tcb.fmspc / tcb.level / tcb.tdx-module check failed.
    struct TcbGrade {
        uint64 issueDate;
        uint64 nextUpdate;
        uint64 tcbEvaluationDataNumber;
        bytes failure;
        IntelJson.TcbStatus status;
        string[] advisoryIds;
        string tcbDate;
    }

    /// @notice The QE report fields the QE Identity grades.
    struct QeReport {
        bytes32 mrSigner;
        bytes16 attributes;
        uint16 isvProdId;
        uint32 miscSelect;
        uint16 isvSvn;
    }

    /// @notice The QE Identity's nextUpdate and its grade of the QE, or the revert data of the failed
    ///         qe-identity.id (`idFailure`) or qe-identity.policy (`policyFailure`) check.
    struct QeGrade {
        uint64 nextUpdate;
        bytes idFailure;
        bytes policyFailure;
        IntelJson.TcbStatus status;
        string[] advisoryIds;
    }

    /// @notice tcb-info.validity (read, issueDate ≤ time ≤ nextUpdate), then the platform's grade.
    function tcbInfo(bytes calldata text, uint64 time, Platform calldata pl) external pure returns (TcbGrade memory g) {
        bytes memory t = text;
        TcbInfo.Info memory info = TcbInfo.parse(t);
        _current(info.issueDate, info.nextUpdate, time, IDcapVerifier.Step.TcbInfoValidity);
        g.issueDate = info.issueDate;
        g.nextUpdate = info.nextUpdate;
        g.tcbEvaluationDataNumber = info.tcbEvaluationDataNumber;
        if (!pl.graded) return g;
        g.failure = TcbInfo.platformError(t, info, pl.fmspc, pl.pceId, true);
        if (g.failure.length != 0) return g;
        uint256 index;
        (index, g.failure) = TcbInfo.tryMatchPlatformLevel(info, pl.cpuSvn, pl.pceSvn, pl.teeTcbSvn, true);
        if (g.failure.length != 0) return g;
        TcbInfo.Level memory lv = info.tcbLevels[index];
        (bool graded, IntelJson.TcbStatus moduleStatus, uint256 moduleAdvisories, bytes memory err) =
            TcbInfo.tryCheckTdxModule(t, info, pl.teeTcbSvn, pl.mrSignerSeam, pl.seamAttributes);
        if (err.length != 0) {
            g.failure = err;
            return g;
        }
        g.status = lv.status;
        g.advisoryIds = IntelJson.advisoryIds(t, lv.advisories);
        if (graded) {
            g.status = IntelJson.convergeStatus(g.status, moduleStatus);
            g.advisoryIds = IntelJson.mergeAdvisoryIds(g.advisoryIds, t, moduleAdvisories);
        }
        g.tcbDate = IntelJson.sliceText(t, lv.tcbDate);
    }

    /// @notice qe-identity.validity (read, issueDate ≤ time ≤ nextUpdate), then qe-identity.id (a TD_QE
    ///         identity of version 2 or 3) and qe-identity.policy (the QE report against it).
    function qeIdentity(bytes calldata text, uint64 time, QeReport calldata r) external pure returns (QeGrade memory g) {
        bytes memory q = text;
        QeIdentity.Identity memory qe = QeIdentity.parse(q);
        _current(qe.issueDate, qe.nextUpdate, time, IDcapVerifier.Step.QeIdentityValidity);
        g.nextUpdate = qe.nextUpdate;
        if (!QeIdentity.isForQuote(q, qe, true)) {
            g.idFailure = abi.encodeWithSelector(QeIdentity.QeIdentityMismatch.selector);
            return g;
        }
        (IntelJson.TcbStatus status, uint256 advisories, bytes4 err) =
            QeIdentity.tryCheck(qe, r.mrSigner, r.attributes, r.isvProdId, r.miscSelect, r.isvSvn);
        if (err != 0) {
            g.policyFailure = abi.encodePacked(err);
            return g;
        }
        g.status = status;
        g.advisoryIds = IntelJson.advisoryIds(q, advisories);
    }

    /// @dev `<document>.validity`: issueDate ≤ time ≤ nextUpdate.
    function _current(uint256 issueDate, uint256 nextUpdate, uint256 time, IDcapVerifier.Step step) private pure {
        if (time < issueDate) revert IDcapVerifier.VerificationFailed(step, IDcapVerifier.Reason.NotYetValid);
        if (time > nextUpdate) revert IDcapVerifier.VerificationFailed(step, IDcapVerifier.Reason.Expired);
    }
}
