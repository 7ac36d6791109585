"""graders.listeners: who takes connections to an address and port on a node (ss output, fake node)."""

from __future__ import annotations

import pytest

from breakfix.transport.node import Node
from graders import listeners
from tests.fakes import FakeTransport

ETCD = (
    'LISTEN 0      4096     127.0.0.1:2379 0.0.0.0:* users:(("etcd",pid=1011,fd=7))\n'
    'LISTEN 0      4096   172.20.3.11:2379 0.0.0.0:* users:(("etcd",pid=1011,fd=6))\n'
)


def node(stdout: str, rc: int = 0) -> Node:
    t = FakeTransport()
    t.expect(r"^ss -Hltnp 'sport = :2379'$", rc=rc, stdout=stdout, stderr="ss: failed" if rc else "")
    return Node("cp1", "control-plane", t)


@pytest.mark.parametrize(
    "stdout",
    [
        ETCD,
        'LISTEN 0 4096 *:2379 *:* users:(("etcd",pid=9,fd=7))\n',  # every address, the loopback one included
        'LISTEN 0 4096 [::]:2379 [::]:* users:(("etcd",pid=9,fd=7))\n',
    ],
)
def test_etcd_itself_on_the_local_address_passes(stdout: str) -> None:
    result = listeners.served_by(node(stdout), 2379, "etcd")
    assert result.ok, result.message


@pytest.mark.parametrize(
    ("stdout", "says"),
    [
        ('LISTEN 0 5 127.0.0.1:2379 0.0.0.0:* users:(("socat",pid=77,fd=5))\n' + ETCD.splitlines()[1], "by socat"),
        (ETCD.splitlines()[1] + "\n", "nothing takes connections to 127.0.0.1:2379"),
        ("", "nothing takes connections"),
        ("LISTEN 0 5 127.0.0.1:2379 0.0.0.0:*\n", "cannot be named"),
    ],
)
def test_a_forwarder_or_nothing_on_the_local_address_fails(stdout: str, says: str) -> None:
    result = listeners.served_by(node(stdout), 2379, "etcd")
    assert result.status == "fail" and says in result.message, result.message


def test_a_node_that_cannot_list_its_sockets_is_an_error() -> None:
    assert listeners.served_by(node("", rc=1), 2379, "etcd").status == "error"


MANIFEST = """apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver, namespace: kube-system}
spec:
  containers:
  - name: kube-apiserver
    command: [kube-apiserver, --etcd-servers=%s]
"""


def apiserver_node(servers: str, listening: dict[int, str]) -> Node:
    t = FakeTransport({"/etc/kubernetes/manifests/kube-apiserver.yaml": (MANIFEST % servers).encode()})
    for port, stdout in listening.items():
        t.expect(rf"^ss -Hltnp 'sport = :{port}'$", stdout=stdout)
    return Node("cp1", "control-plane", t)


@pytest.mark.parametrize(
    "servers", ["https://127.0.0.1:2379", "https://localhost:2379", "https://127.0.0.1:2379,https://172.20.3.11:2379"]
)
def test_servers_served_by_etcd_itself_pass(servers: str) -> None:
    result = listeners.flag_servers_served_by(
        apiserver_node(servers, {2379: ETCD}), "kube-apiserver", "--etcd-servers", "etcd"
    )
    assert result.ok, result.message


def test_a_relay_on_the_port_the_flag_names_fails_without_naming_it() -> None:
    relay = 'LISTEN 0 5 127.0.0.1:2380 0.0.0.0:* users:(("socat",pid=77,fd=5))\n'
    node = apiserver_node("https://127.0.0.1:2380", {2380: relay})
    result = listeners.flag_servers_served_by(node, "kube-apiserver", "--etcd-servers", "etcd")
    assert result.status == "fail" and "2380" not in result.message, result.message


def test_a_server_without_a_port_fails() -> None:
    result = listeners.flag_servers_served_by(
        apiserver_node("https://127.0.0.1", {}), "kube-apiserver", "--etcd-servers", "etcd"
    )
    assert result.status == "fail"


def test_a_host_name_is_judged_by_the_addresses_the_node_resolves_it_to() -> None:
    etcd_on_node = 'LISTEN 0 4096 172.20.3.11:2379 0.0.0.0:* users:(("etcd",pid=9,fd=7))\n'
    node = apiserver_node("https://cp1:2379", {2379: etcd_on_node})
    assert isinstance(node.transport, FakeTransport)
    node.transport.expect(r"getent ahostsv4 cp1", stdout="172.20.3.11     STREAM cp1\n172.20.3.11     DGRAM\n")
    result = listeners.flag_servers_served_by(node, "kube-apiserver", "--etcd-servers", "etcd")
    assert result.ok, result.message

    relay_on_node = 'LISTEN 0 5 172.20.3.11:2379 0.0.0.0:* users:(("socat",pid=77,fd=5))\n'
    node = apiserver_node("https://cp1:2379", {2379: relay_on_node})
    assert isinstance(node.transport, FakeTransport)
    node.transport.expect(r"getent ahostsv4 cp1", stdout="172.20.3.11     STREAM cp1\n")
    assert listeners.flag_servers_served_by(node, "kube-apiserver", "--etcd-servers", "etcd").status == "fail"
