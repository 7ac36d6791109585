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
