"""Read a cluster description from an Ansible YAML inventory (see docs/inventory.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breakfix.errors import ClusterError, LabFileError
from breakfix.transport.spec import TransportSpec, parse_spec
from breakfix.yamlfile import load_yaml

ROLE_GROUPS = {"control_plane": "control-plane", "workers": "worker"}


@dataclass(frozen=True)
class NodeSpec:
    """One node of a cluster: name, role, how to reach it, its cluster address."""

    name: str
    role: str
    transport: TransportSpec
    ip: str | None = None


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster as breakfix sees it: nodes, API access, capabilities and image map."""

    name: str
    provider: str
    inventory: Path
    nodes: tuple[NodeSpec, ...]
    kubeconfig: Path | None
    context: str | None
    capabilities: frozenset[str]
    images: dict[str, str] = field(default_factory=dict)
    pull_policy: str | None = None

    @property
    def control_planes(self) -> list[NodeSpec]:
        """The control-plane nodes."""
        return [n for n in self.nodes if n.role == "control-plane"]

    @property
    def workers(self) -> list[NodeSpec]:
        """The worker nodes."""
        return [n for n in self.nodes if n.role == "worker"]


def _resolve(base: Path, value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = os.path.expanduser(str(value))
    return text if os.path.isabs(text) else str((base / text).resolve())


def _mapping(value: Any, path: Path, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ClusterError(f"{path}: {key} must be a mapping, not {type(value).__name__}")
    return value


def _port(value: Any, path: Path, host: str) -> int:
    try:
        port = int(str(value))
    except ValueError:
        raise ClusterError(f"{path}: host {host}: ansible_port {value!r} is not a number") from None
    if not 0 < port < 65536:
        raise ClusterError(f"{path}: host {host}: ansible_port {port} is not a TCP port (1-65535)")
    return port


def _walk(
    group: dict[str, Any],
    name: str,
    inherited: dict[str, Any],
    out: dict[str, dict[str, Any]],
    roles: dict[str, str],
    path: Path,
) -> None:
    if not isinstance(group, dict):
        raise ClusterError(f"{path}: group {name!r} must be a mapping")
    gvars = {**inherited, **_mapping(group.get("vars"), path, f"{name}.vars")}
    hosts = group.get("hosts") or {}
    if not isinstance(hosts, dict):
        raise ClusterError(f"{path}: {name}.hosts must be a mapping of host names")
    for host, hvars in hosts.items():
        hvars = _mapping(hvars, path, f"{name}.hosts.{host}")
        merged = {**out.get(host, {}), **gvars, **(hvars or {})}
        out[host] = merged
        if name in ROLE_GROUPS:
            roles[host] = ROLE_GROUPS[name]
    for child, cgroup in _mapping(group.get("children"), path, f"{name}.children").items():
        _walk(cgroup or {}, child, gvars, out, roles, path)


def load_inventory(path: str | Path) -> ClusterSpec:
    """Parse an inventory file into a ClusterSpec; errors name the file and what is wrong."""
    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise ClusterError(f"inventory {p} does not exist")
    try:
        data = load_yaml(p)
    except LabFileError as exc:
        raise ClusterError(f"inventory {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("all"), dict):
        raise ClusterError(f"{p}: an inventory must have a top-level 'all:' group (Ansible YAML format)")
    top = data["all"]
    gvars: dict[str, Any] = dict(_mapping(top.get("vars"), p, "all.vars"))
    hosts: dict[str, dict[str, Any]] = {}
    roles: dict[str, str] = {}
    _walk(top, "all", {}, hosts, roles, p)
    base = p.parent
    nodes = []
    for host, hv in hosts.items():
        known_hosts = _resolve(base, hv.get("breakfix_known_hosts"))
        key_file = _resolve(base, hv.get("ansible_ssh_private_key_file") or hv.get("ansible_private_key_file"))
        check = bool(hv.get("breakfix_check_host_key", True))
        if hv.get("breakfix_transport"):
            spec = parse_spec(str(hv["breakfix_transport"]), key_file, known_hosts, check)
        else:
            conn = str(hv.get("ansible_connection", "ssh"))
            if conn in ("docker", "community.docker.docker"):
                spec = TransportSpec("docker", host=str(hv.get("ansible_host", host)))
            elif conn == "local":
                spec = TransportSpec("local")
            elif conn in ("ssh", "paramiko", "ansible.builtin.ssh"):
                spec = TransportSpec(
                    "ssh",
                    host=str(hv.get("ansible_host", host)),
                    port=_port(hv.get("ansible_port", 22), p, str(host)),
                    user=str(hv.get("ansible_user", "root")),
                    key_file=key_file,
                    known_hosts=known_hosts,
                    check_host_key=check,
                )
            else:
                raise ClusterError(f"{p}: host {host}: ansible_connection {conn!r} is not supported")
        ip = hv.get("breakfix_node_ip")
        nodes.append(NodeSpec(host, roles.get(host, "worker"), spec, str(ip) if ip else None))
    caps = gvars.get("breakfix_capabilities") or []
    if not isinstance(caps, list):
        raise ClusterError(f"{p}: breakfix_capabilities must be a list")
    images = gvars.get("breakfix_images") or {}
    if not isinstance(images, dict):
        raise ClusterError(f"{p}: breakfix_images must be a mapping of role to image")
    kubeconfig = _resolve(base, gvars.get("breakfix_kubeconfig"))
    nodes.sort(key=lambda n: (n.role != "control-plane", n.name))
    return ClusterSpec(
        name=str(gvars.get("breakfix_cluster") or p.stem),
        provider=str(gvars.get("breakfix_provider", "inventory")),
        inventory=p,
        nodes=tuple(nodes),
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        context=str(gvars["breakfix_context"]) if gvars.get("breakfix_context") else None,
        capabilities=frozenset(str(c) for c in caps),
        images={str(k): str(v) for k, v in images.items()},
        pull_policy=str(gvars["breakfix_image_pull_policy"]) if gvars.get("breakfix_image_pull_policy") else None,
    )
