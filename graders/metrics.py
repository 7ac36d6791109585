"""Graders for the Metrics API (metrics.k8s.io) and the HorizontalPodAutoscalers that depend on it."""

from __future__ import annotations

from typing import Any

from breakfix.durations import Seconds
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders._steady import Sample, holds

METRICS_API = "metrics.k8s.io/v1beta1"
METRICS_APISERVICE = "v1beta1.metrics.k8s.io"


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def _ready_nodes(kube: Kube) -> list[str]:
    return sorted(
        n["metadata"]["name"] for n in kube.list("v1", "Node") if _condition(n, "Ready").get("status") == "True"
    )


def _running_pods(kube: Kube, namespace: str, selector: str) -> list[str]:
    pods = kube.list("v1", "Pod", namespace, label_selector=selector)
    return sorted(
        p["metadata"]["name"]
        for p in pods
        if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    )


def _metrics_sample(kube: Kube, namespace: str | None, selector: str | None) -> CheckResult | Sample[None]:
    try:
        service = kube.get("apiregistration.k8s.io/v1", "APIService", METRICS_APISERVICE)
        if service is None:
            return failed(
                f"the Metrics API is not registered (no APIService {METRICS_APISERVICE})",
                "kubectl top nodes: what does it say?",
            )
        available = _condition(service, "Available")
        if available.get("status") != "True":
            return failed(
                f"the Metrics API is not available: APIService {METRICS_APISERVICE} is "
                f"{available.get('reason') or 'not Available'}",
                f"kubectl describe apiservice {METRICS_APISERVICE}; then look at the pods behind its Service.",
            )
        nodes = _ready_nodes(kube)
        measured = {m["metadata"]["name"] for m in kube.list(METRICS_API, "NodeMetrics") if m.get("usage")}
        pods = _running_pods(kube, namespace, selector or "") if namespace else []
        pod_metrics = (
            {m["metadata"]["name"] for m in kube.list(METRICS_API, "PodMetrics", namespace) if m.get("containers")}
            if namespace
            else set()
        )
    except (ClusterError, StepError) as exc:  # an APIService that is down makes discovery refuse the group
        return failed(f"the Metrics API does not answer: {exc}", "kubectl top nodes: what does it say?")
    unmeasured = [n for n in nodes if n not in measured]
    if not nodes:
        return failed("no node is Ready: nothing to measure")
    if unmeasured:
        return failed(
            f"the Metrics API has no figures for node(s) {', '.join(unmeasured)} "
            f"({len(nodes) - len(unmeasured)} of {len(nodes)} measured)",
            "kubectl top nodes; the logs of whatever serves the Metrics API say why a node is missing.",
        )
    if namespace:
        if not pods:
            return failed(f"no running pod in namespace {namespace} matches {selector!r}: nothing to measure")
        missing = [p for p in pods if p not in pod_metrics]
        if missing:
            return failed(
                f"the Metrics API has no figures for pod(s) {', '.join(missing)} in namespace {namespace}",
                f"kubectl -n {namespace} top pods",
            )
    what = f"{len(nodes)} node(s)" + (f" and {len(pods)} pod(s) in namespace {namespace}" if namespace else "")
    return Sample(None, f"the Metrics API answers with figures for {what}")


def metrics_api(
    kube: Kube,
    namespace: str | None = None,
    selector: str | None = None,
    stable_for: Seconds = 0.0,
    poll: float = 5.0,
) -> CheckResult:
    """The Metrics API answers with usage for every Ready node (and the running pods SELECTOR picks in NAMESPACE)."""
    return holds(lambda: _metrics_sample(kube, namespace, selector), stable_for, poll, lambda _a, _b: None)


def _resource_metric(spec: dict[str, Any], resource: str) -> dict[str, Any] | None:
    for metric in spec.get("metrics") or []:
        if metric.get("type") == "Resource" and (metric.get("resource") or {}).get("name") == resource:
            return dict(metric["resource"])
    return None


def _hpa_spec_problems(
    spec: dict[str, Any], target_kind: str, target: str, resource: str, utilization: int, min_r: int, max_r: int
) -> list[str]:
    problems = []
    ref = spec.get("scaleTargetRef") or {}
    if (ref.get("kind"), ref.get("name")) != (target_kind, target):
        problems.append(f"it scales {ref.get('kind')}/{ref.get('name')}, not {target_kind}/{target}")
    if (spec.get("minReplicas", 1), spec.get("maxReplicas")) != (min_r, max_r):
        problems.append(
            f"it scales between {spec.get('minReplicas', 1)} and {spec.get('maxReplicas')} replicas, "
            f"not {min_r} and {max_r}"
        )
    metric = _resource_metric(spec, resource)
    goal = (metric or {}).get("target") or {}
    if metric is None:
        problems.append(f"it no longer scales on {resource}")
    elif goal.get("type") != "Utilization" or goal.get("averageUtilization") != utilization:
        shown = goal.get("averageUtilization") if goal.get("type") == "Utilization" else goal.get("averageValue")
        problems.append(
            f"it aims at {goal.get('type')} {shown} of {resource}, not {utilization}% of what the pods request"
        )
    if len(spec.get("metrics") or []) > 1:
        problems.append(f"it scales on {len(spec['metrics'])} metrics, not one")
    for way in ("scaleUp", "scaleDown"):
        if ((spec.get("behavior") or {}).get(way) or {}).get("selectPolicy") == "Disabled":
            problems.append(f"its {way} is disabled")
    return problems


