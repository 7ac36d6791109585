"""Graders for pods a node's kubelet runs from its own folder (static pods), beside the control plane's."""

from __future__ import annotations

from breakfix.durations import Seconds
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders._steady import Sample, holds
from graders.static_pod import _ready_restarts

MIRROR = "kubernetes.io/config.mirror"  # the kubelet's mark on the API's copy of a pod it runs from a file


def static_pod_steady(
    kube: Kube, node: Node, name: str, namespace: str = "kube-system", stable_for: Seconds = 20.0, poll: float = 2.0
) -> CheckResult:
    """NODE's kubelet runs the static pod NAME from its own folder: its mirror pod is Ready and does not restart.

    An ordinary pod of the same name made through the API does not count: it would not run without the API server."""
    mirror = f"{name}-{node.name}"

    def sample() -> CheckResult | Sample[tuple[str, int]]:
        try:
            pod = kube.get("v1", "Pod", mirror, namespace)
        except ClusterError as exc:
            return failed(f"cannot see pod {namespace}/{mirror}: {exc}")
        if pod is None:
            return failed(
                f"no pod {namespace}/{mirror}: the kubelet on {node.name} runs no static pod {name}",
                f"Which pod manifests does the kubelet on {node.name} read, and what does its log say about them?",
            )
        if MIRROR not in ((pod.get("metadata") or {}).get("annotations") or {}):
            return failed(
                f"{namespace}/{mirror} is an ordinary pod made through the API, not {node.name}'s static pod "
                "(it would not run while the API server is down)",
                "A static pod lives in a file on its node; the API only shows a copy of it.",
            )
        ready, restarts = _ready_restarts(pod)
        if not ready:
            return failed(
                f"the static pod {namespace}/{mirror} is not Ready",
                f"`kubectl -n {namespace} describe pod {mirror}` and its logs tell why.",
            )
        message = f"{node.name} runs its static pod {name}, Ready and steady for {stable_for:.0f}s"
        return Sample((pod["metadata"].get("uid", ""), restarts), message)

    def restarted(first: tuple[str, int], now: tuple[str, int]) -> CheckResult | None:
        if now == first:
            return None
        return failed(f"the static pod {namespace}/{mirror} restarted during the {stable_for:.0f}s stability window")

    return holds(sample, stable_for, poll, restarted)


def static_pod_restarts(kube: Kube, node: Node, name: str, namespace: str = "kube-system") -> CheckResult:
    """NODE's static pod NAME is there and its containers have restarted at least once (it crash-loops)."""
    mirror = f"{name}-{node.name}"
    try:
        pod = kube.get("v1", "Pod", mirror, namespace)
    except ClusterError as exc:
        return failed(f"cannot see pod {namespace}/{mirror}: {exc}")
    if pod is None:
        return failed(f"no pod {namespace}/{mirror} yet")
    _ready, restarts = _ready_restarts(pod)
    if restarts < 1:
        return failed(f"the static pod {namespace}/{mirror} has not restarted")
    return passed(f"the static pod {namespace}/{mirror} has restarted {restarts} times")
