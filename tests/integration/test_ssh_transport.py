"""The ssh transport against a real OpenSSH server: quoting, files, host keys, one connection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from breakfix.errors import NodeError
from breakfix.transport.base import FileStat
from breakfix.transport.node import Node
from breakfix.transport.ssh import SSHTransport
from tests.integration.sshd import Sshd


def ssh_node(sshd: Sshd, known_hosts: Path | None = None) -> Node:
    transport = SSHTransport(
        "127.0.0.1", sshd.port, "root", key_file=str(sshd.key_file), known_hosts=str(known_hosts or sshd.known_hosts)
    )
    return Node("cp1", "control-plane", transport)


def test_arguments_are_quoted(sshd: Sshd) -> None:
    node = ssh_node(sshd)
    out = node.check("printf '%%s|' %s %s %s", "a b", "$HOME;echo pwned", "it's")
    assert out == "a b|$HOME;echo pwned|it's|"
    node.close()


def test_exit_codes_stdout_stderr_and_big_outputs(sshd: Sshd) -> None:
    node = ssh_node(sshd)
    result = node.run("echo out; echo err >&2; exit 7")
    assert (result.rc, result.stdout, result.stderr) == (7, "out\n", "err\n")
    big = node.run("head -c 3000000 /dev/zero | tr '\\0' a; head -c 3000000 /dev/zero | tr '\\0' b >&2")
    assert len(big.stdout) == 3_000_000 and len(big.stderr) == 3_000_000
    with pytest.raises(NodeError, match="exited 3"):
        node.check("exit 3")
    node.close()


def test_timeout(sshd: Sshd) -> None:
    node = ssh_node(sshd)
    assert node.run("sleep 5", timeout=0.5).rc == 124
    node.close()


def test_files_atomic_and_mode_owner_kept(sshd: Sshd, tmp_path: Path) -> None:
    node = ssh_node(sshd)
    target = tmp_path / "kube-apiserver.yaml"
    target.write_bytes(b"old\n")
    os.chmod(target, 0o640)
    os.chown(target, 1234, 5678)
    node.write(str(target), b"new \x00\xff bytes\n")
    assert target.read_bytes() == b"new \x00\xff bytes\n"
    st = target.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 1234, 5678)
    assert node.stat(str(target)) == FileStat(0o640, 1234, 5678)
    assert node.read(str(target)) == b"new \x00\xff bytes\n"
    assert node.read(str(tmp_path / "missing")) is None and not node.exists(str(tmp_path / "missing"))
    assert [p.name for p in tmp_path.iterdir()] == ["kube-apiserver.yaml"]  # no temp file left
    node.write(str(tmp_path / "fresh.conf"), "x", FileStat(0o600, 0, 0))
    assert (tmp_path / "fresh.conf").stat().st_mode & 0o777 == 0o600
    node.close()


def test_unknown_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "known_hosts"
    other.write_text(
        f"[127.0.0.1]:{sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    with pytest.raises(NodeError, match="host key does not match"):
        ssh_node(sshd, other).run("true")
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(NodeError, match="not in"):
        ssh_node(sshd, empty).run("true")


def test_one_connection_per_node(sshd: Sshd) -> None:
    before = sshd.accepted_logins()
    node = ssh_node(sshd)
    for i in range(5):
        node.check("echo %s", i)
    node.read("/etc/hostname")
    node.close()
    assert sshd.accepted_logins() - before == 1


def test_unreachable_port_says_what_was_tried() -> None:
    from tests.integration.sshd import free_port

    port = free_port()
    node = Node("w9", "worker", SSHTransport("127.0.0.1", port, "root", connect_timeout=2))
    with pytest.raises(NodeError, match=f"ssh://root@127.0.0.1:{port}: cannot connect"):
        node.run("true")


def test_endless_output_and_files_are_capped(sshd: Sshd) -> None:
    node = ssh_node(sshd)
    assert isinstance(node.transport, SSHTransport)
    node.transport.max_output = 1 << 20
    with pytest.raises(NodeError, match=r"/dev/zero is larger than 1 MiB"):
        node.read("/dev/zero")
    with pytest.raises(NodeError, match=r"`yes` wrote more than 1 MiB"):
        node.run("yes", timeout=30)
    assert node.run("echo still fine").stdout == "still fine\n"  # the connection survives
    node.close()


def test_a_stalled_server_does_not_hang_a_command(sshd: Sshd) -> None:
    import signal
    import subprocess
    import time

    node = ssh_node(sshd)
    assert isinstance(node.transport, SSHTransport)
    node.transport.connect_timeout = 2.0
    assert node.run("true").ok  # connected: the session process serves this connection
    children = subprocess.run(
        ["pgrep", "-P", str(sshd.process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert children
    for pid in children:
        os.kill(int(pid), signal.SIGSTOP)
    try:
        began = time.monotonic()
        try:
            result = node.run("echo hi", timeout=3)
            assert result.rc == 124
        except NodeError as exc:
            assert "cannot run a command" in str(exc)
        assert time.monotonic() - began < 12
    finally:
        for pid in children:
            os.kill(int(pid), signal.SIGCONT)
    assert node.run("echo back").stdout == "back\n"  # a new connection
    node.close()


def test_a_node_whose_host_key_is_not_checked_is_named_once(sshd: Sshd, capsys: pytest.CaptureFixture[str]) -> None:
    from breakfix.transport import ssh

    ssh._UNCHECKED_WARNED.clear()
    unchecked = SSHTransport("127.0.0.1", sshd.port, "root", key_file=str(sshd.key_file), check_host_key=False)
    checked = ssh_node(sshd).transport
    try:
        for transport in (unchecked, checked, unchecked):
            assert transport.run("true").rc == 0
        unchecked.close()
        assert unchecked.run("true").rc == 0  # a new connection to the same node: said already
    finally:
        unchecked.close()
        checked.close()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"warning: {unchecked.description}: host key not checked") and "SHA256:" in lines[0]
