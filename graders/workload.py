"""Checks on workloads (Deployments, DaemonSets) and their pods."""

from __future__ import annotations

from typing import Any

from breakfix.context import SessionState
from breakfix.durations import Seconds
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.quantities import Bytes, parse_bytes
from breakfix.results import CheckResult, failed, passed
from graders._steady import Sample, holds


def _selector(obj: dict[str, Any]) -> str:
    labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _restarts(pods: list[dict[str, Any]]) -> dict[str, int]:
    return {
        p["metadata"]["name"]: sum(
            int(c.get("restartCount") or 0) for c in p.get("status", {}).get("containerStatuses") or []
        )
        for p in pods
    }


def _not_ready_reason(pods: list[dict[str, Any]]) -> str:
    """What the first unready pod's containers are waiting on (ImagePullBackOff, CrashLoopBackOff, ...)."""
    for pod in pods:
        for c in pod.get("status", {}).get("containerStatuses") or []:
            if not c.get("ready"):
                waiting = (c.get("state") or {}).get("waiting") or {}
                last = ((c.get("lastState") or {}).get("terminated") or {}).get("reason")
                why = waiting.get("reason") or last or "not ready"
                return f"{pod['metadata']['name']}: {why}"
    return ""


def _progress(kind: str, obj: dict[str, Any]) -> tuple[int, int]:
    """(replicas wanted, replicas updated and ready)."""
    status = obj.get("status") or {}
    if kind == "DaemonSet":
        return int(status.get("desiredNumberScheduled") or 0), min(
            int(status.get("numberReady") or 0), int(status.get("updatedNumberScheduled") or 0)
        )
    want = int(obj.get("spec", {}).get("replicas", 1) or 0)
    return want, min(int(status.get("readyReplicas") or 0), int(status.get("updatedReplicas") or 0))


def available(
    kube: Kube,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    stable_for: Seconds = 0.0,
    poll: float = 3.0,
) -> CheckResult:
    """Every replica is up to date and Ready, and no pod restarts for STABLE_FOR seconds."""

    def sample() -> CheckResult | Sample[dict[str, int]]:
        try:
            obj = kube.get("apps/v1", kind, name, namespace)
            pods = kube.list("v1", "Pod", namespace, label_selector=_selector(obj)) if obj else []
        except ClusterError as exc:
            return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
        if obj is None:
            return failed(f"{kind} {namespace}/{name} does not exist")
        want, good = _progress(kind, obj)
        if want == 0:
            return failed(f"{kind} {namespace}/{name} runs no replicas", "Who scaled it down, and to what?")
        if good < want or obj["status"].get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
            reason = _not_ready_reason(pods)
            return failed(
                f"{kind} {namespace}/{name}: {good}/{want} replicas up to date and ready"
                + (f" ({reason})" if reason else ""),
                f"kubectl -n {namespace} describe pods -l {_selector(obj)}: read the Events.",
            )
        steady = f", none restarting for {stable_for:.0f}s" if stable_for else ""
        return Sample(_restarts(pods), f"{kind} {namespace}/{name}: {good}/{want} replicas ready{steady}")

    def restarted(first: dict[str, int], now: dict[str, int]) -> CheckResult | None:
        if not any(now.get(p, 0) > n for p, n in first.items()):
            return None
        return failed(
            f"{kind} {namespace}/{name}: a pod restarted within {stable_for:.0f}s",
            "kubectl logs --previous and the pod's Events say why it was killed.",
        )

    return holds(sample, stable_for, poll, restarted)


def _workload(kube: Kube, kind: str, name: str, namespace: str) -> dict[str, Any] | CheckResult:
    """The workload object, or the result to return when it cannot be read or is gone."""
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
    return failed(f"{kind} {namespace}/{name} does not exist") if obj is None else obj


def replicas_restored(
    kube: Kube, state: SessionState, name: str, namespace: str = "default", kind: str = "Deployment"
) -> CheckResult:
    """The workload has at least as many replicas ready as it had before the break."""
    seen = state.get(f"remember:{kind}:{namespace}/{name}")
    if seen is None or seen.get("replicas") is None:
        return CheckResult("error", f"{kind} {namespace}/{name}'s replicas were not recorded at setup")
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    ready = int((obj.get("status") or {}).get("readyReplicas") or 0)
    if ready < seen["replicas"]:
        return failed(
            f"{kind} {namespace}/{name} has {ready} ready replicas; it had {seen['replicas']}",
            "Bring it back to what it was, not just to one.",
        )
    return passed(f"{kind} {namespace}/{name} has {ready} ready replicas, as before")


def probes_kept(kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment") -> CheckResult:
    """Every container that had a liveness or readiness probe still has one (no hiding the problem)."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    containers = obj["spec"]["template"]["spec"].get("containers") or []
    missing = [
        f"{c['name']}: {probe}" for c in containers for probe in ("livenessProbe", "readinessProbe") if not c.get(probe)
    ]
    if missing:
        return failed(
            f"{kind} {name} lost its probes ({', '.join(missing)})",
            "A probe that fails should be corrected, not deleted: the kubelet then cannot tell a dead app.",
        )
    return passed(f"{kind} {name} keeps its liveness and readiness probes")


def memory_limited(
    kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment", at_most: Bytes = 2**30
) -> CheckResult:
    """Every container keeps a memory limit, and none above AT_MOST (raising it is the fix, dropping it is not)."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    containers = obj["spec"]["template"]["spec"].get("containers") or []
    problems = []
    for c in containers:
        limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
        if limit is None:
            problems.append(f"{c['name']} has no memory limit")
        elif parse_bytes(limit) > at_most:
            problems.append(f"{c['name']}'s limit {limit} is above {at_most // 2**20}Mi")
    if problems:
        return failed(
            f"{kind} {name}: {'; '.join(problems)}",
            "Give the app what it needs, with a limit: without one, a leak takes the whole node's memory.",
        )
    limits = ", ".join(f"{c['name']}: {c['resources']['limits']['memory']}" for c in containers)
    return passed(f"{kind} {name} keeps memory limits ({limits})")
