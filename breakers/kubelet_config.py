"""Setup steps that note the cluster's kubelet configuration (kubeadm's kube-system/kubelet-config) as it is."""

from __future__ import annotations

import yaml

from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.kube import Kube

CONFIG_MAP = "kubelet-config"
STATE_KEY = "kubelet-config:cluster"


def remember_cluster_config(kube: Kube, state: SessionState) -> None:
    """Note the cluster's kubelet configuration now, so that graders compare with it, not with a later edit."""
    cm = kube.get("v1", "ConfigMap", CONFIG_MAP, "kube-system")
    text = ((cm or {}).get("data") or {}).get("kubelet")
    if not text:
        raise StepError(f"no kube-system/{CONFIG_MAP} with a kubelet configuration (is this a kubeadm cluster?)")
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise StepError(f"kube-system/{CONFIG_MAP} does not hold YAML: {exc}") from None
    if not isinstance(config, dict):
        raise StepError(f"kube-system/{CONFIG_MAP} does not hold a KubeletConfiguration")
    state.set(STATE_KEY, config)
