// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// solhint-disable gas-strict-inequalities, gas-struct-packing, function-max-lines

import {IntelJson} from "../dcap/IntelJson.sol";
import {QeIdentity} from "../dcap/QeIdentity.sol";
import {TcbInfo} from "../dcap/TcbInfo.sol";

/// @dev Exposes the TCB Info / QE Identity readers and their evaluation with every string expanded,
///      for the differential tests and the gas bench.
contract IntelJsonHarness {
    struct LevelView {
        uint8[] sgx;
        uint8[] tdx;
        uint16 pceSvn;
        string tcbDate;
        IntelJson.TcbStatus status;
        string[] advisoryIds;
    }

    struct EnclaveLevelView {
        uint16 isvSvn;
        string tcbDate;
        IntelJson.TcbStatus status;
        string[] advisoryIds;
    }

    struct ModuleIdentityView {
        string id;
        bytes mrSigner;
        bytes8 attributes;
        bytes8 attributesMask;
        EnclaveLevelView[] tcbLevels;
    }

    struct TcbInfoView {
        string id;
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
        ModuleIdentityView[] tdxModuleIdentities;
        LevelView[] tcbLevels;
    }

    struct QeIdentityView {
        string id;
        uint8 version;
        uint64 issueDate;
        uint64 nextUpdate;
        uint64 tcbEvaluationDataNumber;
        uint32 miscselect;
        uint32 miscselectMask;
        bytes16 attributes;
        bytes16 attributesMask;
        bytes32 mrSigner;
        uint16 isvProdId;
        EnclaveLevelView[] tcbLevels;
    }

    /// @dev What the quote and the PCK certificate say about the platform and the QE.
    struct Platform {
        bool tdx;
        bytes16 cpuSvn;
        uint16 pceSvn;
        bytes16 teeTcbSvn;
        bytes mrSignerSeam;
        bytes8 seamAttributes;
        bytes32 qeMrSigner;
        bytes16 qeAttributes;
        uint16 qeIsvProdId;
        uint32 qeMiscSelect;
        uint16 qeIsvSvn;
    }

    struct Evaluation {
        uint256 levelIndex;
        IntelJson.TcbStatus levelStatus;
        bool moduleGraded;
        IntelJson.TcbStatus moduleStatus;
        /// the level converged with the module grade
        IntelJson.TcbStatus platformStatus;
        string[] platformAdvisoryIds;
        IntelJson.TcbStatus qeStatus;
        string[] qeAdvisoryIds;
        /// the platform converged with the QE
        IntelJson.TcbStatus status;
        string[] advisoryIds;
    }

    function parseTcbInfo(bytes calldata text) external pure returns (TcbInfoView memory v) {
        bytes memory s = text;
        TcbInfo.Info memory info = TcbInfo.parse(s);
        v.id = IntelJson.sliceText(s, info.id);
        v.version = info.version;
        v.issueDate = info.issueDate;
        v.nextUpdate = info.nextUpdate;
        v.fmspc = info.fmspc;
        v.pceId = info.pceId;
        v.tcbEvaluationDataNumber = info.tcbEvaluationDataNumber;
        v.hasTdxModule = info.hasTdxModule;
        v.tdxModuleMrSigner = info.tdxModuleMrSigner;
        v.tdxModuleAttributes = info.tdxModuleAttributes;
        v.tdxModuleAttributesMask = info.tdxModuleAttributesMask;
        v.tdxModuleIdentities = new ModuleIdentityView[](info.tdxModuleIdentities.length);
        for (uint256 i; i < info.tdxModuleIdentities.length; ++i) {
            TcbInfo.ModuleIdentity memory m = info.tdxModuleIdentities[i];
            v.tdxModuleIdentities[i] = ModuleIdentityView(
                IntelJson.sliceText(s, m.id),
                m.mrSigner,
                m.attributes,
                m.attributesMask,
                enclaveLevels(s, m.tcbLevels)
            );
        }
        v.tcbLevels = new LevelView[](info.tcbLevels.length);
        for (uint256 i; i < info.tcbLevels.length; ++i) {
            TcbInfo.Level memory lvl = info.tcbLevels[i];
            v.tcbLevels[i] = LevelView(
                unpack(lvl.sgx, true),
                unpack(lvl.tdx, lvl.hasTdx),
                lvl.pceSvn,
                IntelJson.sliceText(s, lvl.tcbDate),
                lvl.status,
                IntelJson.advisoryIds(s, lvl.advisories)
            );
        }
    }

    function parseQeIdentity(bytes calldata text) external pure returns (QeIdentityView memory v) {
        bytes memory s = text;
        QeIdentity.Identity memory qe = QeIdentity.parse(s);
        v.id = IntelJson.sliceText(s, qe.id);
        v.version = qe.version;
        v.issueDate = qe.issueDate;
        v.nextUpdate = qe.nextUpdate;
        v.tcbEvaluationDataNumber = qe.tcbEvaluationDataNumber;
        v.miscselect = qe.miscselect;
        v.miscselectMask = qe.miscselectMask;
        v.attributes = qe.attributes;
        v.attributesMask = qe.attributesMask;
        v.mrSigner = qe.mrSigner;
        v.isvProdId = qe.isvProdId;
        v.tcbLevels = enclaveLevels(s, qe.tcbLevels);
    }

    /// @dev Parse both documents and grade the platform and the QE (no FMSPC / id / date checks).
    function evaluate(bytes calldata tcbInfoText, bytes calldata qeIdentityText, Platform calldata pl)
        external
        pure
        returns (Evaluation memory e)
    {
        return evaluateMemory(tcbInfoText, qeIdentityText, pl);
    }

    /// @dev `evaluate` as a transaction, for receipts' gas.
    function evaluateTx(bytes calldata tcbInfoText, bytes calldata qeIdentityText, Platform calldata pl)
        external
        returns (IntelJson.TcbStatus)
    {
        return evaluateMemory(tcbInfoText, qeIdentityText, pl).status;
    }

    /// @dev Gas of each part, measured inside the call: [parse TCB Info, parse QE Identity, grade, advisory IDs].
    function measure(bytes calldata tcbInfoText, bytes calldata qeIdentityText, Platform calldata pl)
        external
        view
        returns (uint256[4] memory gas)
    {
        bytes memory t = tcbInfoText;
        bytes memory q = qeIdentityText;
        uint256 g = gasleft();
        TcbInfo.Info memory info = TcbInfo.parse(t);
        gas[0] = g - gasleft();
        g = gasleft();
        QeIdentity.Identity memory qe = QeIdentity.parse(q);
        gas[1] = g - gasleft();
        g = gasleft();
        uint256[3] memory adv = grade(t, info, qe, pl);
        gas[2] = g - gasleft();
        g = gasleft();
        string[] memory ids = IntelJson.advisoryIds(t, adv[0]);
        ids = IntelJson.mergeAdvisoryIds(IntelJson.mergeAdvisoryIds(ids, t, adv[1]), q, adv[2]);
        gas[3] = g - gasleft();
        if (ids.length > 64) gas[3] = 0;
    }

    function grade(bytes memory t, TcbInfo.Info memory info, QeIdentity.Identity memory qe, Platform calldata pl)
        private
        pure
        returns (uint256[3] memory adv)
    {
        IntelJson.TcbStatus status;
        uint256 i = TcbInfo.matchPlatformLevel(info, pl.cpuSvn, pl.pceSvn, pl.teeTcbSvn, pl.tdx);
        status = info.tcbLevels[i].status;
        adv[0] = info.tcbLevels[i].advisories;
        if (pl.tdx) {
            (bool graded, IntelJson.TcbStatus m, uint256 madv) =
                TcbInfo.checkTdxModule(t, info, pl.teeTcbSvn, pl.mrSignerSeam, pl.seamAttributes);
            if (graded) status = IntelJson.convergeStatus(status, m);
            adv[1] = madv;
        }
        IntelJson.TcbStatus qs;
        (qs, adv[2]) = QeIdentity.check(qe, pl.qeMrSigner, pl.qeAttributes, pl.qeIsvProdId, pl.qeMiscSelect, pl.qeIsvSvn);
        if (IntelJson.convergeStatus(status, qs) == IntelJson.TcbStatus.Revoked) adv[0] = 0;
    }

    function evaluateMemory(bytes calldata tcbInfoText, bytes calldata qeIdentityText, Platform calldata pl)
        private
        pure
        returns (Evaluation memory e)
    {
        bytes memory t = tcbInfoText;
        bytes memory q = qeIdentityText;
        TcbInfo.Info memory info = TcbInfo.parse(t);
        QeIdentity.Identity memory qe = QeIdentity.parse(q);
        e.levelIndex = TcbInfo.matchPlatformLevel(info, pl.cpuSvn, pl.pceSvn, pl.teeTcbSvn, pl.tdx);
        TcbInfo.Level memory lvl = info.tcbLevels[e.levelIndex];
        e.levelStatus = lvl.status;
        e.platformStatus = lvl.status;
        e.platformAdvisoryIds = IntelJson.advisoryIds(t, lvl.advisories);
        if (pl.tdx) {
            uint256 adv;
            (e.moduleGraded, e.moduleStatus, adv) =
                TcbInfo.checkTdxModule(t, info, pl.teeTcbSvn, pl.mrSignerSeam, pl.seamAttributes);
            if (e.moduleGraded) {
                e.platformStatus = IntelJson.convergeStatus(lvl.status, e.moduleStatus);
                e.platformAdvisoryIds = IntelJson.mergeAdvisoryIds(e.platformAdvisoryIds, t, adv);
            }
        }
        uint256 qAdv;
        (e.qeStatus, qAdv) = QeIdentity.check(qe, pl.qeMrSigner, pl.qeAttributes, pl.qeIsvProdId, pl.qeMiscSelect, pl.qeIsvSvn);
        e.qeAdvisoryIds = IntelJson.advisoryIds(q, qAdv);
        e.status = IntelJson.convergeStatus(e.platformStatus, e.qeStatus);
        e.advisoryIds = IntelJson.mergeAdvisoryIds(e.platformAdvisoryIds, e.qeAdvisoryIds);
    }

    function enclaveLevels(bytes memory s, IntelJson.EnclaveLevel[] memory lv)
        private
        pure
        returns (EnclaveLevelView[] memory out)
    {
        out = new EnclaveLevelView[](lv.length);
        for (uint256 i; i < lv.length; ++i) {
            IntelJson.EnclaveLevel memory x = lv[i];
            string memory date = IntelJson.sliceText(s, x.tcbDate);
            out[i] = EnclaveLevelView(x.isvSvn, date, x.status, IntelJson.advisoryIds(s, x.advisories));
        }
    }

    function unpack(bytes16 packed, bool present) private pure returns (uint8[] memory out) {
        out = new uint8[](present ? 16 : 0);
        for (uint256 i; i < out.length; ++i) out[i] = uint8(packed[i]);
    }
}

