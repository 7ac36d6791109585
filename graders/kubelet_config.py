"""The cluster's kubelet configuration (kubeadm's kube-system/kubelet-config), which every node's kubelet should run."""

from __future__ import annotations

from typing import Any

import yaml

from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult

CONFIG_MAP = "kubelet-config"  # kubeadm's: every node's kubelet config file is written from it on join and upgrade


def cluster_setting(kube: Kube, field: str, default: Any) -> Any | CheckResult:
    """FIELD of the cluster's kubelet configuration (DEFAULT when it does not set it), or why it cannot be read."""
    try:
        cm = kube.get("v1", "ConfigMap", CONFIG_MAP, "kube-system")
    except ClusterError as exc:
        return CheckResult("error", f"cannot read kube-system/{CONFIG_MAP}: {exc}")
    text = ((cm or {}).get("data") or {}).get("kubelet")
    if not text:
        return CheckResult("error", f"no kube-system/{CONFIG_MAP} with a kubelet configuration to compare with")
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return CheckResult("error", f"kube-system/{CONFIG_MAP} does not hold YAML")
    value = (config if isinstance(config, dict) else {}).get(field)
    return default if value is None else value
