"""Proof that test bed nodes boot systemd, answer SSH with host-key checking and reach each other."""

from __future__ import annotations

from collections.abc import Callable

import paramiko
import pytest

from tests.testbed import dockercli
from tests.testbed.nodes import Run
from tests.testbed.sshclient import run

pytestmark = pytest.mark.testbed

SSH = Callable[[str], paramiko.SSHClient]


def test_nodes_come_up_with_their_hostnames(testbed_run: Run, testbed_ssh: SSH) -> None:
    """Both nodes run systemd as PID 1 with no failed unit and the right host name."""
    assert [n.name for n in testbed_run.nodes] == ["cp1", "w1"]
    for node in testbed_run.nodes:
        client = testbed_ssh(node.name)
        assert run(client, "hostname") == (0, f"{node.name}\n", "")
        assert run(client, "ps -p 1 -o comm=")[1].strip() == "systemd"
        _, state, _ = run(client, "systemctl is-system-running")
        assert state.strip() == "running", run(client, "systemctl --failed --no-legend")[1]
        assert run(client, "findmnt -n -o TARGET /var")[1].strip() == "/var"


def test_host_key_is_checked(testbed_run: Run) -> None:
    """RejectPolicy with the run's known_hosts connects; an empty known_hosts is refused."""
    node = testbed_run.node("cp1")
    client = paramiko.SSHClient()
    client.load_host_keys(str(testbed_run.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", port=node.ssh_port, username="root",
                   key_filename=str(testbed_run.key_path), look_for_keys=False, allow_agent=False)  # fmt: skip
    assert run(client, "echo ok")[1] == "ok\n"
    client.close()
    stranger = paramiko.SSHClient()
    stranger.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        stranger.connect("127.0.0.1", port=node.ssh_port, username="root",
                         key_filename=str(testbed_run.key_path), look_for_keys=False, allow_agent=False)  # fmt: skip
    stranger.close()


def test_ssh_published_on_loopback_only(testbed_run: Run) -> None:
    """SSH ports are published on 127.0.0.1 and nowhere else."""
    for node in testbed_run.nodes:
        bindings = dockercli.docker("port", node.container, "22/tcp").split()
        assert bindings == [f"127.0.0.1:{node.ssh_port}"]


def test_nodes_reach_each_other_on_the_private_network(testbed_run: Run, testbed_ssh: SSH) -> None:
    """cp1 pings w1 by name and IP and SSHes to it with strict host-key checking."""
    w1 = testbed_run.node("w1")
    info = dockercli.inspect("container", [w1.container])[0]
    assert info["NetworkSettings"]["Networks"][testbed_run.network]["IPAddress"] == w1.ip
    cp1 = testbed_ssh("cp1")
    assert run(cp1, f"ping -c 1 -W 2 {w1.ip}")[0] == 0
    assert run(cp1, "ping -c 1 -W 2 w1")[0] == 0
    opts = "-o BatchMode=yes -o StrictHostKeyChecking=yes"
    assert run(cp1, f"ssh {opts} w1 hostname") == (0, "w1\n", "")
    assert run(cp1, f"ssh {opts} {w1.ip} cat /etc/hostname")[1] == "w1\n"


def test_systemctl_stops_and_starts_containerd(testbed_ssh: SSH) -> None:
    """systemctl controls units: containerd stops, then starts and answers `ctr version`."""
    client = testbed_ssh("w1")
    assert run(client, "systemctl stop containerd")[0] == 0
    assert run(client, "systemctl is-active containerd")[1].strip() == "inactive"
    assert run(client, "timeout 5 ctr --connect-timeout 1s version")[0] != 0
    assert run(client, "systemctl start containerd")[0] == 0
    assert run(client, "systemctl is-active containerd")[1].strip() == "active"
    rc, out, err = run(client, "ctr version")
    assert rc == 0, err
    assert "Server:" in out and "Version:" in out
