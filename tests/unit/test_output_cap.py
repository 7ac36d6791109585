"""Node reads and command output are capped: a node file that is really /dev/zero cannot eat the grader's memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from breakfix.errors import NodeError
from breakfix.transport.local import LocalTransport
from breakfix.transport.node import Node
from breakfix.transport.shell import MAX_OUTPUT


def test_default_cap_is_64_mib() -> None:
    assert LocalTransport().max_output == MAX_OUTPUT == 64 << 20


def test_reading_an_endless_file_stops_at_the_cap() -> None:
    node = Node("w1", "worker", LocalTransport())
    began = time.monotonic()
    with pytest.raises(NodeError) as err:
        node.read("/dev/zero")
    assert time.monotonic() - began < 20
    message = str(err.value)
    assert "/dev/zero" in message and "64 MiB" in message and "\n" not in message


def test_endless_command_output_stops_at_the_cap() -> None:
    transport = LocalTransport()
    transport.max_output = 1 << 20
    node = Node("w1", "worker", transport)
    began = time.monotonic()
    with pytest.raises(NodeError, match=r"local: `yes` wrote more than 1 MiB of output"):
        node.run("yes", timeout=30)
    with pytest.raises(NodeError, match="more than 1 MiB"):
        node.run("yes >&2", timeout=30)  # stderr counts too
    assert time.monotonic() - began < 20


def test_output_under_the_cap_stdin_and_timeout_still_work() -> None:
    node = Node("w1", "worker", LocalTransport())
    result = node.run("cat; echo err >&2; exit 4")
    assert (result.rc, result.stderr) == (4, "err\n")
    assert node.transport.run("cat", stdin=b"x" * 3_000_000).stdout == "x" * 3_000_000
    began = time.monotonic()
    slow = node.run("sleep 30", timeout=0.5)
    assert slow.rc == 124 and "timed out" in slow.stderr and time.monotonic() - began < 10


def test_a_node_file_that_is_not_text_is_one_node_error(tmp_path: Path) -> None:
    target = tmp_path / "kubelet.conf"
    target.write_bytes(b"apiVersion: v1\n\xff\xfe")
    with pytest.raises(NodeError, match=rf"w1: {target} is not UTF-8 text \(byte 15\)"):
        Node("w1", "worker", LocalTransport()).read_text(str(target))
