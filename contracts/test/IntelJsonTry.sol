// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IntelJsonHarness} from "./IntelJsonHarness.sol";

/// @dev Calls the harness and returns a refusal's revert data instead of reverting, so a test reads
///      many refusals from successful calls.
contract IntelJsonTry {
    IntelJsonHarness public immutable HARNESS;

    constructor(IntelJsonHarness h) {
        HARNESS = h;
    }

    /// @dev `evaluate` with a refusal returned, not reverted: `ok` false and the revert data.
    function tryEvaluate(bytes calldata tcbInfoText, bytes calldata qeIdentityText, IntelJsonHarness.Platform calldata pl)
        external
        view
        returns (bool ok, IntelJsonHarness.Evaluation memory e, bytes memory err)
    {
        try HARNESS.evaluate(tcbInfoText, qeIdentityText, pl) returns (IntelJsonHarness.Evaluation memory r) {
            return (true, r, "");
        } catch (bytes memory reason) {
            return (false, e, reason);
        }
    }

    /// @dev The revert data of parsing `text` as TCB Info (`tcb`) or QE Identity; empty when it parses.
    function parseError(bytes calldata text, bool tcb) external view returns (bytes memory) {
        if (tcb) {
            try HARNESS.parseTcbInfo(text) {
                return "";
            } catch (bytes memory reason) {
                return reason;
            }
        }
        try HARNESS.parseQeIdentity(text) {
            return "";
        } catch (bytes memory reason) {
            return reason;
        }
    }
}
