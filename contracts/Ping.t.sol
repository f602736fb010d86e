// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ping} from "./Ping.sol";

contract PingTest {
    Ping internal ping;

    function setUp() public {
        ping = new Ping();
    }

    function test_PingCounts() public {
        require(ping.ping(7) == 7, "echo");
        require(ping.count() == 1, "count");
    }

    function testFuzz_PingEchoes(uint256 x) public {
        require(ping.ping(x) == x, "echo");
    }
}
