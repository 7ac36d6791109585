"""Waits on the Metrics API and HorizontalPodAutoscalers, so a lab breaks only what worked."""

from __future__ import annotations

import time

from breakfix.durations import Seconds
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from graders.metrics import metrics_api


def wait_metrics(
    kube: Kube, namespace: str | None = None, selector: str | None = None, timeout: Seconds = 240.0
) -> None:
    """Wait until the Metrics API has figures for every Ready node (and the pods SELECTOR picks in NAMESPACE)."""
    deadline = time.monotonic() + timeout
    while True:
        result = metrics_api(kube, namespace, selector)
        if result.status == "pass":
            return
        if time.monotonic() >= deadline:
            raise StepError(f"the Metrics API is not serving after {timeout:.0f}s: {result.message}")
        time.sleep(5)


def wait_hpa_active(kube: Kube, name: str, namespace: str = "default", timeout: Seconds = 240.0) -> None:
    """Wait until HorizontalPodAutoscaler NAME can scale and has computed its first metric."""
    deadline = time.monotonic() + timeout
    last = "not read yet"
    while True:
        try:
            hpa = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", name, namespace)
        except (ClusterError, StepError) as exc:
            hpa, last = None, str(exc)
        if hpa is not None:
            status = hpa.get("status") or {}
            active = [c for c in status.get("conditions") or [] if c.get("type") == "ScalingActive"]
            if active and active[0].get("status") == "True" and status.get("currentMetrics"):
                return
            last = active[0].get("message", "") if active else "no conditions yet"
        if time.monotonic() >= deadline:
            raise StepError(f"HorizontalPodAutoscaler {namespace}/{name} is not active after {timeout:.0f}s: {last}")
        time.sleep(5)
