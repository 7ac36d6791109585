"""kind-style nodes: discovery by kind's labels and the docker-exec transport, against real containers."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from breakers import manifest
from breakfix.changes import ChangeLog
from breakfix.context import Context
from breakfix.errors import NodeError
from breakfix.inventory import load_inventory
from breakfix.providers.kind import CLUSTER_LABEL, ROLE_LABEL, discover_nodes, inventory_for
from breakfix.state import State
from breakfix.transport.base import FileStat
from breakfix.undo import replay
from tests.integration.test_node_breakers import KUBEADM_ETCD
from tests.testbed.fixtures import require_docker


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def kind_like() -> Iterator[str]:
    """Two containers labelled the way kind labels a cluster's nodes, on their own network."""
    require_docker()
    from tests.testbed.image import ensure_image

    image = ensure_image()
    cluster = f"bfkind{secrets.token_hex(3)}"
    docker("network", "create", "--label", f"breakfix.test={cluster}", cluster)
    try:
        for name, role in ((f"{cluster}-control-plane", "control-plane"), (f"{cluster}-worker", "worker")):
            docker(
                "run",
                "-d",
                "--name",
                name,
                "--hostname",
                name,
                "--network",
                cluster,
                "--label",
                f"{CLUSTER_LABEL}={cluster}",
                "--label",
                f"{ROLE_LABEL}={role}",
                "--label",
                f"breakfix.test={cluster}",
                "--entrypoint",
                "sleep",
                image,
                "infinity",
            )
        yield cluster
    finally:
        ids = docker("ps", "-aq", "--filter", f"label=breakfix.test={cluster}").split()
        if ids:
            docker("rm", "-f", *ids)
        docker("network", "rm", cluster)


def test_discovery_and_inventory(kind_like: str, tmp_path: Path) -> None:
    nodes = discover_nodes(kind_like)
    assert [(n["name"], n["role"]) for n in nodes] == [
        (f"{kind_like}-control-plane", "control-plane"),
        (f"{kind_like}-worker", "worker"),
    ]
    assert all(n["ip"] for n in nodes)
    assert discover_nodes("no-such-cluster") == []
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump(inventory_for(kind_like, nodes, tmp_path / "kc", 1)))
    ctx = Context(load_inventory(path), State(), log=lambda _m: None)
    cp = ctx.node("control-plane")
    assert cp.check("hostname").strip() == f"{kind_like}-control-plane"
    assert cp.check("printf '%%s' %s %s", "a b", "$(id)") == "a b$(id)"
    # the worker reaches the control plane over the cluster's own network
    assert ctx.node("worker").run("getent hosts %s", f"{kind_like}-control-plane").stdout.startswith(nodes[0]["ip"])


def test_manifest_break_and_reset_over_docker_exec(kind_like: str, tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump(inventory_for(kind_like, discover_nodes(kind_like), tmp_path / "kc", 1)))
    ctx = Context(load_inventory(path), State(), log=lambda _m: None)
    node = ctx.node("control-plane")
    target = "/etc/kubernetes/manifests/etcd.yaml"
    node.check("mkdir -p /etc/kubernetes/manifests")
    node.write(target, KUBEADM_ETCD, FileStat(0o600, 0, 0))
    manifest.set_flag(node, ChangeLog(ctx, "break"), "etcd", "--data-dir", "/var/lib/etcd-fresh")
    assert "--data-dir=/var/lib/etcd-fresh" in node.read_text(target)
    node.check("chmod 644 %s && chown 1:1 %s", target, target)
    replay(ctx)
    assert node.read_text(target) == KUBEADM_ETCD and node.stat(target) == FileStat(0o600, 0, 0)
    assert node.check("ls -A /etc/kubernetes/manifests").split() == ["etcd.yaml"]


def test_missing_container_is_a_clear_error(tmp_path: Path) -> None:
    from breakfix.transport.docker import DockerTransport

    require_docker()
    with pytest.raises(NodeError, match="no such container"):
        DockerTransport("breakfix-no-such-container").run("true")