def hpa_active(
    kube: Kube,
    name: str,
    target: str,
    min_replicas: int,
    max_replicas: int,
    utilization: int,
    resource: str = "cpu",
    namespace: str = "default",
    target_kind: str = "Deployment",
    stable_for: Seconds = 0.0,
    poll: float = 5.0,
) -> CheckResult:
    """HPA NAME still scales TARGET on RESOURCE at UTILIZATION% of requests, and can compute that figure now."""

    def sample() -> CheckResult | Sample[None]:
        try:
            hpa = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", name, namespace)
        except (ClusterError, StepError) as exc:
            return CheckResult("error", f"cannot read HorizontalPodAutoscaler {namespace}/{name}: {exc}")
        if hpa is None:
            return failed(
                f"HorizontalPodAutoscaler {namespace}/{name} does not exist",
                f"{target_kind} {target} is meant to be scaled by it.",
            )
        problems = _hpa_spec_problems(
            hpa.get("spec") or {}, target_kind, target, resource, utilization, min_replicas, max_replicas
        )
        if problems:
            return failed(
                f"HorizontalPodAutoscaler {namespace}/{name} was changed: {'; '.join(problems)}",
                "The autoscaling policy is part of the task.",
            )
        for kind in ("AbleToScale", "ScalingActive"):
            cond = _condition(hpa, kind)
            if cond.get("status") != "True":
                return failed(
                    f"HorizontalPodAutoscaler {namespace}/{name} is not scaling: {kind} is "
                    f"{cond.get('status', 'unknown')} ({cond.get('reason') or 'no reason given yet'})",
                    f"kubectl -n {namespace} describe hpa {name}: read its Conditions and Events.",
                )
        current = None
        for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
            res = metric.get("resource") or {}
            if metric.get("type") == "Resource" and res.get("name") == resource:
                current = (res.get("current") or {}).get("averageUtilization")
        if current is None:
            return failed(
                f"HorizontalPodAutoscaler {namespace}/{name} has no current {resource} utilization",
                f"kubectl -n {namespace} get hpa {name}: what does TARGETS show?",
            )
        return Sample(None, f"HorizontalPodAutoscaler {namespace}/{name} sees {resource} at {current}% of requests")

    return holds(sample, stable_for, poll, lambda _a, _b: None)


def _asks(container: dict[str, Any], resource: str) -> bool:
    res = container.get("resources") or {}
    return resource in (res.get("requests") or {}) or resource in (res.get("limits") or {})


def template_requests(
    kube: Kube, name: str, resource: str = "cpu", namespace: str = "default", kind: str = "Deployment"
) -> CheckResult:
    """Every pod the workload will create asks for RESOURCE: from its template, or a default of the namespace."""
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
        ranges = kube.list("v1", "LimitRange", namespace)
    except (ClusterError, StepError) as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
    if obj is None:
        return failed(f"{kind} {namespace}/{name} does not exist")
    spec = obj["spec"]["template"].get("spec") or {}
    if resource in ((spec.get("resources") or {}).get("requests") or {}):  # a pod-level request covers them all
        return passed(f"{kind} {namespace}/{name}'s pods ask for {resource} (pod level)")
    defaulted = any(
        item.get("type") == "Container"
        and (resource in (item.get("defaultRequest") or {}) or resource in (item.get("default") or {}))
        for r in ranges
        for item in (r.get("spec") or {}).get("limits") or []
    )
    bare = [c["name"] for c in spec.get("containers") or [] if not _asks(c, resource)]
    if bare and not defaulted:
        return failed(
            f"new pods of {kind} {namespace}/{name} would not be measured as the running ones are "
            f"(container(s) {', '.join(bare)} of its template)",
            "A pod changed in place is replaced by its template at the next rollout, scale-up or drain.",
        )
    return passed(f"every new pod of {kind} {namespace}/{name} is measured the same way")


INSECURE_FLAG = "--deprecated-kubelet-completely-insecure"


def _insecure(args: list[str]) -> bool:
    for arg in args:
        if arg == INSECURE_FLAG or (arg.startswith(INSECURE_FLAG + "=") and arg.split("=", 1)[1].lower() != "false"):
            return True
    return False


def kubelets_read_securely(kube: Kube) -> CheckResult:
    """The pods serving the Metrics API read the kubelets over their authenticated HTTPS port, not in plain HTTP."""
    try:
        service = kube.get("apiregistration.k8s.io/v1", "APIService", METRICS_APISERVICE)
        ref = ((service or {}).get("spec") or {}).get("service") or {}
        backend = kube.get("v1", "Service", ref["name"], ref["namespace"]) if ref.get("name") else None
        selector = ((backend or {}).get("spec") or {}).get("selector") or {}
        pods = (
            kube.list("v1", "Pod", ref["namespace"], label_selector=",".join(f"{k}={v}" for k, v in selector.items()))
            if selector
            else []
        )
    except (ClusterError, StepError) as exc:
        return CheckResult("error", f"cannot read what serves the Metrics API: {exc}")
    if not pods:
        return failed("no pod serves the Metrics API", f"kubectl describe apiservice {METRICS_APISERVICE}")
    plain = sorted(
        p["metadata"]["name"]
        for p in pods
        for c in (p.get("spec") or {}).get("containers") or []
        if _insecure([*(c.get("command") or []), *(c.get("args") or [])])
    )
    if plain:
        return failed(
            f"pod(s) {', '.join(plain)} read the kubelets without authentication ({INSECURE_FLAG})",
            "Every kubelet keeps its node's metrics behind its authenticated port.",
        )
    return passed(f"the {len(pods)} pod(s) serving the Metrics API read the kubelets over authenticated HTTPS")
