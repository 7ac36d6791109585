"""kube-apiserver's --etcd-servers is judged by where each URL leads, not by its spelling."""

from __future__ import annotations

import re

import pytest
import yaml

from breakfix.transport.base import CommandResult
from breakfix.transport.node import Node
from graders import static_pod
from tests.fakes import FakeTransport

APISERVER = "/etc/kubernetes/manifests/kube-apiserver.yaml"
ETCD_ARGS = {
    "manifest": "kube-apiserver",
    "flag": "--etcd-servers",
    "ca_flag": "--etcd-cafile",
    "cert_flag": "--etcd-certfile",
    "key_flag": "--etcd-keyfile",
}


def apiserver(servers: str) -> bytes:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-apiserver"},
        "spec": {
            "containers": [
                {
                    "name": "kube-apiserver",
                    "command": [
                        "kube-apiserver",
                        "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
                        "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
                        "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
                        f"--etcd-servers={servers}",
                    ],
                    "volumeMounts": [{"mountPath": "/etc/kubernetes/pki", "name": "k8s-certs"}],
                }
            ],
            "volumes": [{"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki"}}],
        },
    }
    return yaml.safe_dump(pod).encode()


def control_plane(servers: str, listening: tuple[str, ...]) -> tuple[Node, list[str]]:
    """A node whose etcd answers https on the LISTENING host:port pairs (localhost resolves to 127.0.0.1)."""
    t = FakeTransport({APISERVER: apiserver(servers)})
    t.expect(
        r"ip -o addr show",
        stdout="1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 10.0.0.2/24 scope global eth0\n",
    )
    asked: list[str] = []

    def curl(line: str) -> CommandResult:
        assert "--cert /etc/kubernetes/pki/apiserver-etcd-client.crt" in line
        url = line.split()[-1]
        asked.append(url)
        where = re.sub(r"^https://(localhost)?", "", url).split("/")[0] or ""
        where = where if not url.startswith("https://localhost") else "127.0.0.1" + where
        if where in listening:
            return CommandResult(0, '{"health":"true","reason":""}', "")
        return CommandResult(7, "", "curl: (7) Failed to connect: Connection refused")

    t.scripts.append((re.compile(r"curl -fsS .*"), curl))
    return Node("cp1", "control-plane", t, "10.0.0.2"), asked


BOTH = ("127.0.0.1:2379", "10.0.0.2:2379")


@pytest.mark.parametrize(
    "servers",
    [
        "https://127.0.0.1:2379",
        "https://localhost:2379",
        "https://10.0.0.2:2379",
        "https://127.0.0.1:2379,https://10.0.0.2:2379",
        "https://localhost:2379, https://10.0.0.2:2379/",
    ],
)
def test_every_url_that_reaches_this_nodes_etcd_over_https_passes(servers: str) -> None:
    node, asked = control_plane(servers, BOTH)
    result = static_pod.servers_answer_locally(node, **ETCD_ARGS)
    assert result.ok, result.message
    assert all(u.endswith(":2379/health") for u in asked) and len(asked) == len(servers.split(","))


@pytest.mark.parametrize(
    ("servers", "words"),
    [
        ("http://127.0.0.1:2379", "is not https"),
        ("https://10.0.0.9:2379", "is not on cp1"),
        ("https://127.0.0.1:2379,https://10.0.0.2:2380", "10.0.0.2:2380 does not answer"),
    ],
)
def test_a_url_that_leads_elsewhere_fails(servers: str, words: str) -> None:
    node, _ = control_plane(servers, BOTH)
    result = static_pod.servers_answer_locally(node, **ETCD_ARGS)
    assert result.status == "fail" and words in result.message, result.message


def test_urls_override_the_flag_to_ask_whether_etcd_serves_localhost() -> None:
    node, _ = control_plane("https://10.0.0.2:2379", ("10.0.0.2:2379",))  # the API server was re-pointed
    assert static_pod.servers_answer_locally(node, **ETCD_ARGS).ok
    local = static_pod.servers_answer_locally(node, **ETCD_ARGS, urls="https://127.0.0.1:2379")
    assert local.status == "fail" and "Connection refused" in local.message and "--etcd-servers" not in local.message
