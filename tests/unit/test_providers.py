"""Provider registry and the kind provider's pure parts."""

from pathlib import Path

import pytest

from breakfix.errors import UsageError
from breakfix.inventory import load_inventory
from breakfix.providers import get_provider
from breakfix.providers.kind import NODEPORT, inventory_for, kind_config


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
