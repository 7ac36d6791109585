"""The cluster's kubelet configuration (kubeadm's kube-system/kubelet-config), which every node's kubelet should run."""

from __future__ import annotations

from typing import Any

import yaml

from breakers.kubelet_config import CONFIG_MAP, STATE_KEY
from breakfix.context import SessionState
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult


def _live(kube: Kube) -> dict[str, Any] | CheckResult:
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
    return config if isinstance(config, dict) else {}


def cluster_setting(kube: Kube, state: SessionState, field: str, default: Any) -> Any | CheckResult:
    """FIELD of the cluster's kubelet configuration (DEFAULT when unset), as noted at setup
    (breakers.kubelet_config.remember_cluster_config: an edit of the ConfigMap during the lab does not count),
    else as it is now; or why it cannot be read."""
    noted = state.get(STATE_KEY)
    config = noted if isinstance(noted, dict) else _live(kube)
    if isinstance(config, CheckResult):
        return config
    value = config.get(field)
    return default if value is None else value
