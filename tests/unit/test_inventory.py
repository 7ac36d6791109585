"""Cluster descriptions in Ansible YAML inventory format."""

from pathlib import Path

import pytest
import yaml

from breakfix.errors import ClusterError
from breakfix.inventory import load_inventory


def test_example_inventory(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {
                        "breakfix_cluster": "class-a",
                        "breakfix_kubeconfig": "kc",
                        "breakfix_known_hosts": "kh",
                        "ansible_user": "root",
                        "ansible_ssh_private_key_file": "id",
                        "breakfix_capabilities": ["static-pods", "systemd"],
                        "breakfix_images": {"web": "w:1"},
                        "breakfix_image_pull_policy": "Never",
                    },
                    "children": {
                        "control_plane": {
                            "hosts": {
                                "cp1": {
                                    "ansible_host": "127.0.0.1",
                                    "ansible_port": 2201,
                                    "breakfix_node_ip": "172.30.0.2",
                                }
                            }
                        },
                        "workers": {
                            "hosts": {"w1": {"ansible_connection": "docker"}, "w2": {"breakfix_transport": "local://"}}
                        },
                    },
                }
            }
        )
    )
    spec = load_inventory(inv)
    assert spec.name == "class-a" and spec.kubeconfig == tmp_path / "kc"
    assert spec.capabilities == {"static-pods", "systemd"} and spec.images == {"web": "w:1"}
    assert spec.pull_policy == "Never"
    cp, w1, w2 = spec.nodes
    assert (cp.name, cp.role, cp.ip, str(cp.transport)) == (
        "cp1",
        "control-plane",
        "172.30.0.2",
        "ssh://root@127.0.0.1:2201",
    )
    assert cp.transport.known_hosts == str(tmp_path / "kh") and cp.transport.key_file == str(tmp_path / "id")
    assert str(w1.transport) == "docker://w1" and w1.role == "worker"
    assert w2.transport.scheme == "local"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[", "not valid YAML"),
        ("hosts: {}", "top-level 'all:'"),
        ("all: {hosts: {a: {ansible_connection: winrm}}}", "not supported"),
        ("all: {vars: {breakfix_capabilities: static-pods}}", "must be a list"),
        ("all: {hosts: {a: {breakfix_transport: 'ftp://x'}}}", "unknown scheme"),
    ],
)
def test_bad_inventories(tmp_path: Path, text: str, message: str) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(text)
    with pytest.raises(ClusterError, match=message):
        load_inventory(inv)


def test_missing_inventory(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="does not exist"):
        load_inventory(tmp_path / "nope.yaml")
