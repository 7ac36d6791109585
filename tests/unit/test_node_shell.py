"""`lab ssh`: which node, and the command that reaches it for each transport."""

from __future__ import annotations

from pathlib import Path

import pytest

from breakfix.errors import ClusterError
from breakfix.inventory import ClusterSpec, NodeSpec
from breakfix.node_shell import pick_node, shell_argv
from breakfix.transport.spec import TransportSpec


def cluster(*nodes: NodeSpec) -> ClusterSpec:
    return ClusterSpec("c1", "inventory", Path("/nowhere/inventory.yml"), nodes, None, None, frozenset())


SSH = TransportSpec("ssh", "10.0.0.5", 2201, "admin", key_file="/keys/id", known_hosts="/keys/known_hosts")
CP = NodeSpec("cp1", "control-plane", SSH)
W1 = NodeSpec("w1", "worker", TransportSpec("docker", "kind-worker"))
W2 = NodeSpec("w2", "worker", TransportSpec("local"))


def test_nodes_are_picked_by_name_or_by_role_and_unknown_names_list_the_nodes() -> None:
    c = cluster(CP, W1, W2)
    assert pick_node(c, "w2") is W2
    assert pick_node(c, "worker") is W1 and pick_node(c, "control-plane") is CP and pick_node(c, "controlplane") is CP
    with pytest.raises(ClusterError, match=r"no node 'w9' \(nodes: cp1, w1, w2\)"):
        pick_node(c, "w9")


def test_ssh_checks_the_host_key_with_the_inventorys_files_and_quotes_the_command_once() -> None:
    argv, warnings = shell_argv(CP, ["printf", "%s|", "a b", "$HOME"], tty=False)
    assert argv[1:] == [
        "-p", "2201", "-i", "/keys/id", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/keys/known_hosts", "-T", "admin@10.0.0.5", "printf '%s|' 'a b' '$HOME'",
    ]  # fmt: skip
    assert argv[0].endswith("ssh") and warnings == []


def test_a_shell_gets_a_terminal_and_unchecked_host_keys_are_said_out_loud() -> None:
    unchecked = NodeSpec("cp1", "control-plane", TransportSpec("ssh", "10.0.0.5", 22, "root", check_host_key=False))
    argv, warnings = shell_argv(unchecked, [], tty=True)
    assert "-t" in argv and "StrictHostKeyChecking=no" in argv and "UserKnownHostsFile=/dev/null" in argv
    assert "bash" in argv[-1] and argv[-2] == "root@10.0.0.5"
    assert len(warnings) == 1 and "host key is not checked" in warnings[0]


def test_docker_and_local_nodes() -> None:
    argv, _ = shell_argv(W1, ["crictl", "ps"], tty=False)
    assert argv[1:] == ["exec", "-i", "kind-worker", "/bin/sh", "-c", "crictl ps"]
    argv, _ = shell_argv(W1, [], tty=True)
    assert argv[2] == "-it"
    assert shell_argv(W2, ["id", "-u"], tty=False)[0] == ["/bin/sh", "-c", "id -u"]


def test_a_missing_client_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ClusterError, match=r"cannot reach cp1 \(ssh://admin@10.0.0.5:2201\): the ssh command"):
        shell_argv(CP, [], tty=False)
