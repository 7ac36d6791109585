"""Checks that a Service routes by its own selector, as the cluster keeps it, and not by endpoints written by hand."""

from __future__ import annotations

from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders.service import MANAGED_BY, SLICE_CONTROLLER, _slices

STALE = "Endpoints written by hand go stale as soon as a pod is replaced."


def by_selector(kube: Kube, service: str, namespace: str = "default") -> CheckResult:
    """The Service routes by its own selector: it has one, every EndpointSlice serving it is kept by the
    EndpointSlice controller, and every pod it picks is kept by a workload (a controller owns it). Endpoints or
    slices written by hand (which kube-proxy follows as well, even beside the controller's) fail, whatever pods
    they name, and so does a pod created by hand (pinned to a node with nodeName, it even skips the scheduler
    and the node's taints): each goes stale at the next rollout. Which workload's pods it picks is left to the
    lab's other checks."""
    svc = kube.get("v1", "Service", service, namespace)
    if svc is None:
        return failed(f"Service {namespace}/{service} does not exist")
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:
        return failed(f"Service {service} has no selector: nothing keeps its endpoints in step with its pods", STALE)
    by_hand = sorted(
        s["metadata"]["name"]
        for s in _slices(kube, service, namespace)
        if (s["metadata"].get("labels") or {}).get(MANAGED_BY) != SLICE_CONTROLLER
    )
    if by_hand:
        return failed(
            f"Service {service} has endpoints that no controller keeps in step with the pods "
            f"(EndpointSlice {', '.join(by_hand)})",
            STALE,
        )
    loose = sorted(
        p["metadata"]["name"]
        for p in kube.list("v1", "Pod", namespace, label_selector=",".join(f"{k}={v}" for k, v in selector.items()))
        if not p["metadata"].get("deletionTimestamp")
        and not any(ref.get("controller") for ref in p["metadata"].get("ownerReferences") or [])
    )
    if loose:
        return failed(
            f"Service {service}'s selector picks pod(s) that no workload keeps: {', '.join(loose[:3])}",
            "A pod created by hand is not replaced when it dies or its node goes; run backends through a workload.",
        )
    return passed(f"Service {service} routes by its selector {selector}, through the controller's endpoints")
