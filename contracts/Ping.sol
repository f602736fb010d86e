// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Ping
/// @notice Smallest possible contract, used by the foundation tests to prove the toolchain works
///         end to end (compile with the bundled solc, deploy on EDR, call through viem).
contract Ping {
    /// @notice Emitted when `ping` is called.
    /// @param from The caller.
    /// @param value The value it sent.
    event Pinged(address indexed from, uint256 value);

    /// @notice Number of pings received.
    uint256 public count;

    /// @notice Records a ping and echoes `value` back.
    /// @param value Any number.
    /// @return The same number.
    function ping(uint256 value) external returns (uint256) {
        unchecked {
            ++count;
        }
        emit Pinged(msg.sender, value);
        return value;
    }
}
