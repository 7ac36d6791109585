"""Checks on where and how a workload's pods are scheduled: the nodes they land on, the node constraints their
template sets, the resources they reserve, and the namespace's quotas and limit ranges that bound them."""

from __future__ import annotations

import re
from typing import Any

from breakfix.errors import ClusterError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.quantities import parse_bytes
from breakfix.results import CheckResult, failed, passed

Amount = str | int | float

_CPU = re.compile(r"(\d+(?:\.\d+)?)(m?)")


def parse_cpu(value: object) -> int:
    """Millicores in a CPU quantity such as 250m, 0.5 or 2."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a CPU amount must be a number or a quantity like 250m")
    match = _CPU.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a CPU amount (write it like 250m, 0.5 or 2)")
    number = float(match.group(1))
    return round(number if match.group(2) else number * 1000)


def amount(resource: str, value: object) -> int:
    """A resource quantity as one number: millicores for CPU, bytes for memory, a count for anything else."""
    if "cpu" in resource:
        return parse_cpu(value)
    if "memory" in resource or "storage" in resource:
        return parse_bytes(value)
    return int(float(str(value)))


def shown(resource: str, number: int) -> str:
    """A number from `amount` written back as a readable quantity."""
    if "cpu" in resource:
        return f"{number}m"
    if "memory" in resource or "storage" in resource:
        return f"{number / 2**20:g}Mi"
    return str(number)


def _workload(kube: Kube, kind: str, name: str, namespace: str) -> dict[str, Any] | CheckResult:
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
    return failed(f"{kind} {namespace}/{name} does not exist") if obj is None else obj


def _selector(obj: dict[str, Any]) -> str:
    labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _live_pods(kube: Kube, obj: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The workload's pods that are neither terminating nor finished."""
    selector = _selector(obj)
    if not selector:
        return []
    return [
        p
        for p in kube.list("v1", "Pod", namespace, label_selector=selector)
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


# --- where the pods run ----------------------------------------------------------------------------------


def runs_on_workers(
    kube: Kube,
    cluster: ClusterSpec,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    node_labels: dict[str, str] | None = None,
) -> CheckResult:
    """Every live pod of the workload was placed by the scheduler on a worker node (one with NODE_LABELS, if given)."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    pinned = _pod_spec(obj).get("nodeName")
    if pinned:
        return failed(
            f"{kind} {name}'s pods are bound to node {pinned} by name: the scheduler never weighs them "
            "(cordons, taints, selectors and free room are all skipped)",
            "Let the scheduler place the pods.",
        )
    workers = {w.name for w in cluster.workers}
    try:
        pods = _live_pods(kube, obj, namespace)
        nodes = {n["metadata"]["name"]: n for n in kube.list("v1", "Node")}
    except ClusterError as exc:
        return CheckResult("error", f"cannot list the pods of {kind} {namespace}/{name}: {exc}")
    if not pods:
        return failed(f"{kind} {namespace}/{name} has no running pod")
    wanted = node_labels or {}
    problems = []
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        where = (pod.get("spec") or {}).get("nodeName")
        if not where:
            problems.append(f"{pod_name} is not on any node")
        elif where not in workers:
            problems.append(f"{pod_name} runs on {where}, which is not a worker")
        else:
            labels = ((nodes.get(where) or {}).get("metadata") or {}).get("labels") or {}
            missing = [f"{k}={v}" for k, v in sorted(wanted.items()) if labels.get(k) != v]
            if missing:
                problems.append(f"{pod_name} runs on {where}, which lacks {', '.join(missing)}")
    if problems:
        return failed(
            f"{kind} {name}: {'; '.join(problems[:3])}",
            f"kubectl -n {namespace} get pods -o wide; kubectl describe pod: the scheduler's events.",
        )
    kinds = f" labelled {', '.join(f'{k}={v}' for k, v in sorted(wanted.items()))}" if wanted else ""
    placed = sorted({str(p["spec"]["nodeName"]) for p in pods})
    return passed(f"{kind} {name}'s {len(pods)} pods run on workers{kinds} ({', '.join(placed)})")


# --- which nodes a template admits -----------------------------------------------------------------------


def _expression_admits(expr: dict[str, Any], labels: dict[str, str], node_name: str, field: bool) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), [str(v) for v in expr.get("values") or []]
    if field:
        have: str | None = node_name if key == "metadata.name" else None
    else:
        have = labels.get(key)
    if op == "In":
        return have is not None and have in values
    if op == "NotIn":
        return have is None or have not in values
    if op == "Exists":
        return have is not None
    if op == "DoesNotExist":
        return have is None
    if op in ("Gt", "Lt") and have is not None and values:
        try:
            mine, bound = int(have), int(values[0])
        except ValueError:
            return False
        return mine > bound if op == "Gt" else mine < bound
    return False


def _term_admits(term: dict[str, Any], labels: dict[str, str], node_name: str) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term matches no node
    return all(_expression_admits(e, labels, node_name, False) for e in exprs) and all(
        _expression_admits(f, labels, node_name, True) for f in fields
    )


def admits(pod_spec: dict[str, Any], labels: dict[str, str], node_name: str = "") -> bool:
    """Whether a pod spec's nodeSelector and required node affinity let it run on a node with LABELS."""
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != str(value):
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(_term_admits(t, labels, node_name) for t in required.get("nodeSelectorTerms") or [])


def requires_node_label(
    kube: Kube, name: str, key: str, value: str, namespace: str = "default", kind: str = "Deployment"
) -> CheckResult:
    """The workload's pods may land only on nodes labelled KEY=VALUE, and they may land on those (its own
    nodeSelector or required node affinity says so, whichever form it takes)."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    spec = _pod_spec(obj)
    try:
        nodes = kube.list("v1", "Node")
    except ClusterError as exc:
        return CheckResult("error", f"cannot list the nodes: {exc}")
    real = [(n["metadata"]["name"], dict(n["metadata"].get("labels") or {})) for n in nodes]
    labelled = [(n, labels) for n, labels in real if labels.get(key) == value]
    # each real node as it would be without the label, or with another value: a node of another class
    others = [("", {})] + [(n, labels) for n, labels in real if labels.get(key) != value]
    others += [
        (n, variant)
        for n, labels in real
        for variant in (
            {k: v for k, v in labels.items() if k != key},
            {**labels, key: f"not-{value}"},
        )
    ]
    loose = sorted({n or "a node with no labels" for n, labels in others if admits(spec, labels, n)})
    if loose:
        return failed(
            f"{kind} {name}'s pods could land on nodes that are not {key}={value} "
            f"(a node like {loose[0]}, without {key}={value}, would do)",
            f"The app belongs on the {key}={value} nodes: its own placement rules must say so.",
        )
    if not any(admits(spec, labels, n) for n, labels in labelled):
        where = ", ".join(n for n, _ in labelled) or "none"
        return failed(
            f"{kind} {name}'s pods fit none of the nodes labelled {key}={value} ({where})",
            f"kubectl -n {namespace} describe pod: what does the scheduler say about each node?",
        )
    return passed(f"{kind} {name}'s pods may run only on nodes labelled {key}={value}, and fit them")


# --- what the pods reserve -------------------------------------------------------------------------------


def _pod_requests(pod_spec: dict[str, Any], resources: list[str]) -> tuple[dict[str, int], list[str]]:
    """A pod's requests per resource (containers summed, an init container's if larger), and containers lacking one."""
    totals = dict.fromkeys(resources, 0)
    missing = []
    for c in pod_spec.get("containers") or []:
        requests = (c.get("resources") or {}).get("requests") or {}
        for r in resources:
            if r in requests:
                totals[r] += amount(r, requests[r])
            else:
                missing.append(f"{c['name']} reserves no {r}")
    for c in pod_spec.get("initContainers") or []:
        requests = (c.get("resources") or {}).get("requests") or {}
        for r in resources:
            if r in requests:
                totals[r] = max(totals[r], amount(r, requests[r]))
    return totals, missing


def requests_kept(
    kube: Kube,
    cluster: ClusterSpec,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    at_least: dict[str, Amount] | None = None,
) -> CheckResult:
    """Every container of the workload's live pods reserves CPU and memory (requests), each pod at least AT_LEAST
    in all, and no more than a worker node can offer."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    floor = {r: amount(r, v) for r, v in (at_least or {}).items()}
    resources = sorted({"cpu", "memory", *floor})
    try:
        pods = _live_pods(kube, obj, namespace)
        nodes = {n["metadata"]["name"]: n for n in kube.list("v1", "Node")}
    except ClusterError as exc:
        return CheckResult("error", f"cannot list the pods of {kind} {namespace}/{name}: {exc}")
    if not pods:
        return failed(f"{kind} {namespace}/{name} has no pod whose reservations could be judged")
    room = [
        {
            r: amount(r, v)
            for r, v in ((nodes.get(w.name) or {}).get("status") or {}).get("allocatable", {}).items()
            if r in resources
        }
        for w in cluster.workers
        if w.name in nodes
    ]
    problems: list[str] = []
    seen: set[str] = set()
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        totals, missing = _pod_requests(pod.get("spec") or {}, resources)
        problems.extend(f"{pod_name}: {m}" for m in missing)
        for r, low in sorted(floor.items()):
            if totals[r] < low:
                problems.append(
                    f"{pod_name} reserves {shown(r, totals[r])} of {r}, less than the {shown(r, low)} it needs"
                )
        if room and not any(all(totals[r] <= node.get(r, 0) for r in resources) for node in room):
            asked = ", ".join(f"{r} {shown(r, totals[r])}" for r in resources)
            problems.append(f"{pod_name} asks for more than any worker can offer ({asked})")
        seen.add(", ".join(f"{r} {shown(r, totals[r])}" for r in resources))
    if problems:
        return failed(
            f"{kind} {name}: {'; '.join(problems[:3])}",
            "Reservations are how the scheduler plans capacity: size them for what the app needs.",
        )
    return passed(f"{kind} {name}'s pods reserve what they need and fit a worker ({'; '.join(sorted(seen))})")


