"""Provider registry and the kind provider's pure parts."""

from pathlib import Path

import pytest

from breakfix.errors import UsageError
from breakfix.inventory import load_inventory
from breakfix.providers import get_provider
from breakfix.providers.kind import NODEPORT, free_host_port, inventory_for, kind_config


def test_registry() -> None:
    assert get_provider("kind").name == "kind"
    assert "real-clock" in get_provider("vagrant").capabilities
    with pytest.raises(UsageError, match="unknown provider 'minikube'"):
        get_provider("minikube")


def test_kind_config() -> None:
    cfg = kind_config(workers=2, node_image="breakfix.local/node:1")
    roles = [n["role"] for n in cfg["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    assert cfg["nodes"][0]["extraPortMappings"] == [
        {"containerPort": NODEPORT, "hostPort": NODEPORT, "listenAddress": "127.0.0.1"}
    ]
    assert {n["image"] for n in cfg["nodes"]} == {"breakfix.local/node:1"}
    assert cfg["networking"]["apiServerAddress"] == "127.0.0.1"


def test_kind_inventory_round_trip(tmp_path: Path) -> None:
    import yaml

    nodes = [
        {"name": "lab-control-plane", "role": "control-plane", "ip": "172.18.0.2"},
        {"name": "lab-worker", "role": "worker", "ip": "172.18.0.3"},
    ]
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory_for("lab", nodes, tmp_path / "kubeconfig", 1)))
    spec = load_inventory(path)
    assert spec.provider == "kind" and "static-pods" in spec.capabilities and "real-clock" not in spec.capabilities
    assert [(n.name, n.role, str(n.transport), n.ip) for n in spec.nodes] == [
        ("lab-control-plane", "control-plane", "docker://lab-control-plane", "172.18.0.2"),
        ("lab-worker", "worker", "docker://lab-worker", "172.18.0.3"),
    ]


def test_missing_tools_name_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    lines = get_provider("kind").missing_tools()
    assert any(line.startswith("kind: not found; install: go install sigs.k8s.io/kind") for line in lines)
    assert any(line.startswith("docker: not found") for line in lines)


def test_kind_inventory_carries_the_node_images_map(tmp_path: Path) -> None:
    import yaml

    nodes = [{"name": "lab-control-plane", "role": "control-plane", "ip": "172.18.0.2"}]
    shipped = {"images": {"web": "breakfix.local/web:1"}, "pull_policy": "Never"}
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory_for("lab", nodes, tmp_path / "kubeconfig", 0, shipped)))
    spec = load_inventory(path)
    assert spec.images == {"web": "breakfix.local/web:1"} and spec.pull_policy == "Never"
    assert "multi-node" not in spec.capabilities


def test_nodeport_mapping_moves_when_the_port_is_taken() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        port = free_host_port(busy)
        assert port != busy and port > 0
    assert free_host_port(busy) == busy  # free again


def test_vagrant_preflight_looks_for_ansible_beside_breakfix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    lines = get_provider("vagrant").missing_tools()
    assert any(line.startswith("vagrant: not found; install: apt-get install vagrant") for line in lines)
    assert not any(line.startswith("ansible-playbook") for line in lines)  # the venv's, found without PATH
