"""Checks on nodes as the API server sees them."""

from __future__ import annotations

import time

from breakfix.durations import Seconds
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node


def _ready_condition(kube: Kube, name: str) -> dict[str, str] | None:
    obj = kube.get("v1", "Node", name)
    if obj is None:
        return None
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return {k: str(v) for k, v in cond.items()}
    return {}


def ready(kube: Kube, node: Node, stable_for: Seconds = 0.0, poll: float = 2.0) -> CheckResult:
    """The node is Ready (and stays Ready for STABLE_FOR seconds)."""
    deadline = time.monotonic() + stable_for
    while True:
        try:
            cond = _ready_condition(kube, node.name)
        except ClusterError as exc:
            return CheckResult("error", f"cannot read node {node.name}: {exc}")
        if cond is None:
            return failed(f"node {node.name} is not registered", "Is its kubelet running, with a valid kubeconfig?")
        if cond.get("status") != "True":
            why = cond.get("message") or cond.get("reason") or "no Ready condition yet"
            return failed(
                f"node {node.name} is not Ready: {why}",
                "On the node: systemctl status kubelet containerd; journalctl -u kubelet -e",
            )
        if time.monotonic() >= deadline:
            steady = f" and steady for {stable_for:.0f}s" if stable_for else ""
            return passed(f"node {node.name} is Ready{steady}")
        time.sleep(poll)
