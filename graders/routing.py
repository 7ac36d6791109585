"""Checks that a Service routes by its own selector, as the cluster keeps it, and not by endpoints written by hand."""

from __future__ import annotations

from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders.service import MANAGED_BY, SLICE_CONTROLLER, _slices

STALE = "Endpoints written by hand go stale as soon as a pod is replaced."


def by_selector(kube: Kube, service: str, namespace: str = "default") -> CheckResult:
    """The Service routes by its own selector: it has one, and every EndpointSlice serving it is kept by the
    EndpointSlice controller. Endpoints or slices written by hand (which kube-proxy follows as well, even beside
    the controller's) fail, whatever pods they name: they go stale at the next rollout. Which pods the selector
    picks is left to the lab's other checks."""
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
    return passed(f"Service {service} routes by its selector {selector}, through the controller's endpoints")
