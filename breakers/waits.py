"""Steps that change nothing and wait for the cluster to reach a state, so that the next step finds it there."""

from __future__ import annotations

import time

from breakfix.durations import Seconds
from breakfix.errors import StepError
from breakfix.kube import Kube


def pods_present(kube: Kube, namespace: str, selector: str, count: int = 1, timeout: Seconds = 120.0) -> None:
    """Wait until at least COUNT pods match SELECTOR and none of them is being deleted (e.g. after a rollout)."""
    deadline = time.monotonic() + timeout
    while True:
        pods = kube.list("v1", "Pod", namespace, label_selector=selector)
        live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
        if len(live) >= count and len(live) == len(pods):
            return
        if time.monotonic() >= deadline:
            raise StepError(f"pods {selector} in {namespace}: {len(live)} of {count} after {timeout:.0f}s")
        time.sleep(2)


def rollout_reached(kube: Kube, name: str, namespace: str = "default", timeout: Seconds = 180.0) -> None:
    """Wait until a Deployment's pods all come from its current template (ready or not) and no old pod is left."""
    deadline = time.monotonic() + timeout
    while True:
        obj = kube.get("apps/v1", "Deployment", name, namespace) or {}
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        wanted = int(spec.get("replicas", 1))
        seen = int(status.get("observedGeneration") or 0) >= int((obj.get("metadata") or {}).get("generation") or 1)
        if obj and seen and status.get("updatedReplicas", 0) == wanted and status.get("replicas", 0) == wanted:
            return
        if time.monotonic() >= deadline:
            raise StepError(f"Deployment {namespace}/{name}: its rollout did not reach its pods in {timeout:.0f}s")
        time.sleep(2)
