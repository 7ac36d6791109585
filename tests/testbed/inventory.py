"""Write a run's Ansible inventory in the format of docs/inventory.md."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Protocol

import yaml

GROUPS = {"control-plane": "control_plane", "worker": "workers"}
CAPABILITIES = ["systemd", "multi-node"]


class NodeLike(Protocol):
    """What the inventory needs to know about a node."""

    name: str
    role: str
    ssh_port: int
    ip: str


def render(cluster: str, nodes: list[NodeLike], key_file: Path, known_hosts: Path) -> dict[str, Any]:
    """Return the inventory as a dict (absolute paths, so Ansible's cwd does not matter)."""
    children: dict[str, Any] = {group: {"hosts": {}} for group in GROUPS.values()}
    for node in nodes:
        children[GROUPS[node.role]]["hosts"][node.name] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": node.ssh_port,
            "breakfix_node_ip": node.ip,
        }
    ssh_args = f"-o UserKnownHostsFile={shlex.quote(str(known_hosts))} -o StrictHostKeyChecking=yes"
    return {
        "all": {
            "vars": {
                "breakfix_cluster": cluster,
                "breakfix_provider": "testbed",
                "breakfix_known_hosts": str(known_hosts),
                "breakfix_capabilities": list(CAPABILITIES),
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key_file),
                "ansible_ssh_common_args": ssh_args,
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "children": children,
        }
    }


def write(path: Path, data: dict[str, Any]) -> None:
    """Write the inventory YAML to PATH."""
    header = "# breakfix test bed run: written by tests/testbed, removed by its tear-down\n"
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
