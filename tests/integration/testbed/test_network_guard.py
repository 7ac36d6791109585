"""Test bed networks keep their traffic inside: forwarded packets to any other address are rejected.

The probe never needs an address outside this machine: it aims at a node on a second test bed
network. Without the guard, docker's own isolation would silently drop that packet (the connection
times out); the guard rejects it at once, and its rule counts the packet.
"""

from __future__ import annotations

import time

import pytest

from tests.testbed import cleanup, dockercli, network
from tests.testbed.nodes import start_nodes

pytestmark = pytest.mark.testbed


def rejected_packets(name: str) -> int:
    out = network.iptables("-L", network.GUARD_CHAIN, "-v", "-x", "-n").stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if f"{network.GUARD_TAG}{name}" in line)


def test_forwarded_packets_to_other_networks_are_rejected_not_sent(testbed_docker: None) -> None:
    here, there = start_nodes(count_workers=0), start_nodes(count_workers=0)
    try:
        assert network.guarded().keys() >= {here.network, there.network}
        target = there.nodes[0].ip
        before = rejected_packets(here.network)
        started = time.monotonic()
        probe = dockercli.docker(
            "exec", here.nodes[0].container, "timeout", "20", "bash", "-c",
            f"exec 3<>/dev/tcp/{target}/22 && echo connected || echo refused",
            check=False,
        )  # fmt: skip
        took = time.monotonic() - started
        assert "refused" in probe and took < 10, (probe, took)  # rejected at once, not dropped
        assert rejected_packets(here.network) > before
    finally:
        here.teardown()
        there.teardown()
    assert here.network not in network.guarded() and there.network not in network.guarded()


def test_guards_of_vanished_networks_are_removed(testbed_docker: None) -> None:
    subnet = network.create("bfguard-orphan-net", {"breakfix.testbed.probe": "orphan"})
    dockercli.docker("network", "rm", "bfguard-orphan-net")  # as if the run was killed
    assert "bfguard-orphan-net" in network.guarded()
    cleanup.remove_stale()
    assert "bfguard-orphan-net" not in network.guarded(), subnet
