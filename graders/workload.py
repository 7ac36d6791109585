"""Checks on workloads (Deployments, DaemonSets) and their pods."""

from __future__ import annotations

import re
from typing import Any

from breakfix.context import SessionState
from breakfix.durations import Seconds
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.quantities import Bytes, parse_bytes
from breakfix.results import CheckResult, failed, passed
from graders._images import qualified
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


PROBES = ("livenessProbe", "readinessProbe")
#: Commands that succeed whatever state the app is in.
_NO_OPS = frozenset({"true", ":", "echo", "printf", "exit", "sleep", "test", "[", "cat", "ls", "date", "pwd", "env"})
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
_HTTP_CLIENTS = frozenset({"wget", "curl"})  # without a port or URL they ask port 80
_FORCED = re.compile(r"(\|\||;|&&)\s*(true|:|exit\s+0)\s*($|;|\))")
_URL = re.compile(r"\b(https?)://(\[[^\]]*\]|[^/:\s'\"]*)(?::(\d+))?")
_PORT_WORD = re.compile(r"(?<![\w.])(\d{1,5})(?![\w.])")


def _containers(template: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    spec = (template or {}).get("spec") or {}
    return {c["name"]: c for c in spec.get("containers") or []}


def _port_number(port: object, container: dict[str, Any]) -> int | None:
    """A probe's port as a number: named ports are looked up in the container's ports."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return None


def _served_ports(container: dict[str, Any]) -> set[int]:
    """The ports a container (as deployed) serves: those it declares, or failing that those its probes test."""
    declared = {int(p["containerPort"]) for p in container.get("ports") or [] if p.get("containerPort")}
    if declared:
        return declared
    probed = set()
    for probe in PROBES:
        handler = (container.get(probe) or {}).get("tcpSocket") or (container.get(probe) or {}).get("httpGet")
        number = _port_number((handler or {}).get("port"), container) if handler else None
        if number is not None:
            probed.add(number)
    return probed


def _exec_problem(command: list[str], served: set[int]) -> str | None:
    """Why an exec probe cannot tell a working app from a dead one, or None when it tests a served port."""
    if not command:
        return "it runs no command"
    script = " ".join(command)
    if command[0].rsplit("/", 1)[-1] in _SHELLS and "-c" in command[:-1]:
        script = command[command.index("-c") + 1]
    words = script.replace(";", " ; ").split()
    first = next((w for w in words if w != "exec"), "")
    if first.rsplit("/", 1)[-1] in _NO_OPS or not first:
        return f"its command ({script.strip()[:60]}) succeeds whatever the app does"
    if _FORCED.search(script):
        return f"its command ({script.strip()[:60]}) is made to succeed even when the test in it fails"
    named = {int(p) for p in _PORT_WORD.findall(_URL.sub(" ", script))}
    for scheme, _host, port in _URL.findall(script):
        named.add(int(port) if port else 443 if scheme == "https" else 80)
    if not named and first.rsplit("/", 1)[-1] in _HTTP_CLIENTS:
        named.add(80)
    if not named:
        return f"its command ({script.strip()[:60]}) reaches no port of the app"
    if served and not named & served:
        return f"its command tests port {', '.join(map(str, sorted(named)))}, not a port the app was deployed to serve"
    return None


def _probe_problem(
    probe: dict[str, Any], container: dict[str, Any], served: set[int], react_within: float
) -> str | None:
    """Why a probe cannot tell a working app from a dead one (soon enough), or None when it is effective."""
    handler = probe.get("tcpSocket") or probe.get("httpGet") or probe.get("grpc")
    if handler is not None:
        if handler.get("host"):
            return f"it checks {handler['host']}, not the container"
        number = _port_number(handler.get("port"), container)
        if number is None:
            return f"it checks a port the container does not declare ({handler.get('port')})"
        if served and number not in served:
            return f"it checks port {number}, not a port the app was deployed to serve"
    elif probe.get("exec") is not None:
        problem = _exec_problem(list((probe["exec"] or {}).get("command") or []), served)
        if problem:
            return problem
    else:
        return "it has no check"
    delay = float(probe.get("initialDelaySeconds") or 0)
    if delay > react_within:
        return f"it starts only {delay:.0f}s after the container (initialDelaySeconds), more than {react_within:.0f}s"
    patience = float(probe.get("periodSeconds") or 10) * float(probe.get("failureThreshold") or 3)
    if patience > react_within:
        return (
            f"it gives up on a dead app only after {patience:.0f}s (periodSeconds x failureThreshold), "
            f"more than {react_within:.0f}s"
        )
    if float(probe.get("timeoutSeconds") or 1) > react_within:
        return f"it waits {probe['timeoutSeconds']}s for an answer (timeoutSeconds), more than {react_within:.0f}s"
    return None


def probes_kept(
    kube: Kube,
    state: SessionState,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    react_within: Seconds = 120.0,
) -> CheckResult:
    """The app keeps its liveness and readiness probes, and they really test it (no hiding the problem)."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    seen = state.get(f"remember:{kind}:{namespace}/{name}") or {}
    deployed = _containers(seen.get("pod_template"))
    problems = []
    for c in obj["spec"]["template"]["spec"].get("containers") or []:
        before = deployed.get(c["name"])
        wanted = [p for p in PROBES if (before or {}).get(p)] if before is not None else list(PROBES)
        served = _served_ports(before if before is not None else c)
        for probe in wanted:
            if not c.get(probe):
                problems.append(f"{c['name']} has no {probe}")
                continue
            why = _probe_problem(c[probe], c, served, react_within)
            if why:
                problems.append(f"{c['name']}'s {probe} does not really test the app: {why}")
    if problems:
        return failed(
            f"{kind} {name}: {'; '.join(problems)}",
            "A probe that fails should be corrected, not deleted or disarmed: the kubelet then cannot tell a dead app.",
        )
    return passed(f"{kind} {name} keeps liveness and readiness probes that test the app")


def _live_pods(kube: Kube, obj: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The workload's pods that are neither terminating nor finished."""
    pods = kube.list("v1", "Pod", namespace, label_selector=_selector(obj))
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def _node_memory(kube: Kube, node_name: str, cache: dict[str, int | None]) -> int | None:
    """A node's allocatable memory in bytes (None when it cannot be read)."""
    if node_name not in cache:
        try:
            node = kube.get("v1", "Node", node_name)
        except ClusterError:
            node = None
        memory = ((node or {}).get("status") or {}).get("allocatable", {}).get("memory")
        cache[node_name] = parse_bytes(memory) if memory else None
    return cache[node_name]


def _rolled_out(obj: dict[str, Any]) -> bool:
    """Whether every pod of a Deployment comes from its current template."""
    status = obj.get("status") or {}
    return (
        obj.get("kind", "Deployment") == "Deployment"
        and status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
        and int(status.get("updatedReplicas") or 0) == int(status.get("replicas") or 0)
    )


def memory_limited(
    kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment", at_most: Bytes | None = None
) -> CheckResult:
    """Every running container has a memory limit, and one that its node can actually enforce."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    try:
        pods = _live_pods(kube, obj, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot list the pods of {kind} {namespace}/{name}: {exc}")
    if not pods:
        return failed(f"{kind} {name} has no running pod whose limits could be judged")
    template = _containers(obj["spec"].get("template"))
    rolled_out = _rolled_out(obj)
    nodes: dict[str, int | None] = {}
    problems: list[str] = []
    limits: set[str] = set()
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        for c in pod.get("spec", {}).get("containers") or []:
            limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
            if limit is None:
                problems.append(f"{pod_name}: {c['name']} runs without a memory limit")
                continue
            limits.add(f"{c['name']}: {limit}")
            node_name = pod.get("spec", {}).get("nodeName")
            cap = at_most if at_most is not None else _node_memory(kube, node_name, nodes) if node_name else None
            if cap is not None and parse_bytes(limit) > cap:
                where = f"{cap // 2**20}Mi" if at_most is not None else f"what node {node_name} has ({cap // 2**20}Mi)"
                problems.append(f"{pod_name}: {c['name']}'s limit {limit} is above {where}: no limit in effect")
            own = ((template.get(c["name"], {}).get("resources") or {}).get("limits") or {}).get("memory")
            if rolled_out and own is not None and parse_bytes(own) != parse_bytes(limit):
                problems.append(
                    f"{pod_name}: {c['name']} runs with a limit of {limit}, but {kind} {name} gives its pods {own}"
                )
    if problems:
        return failed(
            f"{kind} {name}: {'; '.join(problems[:3])}",
            "Give the app what it needs, with a limit: without one, a leak takes the whole node's memory.",
        )
    return passed(f"{kind} {name}'s pods run with memory limits ({', '.join(sorted(limits))})")


def _app_view(container: dict[str, Any], allow: set[str]) -> dict[str, Any]:
    """A container without the fields a fix may change, its image in one spelling."""
    view = {k: v for k, v in container.items() if k not in allow and k != "imagePullPolicy"}
    if isinstance(view.get("image"), str):
        view["image"] = qualified(view["image"])
    return view


def app_unchanged(
    kube: Kube,
    state: SessionState,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    allow: list[str] | None = None,
) -> CheckResult:
    """The app's containers are as the lab deployed them (image, command, environment...) in all but a few fields."""
    seen = state.get(f"remember:{kind}:{namespace}/{name}")
    if seen is None or seen.get("pod_template") is None:
        return CheckResult("error", f"{kind} {namespace}/{name}'s pod template was not recorded at setup")
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    free = set(["resources"] if allow is None else allow)
    changed = []
    for key in ("initContainers", "containers"):
        before = {c["name"]: _app_view(c, free) for c in (seen["pod_template"].get("spec") or {}).get(key) or []}
        now = {c["name"]: _app_view(c, free) for c in (obj["spec"]["template"].get("spec") or {}).get(key) or []}
        for gone in sorted(before.keys() - now.keys()):
            changed.append(f"container {gone} is gone")
        for added in sorted(now.keys() - before.keys()):
            changed.append(f"container {added} was added")
        for cname in sorted(before.keys() & now.keys()):
            fields = sorted(
                k for k in before[cname].keys() | now[cname].keys() if before[cname].get(k) != now[cname].get(k)
            )
            if fields:
                changed.append(f"{cname}: {', '.join(fields)} changed")
    if changed:
        return failed(
            f"{kind} {name} no longer runs the app that was deployed ({'; '.join(changed)})",
            "The app is as its team built it: change what it is given, not what it does.",
        )
    return passed(f"{kind} {name} runs the app as deployed")
