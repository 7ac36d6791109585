"""Breakers for the cgroup driver of a node's container runtime: containerd's runc `SystemdCgroup` option."""

from __future__ import annotations

import re

import yaml

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
RUNC_OPTIONS = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]'
_SYSTEMD_CGROUP = re.compile(r"^(\s*SystemdCgroup\s*=\s*)(true|false)[ \t]*$", re.MULTILINE)


def kubelet_driver(node: Node, path: str = KUBELET_CONFIG) -> str:
    """The cgroup driver NODE's kubelet config file names (the kubelet's own default, cgroupfs, when unset)."""
    data = node.read(path)
    if data is None:
        raise StepError(f"{node.name}: {path} does not exist")
    try:
        config = yaml.safe_load(data) or {}
    except yaml.YAMLError as exc:
        raise StepError(f"{node.name}: {path} is not YAML: {exc}") from None
    driver = str((config if isinstance(config, dict) else {}).get("cgroupDriver") or "cgroupfs")
    if driver not in ("systemd", "cgroupfs"):
        raise StepError(f"{node.name}: {path} names an unknown cgroupDriver {driver!r}")
    return driver


def with_systemd_cgroup(text: str, systemd: bool) -> str:
    """containerd's config.toml (version 2) with runc's SystemdCgroup option set, added under its table if missing."""
    value = "true" if systemd else "false"
    if _SYSTEMD_CGROUP.search(text):
        return _SYSTEMD_CGROUP.sub(lambda m: m.group(1) + value, text, count=1)
    if RUNC_OPTIONS in text:
        return text.replace(RUNC_OPTIONS, f"{RUNC_OPTIONS}\n  SystemdCgroup = {value}", 1)
    return text.rstrip("\n") + f"\n\n{RUNC_OPTIONS}\n  SystemdCgroup = {value}\n"


def _set_runtime_driver(node: Node, changes: ChangeLog, systemd: bool, path: str) -> None:
    def edit(data: bytes | None) -> bytes:
        if data is None:
            raise StepError(f"{node.name}: {path} does not exist")
        return with_systemd_cgroup(data.decode(), systemd).encode()

    changes.edit_file(node, path, edit)


def runtime_driver_unlike_kubelet(
    node: Node, changes: ChangeLog, path: str = CONTAINERD_CONFIG, kubelet_config: str = KUBELET_CONFIG
) -> None:
    """Give containerd the cgroup driver the kubelet does not use; restart containerd after this step.

    Running pods go on; every new pod sandbox on the node fails (runc is handed cgroup paths of the other driver)."""
    _set_runtime_driver(node, changes, kubelet_driver(node, kubelet_config) == "cgroupfs", path)


def runtime_driver_like_kubelet(
    node: Node, changes: ChangeLog, path: str = CONTAINERD_CONFIG, kubelet_config: str = KUBELET_CONFIG
) -> None:
    """Give containerd the cgroup driver the kubelet uses; restart containerd after this step."""
    _set_runtime_driver(node, changes, kubelet_driver(node, kubelet_config) == "systemd", path)