def ready_replicas(
    kube: Kube, name: str, at_least: int, namespace: str = "default", kind: str = "Deployment"
) -> CheckResult:
    """The workload asks for at least AT_LEAST replicas and that many are up to date and ready."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    status = obj.get("status") or {}
    wanted = int((obj.get("spec") or {}).get("replicas", 1) or 0)
    ready = min(int(status.get("readyReplicas") or 0), int(status.get("updatedReplicas") or 0))
    if wanted < at_least:
        return failed(f"{kind} {namespace}/{name} asks for {wanted} replicas; the app needs {at_least}")
    if ready < at_least:
        return failed(
            f"{kind} {namespace}/{name}: {ready}/{wanted} replicas up to date and ready; the app needs {at_least}",
            f"kubectl -n {namespace} describe {kind.lower()} {name}, and the events of its ReplicaSet.",
        )
    return passed(f"{kind} {namespace}/{name}: {ready} replicas ready (at least {at_least} needed)")


# --- what the namespace allows ---------------------------------------------------------------------------


def _quota_key(resource: str) -> list[str]:
    """The spellings of a quota resource: requests.cpu is also written cpu."""
    for short in ("cpu", "memory"):
        if resource in (short, f"requests.{short}"):
            return [f"requests.{short}", short]
    return [resource]


def quota_caps(kube: Kube, namespace: str, resource: str, at_most: Amount) -> CheckResult:
    """A ResourceQuota that counts every pod of NAMESPACE still caps RESOURCE (e.g. requests.cpu) at AT_MOST or
    less."""
    ceiling = amount(resource, at_most)
    try:
        quotas = kube.list("v1", "ResourceQuota", namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot list the quotas of namespace {namespace}: {exc}")
    caps = []
    for quota in quotas:
        spec = quota.get("spec") or {}
        if spec.get("scopes") or spec.get("scopeSelector"):
            continue  # counts only some pods
        hard = spec.get("hard") or {}
        for key in _quota_key(resource):
            if key in hard:
                caps.append((amount(resource, hard[key]), quota["metadata"]["name"]))
    if not caps:
        return failed(
            f"namespace {namespace} has no quota on {resource} any more: it can take the cluster's whole capacity",
            "The namespace's budget is part of the task.",
        )
    tightest, which = min(caps)
    if tightest > ceiling:
        return failed(
            f"namespace {namespace}'s quota caps {resource} at {shown(resource, tightest)} ({which}), "
            f"beyond the {shown(resource, ceiling)} the namespace may have",
            "The namespace's budget is part of the task.",
        )
    return passed(f"namespace {namespace}'s quota {which} caps {resource} at {shown(resource, tightest)}")


def limit_caps(kube: Kube, namespace: str, resource: str, at_most: Amount) -> CheckResult:
    """NAMESPACE still caps what one container (or pod) may be given of RESOURCE, at AT_MOST or less."""
    ceiling = amount(resource, at_most)
    try:
        ranges = kube.list("v1", "LimitRange", namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot list the limit ranges of namespace {namespace}: {exc}")
    caps = [
        (amount(resource, item["max"][resource]), r["metadata"]["name"])
        for r in ranges
        for item in (r.get("spec") or {}).get("limits") or []
        if item.get("type") in ("Container", "Pod") and resource in (item.get("max") or {})
    ]
    if not caps:
        return failed(
            f"namespace {namespace} no longer caps a container's {resource}: one container can take a whole node",
            "The namespace's limits are part of the task.",
        )
    tightest, which = min(caps)
    if tightest > ceiling:
        return failed(
            f"namespace {namespace} lets a container have {shown(resource, tightest)} of {resource} ({which}), "
            f"beyond the {shown(resource, ceiling)} the platform allows",
            "The namespace's limits are part of the task.",
        )
    return passed(f"namespace {namespace} caps a container's {resource} at {shown(resource, tightest)} ({which})")
