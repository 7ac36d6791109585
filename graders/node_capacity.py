"""Graders for how many pods a node takes: what its running kubelet reports against the cluster's configuration."""

from __future__ import annotations

from breakers.kubelet_config import CONFIG_MAP
from breakfix.context import SessionState
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.kubelet_config import cluster_setting

DEFAULT_MAX_PODS = 110  # the kubelet's own default


def pods_as_cluster(kube: Kube, node: Node, state: SessionState) -> CheckResult:
    """What NODE's running kubelet reports keeps a setting of the cluster's kubelet configuration (as at setup).

    The setting is maxPods, compared with the pod capacity in the node's status."""
    setting = cluster_setting(kube, state, "maxPods", DEFAULT_MAX_PODS)
    if isinstance(setting, CheckResult):
        return setting
    try:
        want = int(setting)
        obj = kube.get("v1", "Node", node.name)
    except (TypeError, ValueError):
        return CheckResult("error", f"kube-system/{CONFIG_MAP} sets maxPods to {setting!r}, not a number")
    except ClusterError as exc:
        return CheckResult("error", f"cannot read node {node.name}: {exc}")
    if obj is None:
        return failed(f"node {node.name} is not registered", "Is its kubelet running?")
    reported = str(((obj.get("status") or {}).get("capacity") or {}).get("pods") or "")
    if reported == str(want):
        return passed(f"{node.name} takes {want} pods, as the cluster's kubelet configuration says")
    return failed(
        f"{node.name}'s kubelet takes {reported or 'no'} pods; the cluster's kubelet configuration "
        f"(kube-system/{CONFIG_MAP}) says {want}",
        "What the kubelet reports is what it runs with now: where does its setting come from?",
    )
