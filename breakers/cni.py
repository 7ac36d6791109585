"""Breakers for a node's CNI configuration (/etc/cni/net.d)."""

from __future__ import annotations

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube
from breakfix.transport.node import Node

CONF_DIR = "/etc/cni/net.d"


def _config_files(node: Node, conf_dir: str) -> list[str]:
    """The files in CONF_DIR (sorted), none when the folder is missing."""
    listing = node.run("find %s -mindepth 1 -maxdepth 1 -type f", conf_dir)
    return sorted(line for line in listing.stdout.splitlines() if line) if listing.ok else []


def remove_config(node: Node, changes: ChangeLog, conf_dir: str = CONF_DIR) -> None:
    """Delete every file of the node's CNI configuration (each is journaled, none is left as a backup)."""
    files = _config_files(node, conf_dir)
    if not files:
        raise StepError(f"{node.name}: {conf_dir} holds no CNI configuration to remove")
    for path in files:
        changes.edit_file(node, path, lambda _old: None)


def _pod_cidr(kube: Kube, name: str) -> str | None:
    obj = kube.get("v1", "Node", name)
    return None if obj is None else (obj.get("spec") or {}).get("podCIDR")


def copy_config(
    node: Node, nodes: list[Node], kube: Kube, changes: ChangeLog, source: str, conf_dir: str = CONF_DIR
) -> None:
    """Copy the CNI configuration of node SOURCE, with its pod range swapped for this node's (a reference fix)."""
    origin = next((n for n in nodes if n.name == source), None)
    if origin is None:
        raise StepError(f"no node {source!r} to copy the CNI configuration from")
    files = _config_files(origin, conf_dir)
    if not files:
        raise StepError(f"{origin.name}: {conf_dir} holds no CNI configuration to copy")
    theirs, ours = _pod_cidr(kube, origin.name), _pod_cidr(kube, node.name)
    for path in files:
        data = origin.read(path) or b""
        if theirs and ours:  # a per-node range (bridge + host-local); Calico's files name none
            data = data.replace(theirs.encode(), ours.encode())
        # the same mode and owner as the source (Calico's kubeconfig is not for everyone to read)
        changes.write_file(node, path, data, origin.stat(path))
