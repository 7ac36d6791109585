"""Generic shortcuts `lab verify` tries on a lab's graded workloads, each of which must fail grading like a cheat.

A graded workload is a Deployment, StatefulSet or DaemonSet the lab's setup or break changed (so it is in the
journal) and one of its grade steps names, in an argument that is not about another kind (OTHER_KINDS).
Against each, from the broken cluster:

- `scale-to-zero`: no replicas, so nothing crashes or waits (Deployments and StatefulSets that run some);
- `no-probes`: every liveness, readiness and startup probe taken off (when it has one; sidecars too);
- `no-resources`: requests and limits taken off (when it has some; init containers too);
- `renamed`, tried on the fixed cluster, after the reference fix passed: the workload run under another
  name and the original deleted (a workload the lab created: the cluster's own keep their names; not a
  StatefulSet with claim templates, whose copy would leave claims behind). Its undo re-creates the
  original with a new UID, which graders that remember the UID rightly refuse: so it comes last.

Against each Service the lab's break changed (`routed_services`), from the broken cluster, as a hurried student
would route it to the app's pods without repairing it (both written by `breakers.kube.endpoints_by_hand`, to the
ready pods the Service selected before the break, on the port it sent them to):

- `hand-endpoints`: the selector taken off and the Endpoints written by hand;
- `hand-slice`: an EndpointSlice of one's own beside the controller's.

A lab where one of these is a valid fix names it under `exempt_bypasses`, with why, and it is not run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from breakfix.journal_records import ObjectChange
from breakfix.kube import Kube
from breakfix.state import JournalEntry
from breakfix.steps import Step, bind, render

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
BREAK = "break"
SCALABLE = ("Deployment", "StatefulSet")
RENAMED_SUFFIX = "-renamed"
#: Arguments of grade steps that name something other than a workload: a ServiceAccount or a Service named
#: like its app does not make the app graded (an RBAC lab grades the account's permissions, not the app)
OTHER_KINDS = frozenset(
    {"service_account", "service", "namespace", "target_namespace", "configmap", "secret", "claim", "node"}
)


@dataclass(frozen=True, order=True)
class Target:
    """A workload the lab grades."""

    kind: str
    namespace: str
    name: str
    created: bool  # the lab's setup created it (the cluster's own workloads are not renamed)

    @property
    def label(self) -> str:
        """How bypass names write it: Deployment/shop/web."""
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Bypass:
    """One generic shortcut: its name (`scale-to-zero:Deployment/shop/web`), the steps that take it, and whether
    it is tried on the fixed cluster (after the reference fix) rather than the broken one."""

    name: str
    steps: list[Step]
    after_fix: bool = False


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def graded_targets(grade: list[Step], journal: list[JournalEntry], variables: Mapping[str, Any]) -> list[Target]:
    """The workloads in JOURNAL (setup and break) that a grade step names, in its namespace when it names one."""
    named: list[tuple[str | None, set[str]]] = []
    for step in grade:
        kwargs = render(step.kwargs, variables, keep_unknown=True)
        namespace = kwargs.get("namespace")
        if namespace is None and "namespace" in step.params:  # not given: the grader's own default
            namespace = step.params["namespace"].default
        about_workloads = {k: v for k, v in kwargs.items() if k not in OTHER_KINDS}
        named.append((namespace if isinstance(namespace, str) else None, set(_strings(about_workloads))))
    created: dict[tuple[str, str, str], bool] = {}  # by the first change: the lab created it, or it was there
    for rec in (entry.change for entry in journal):
        if isinstance(rec, ObjectChange) and rec.kind in WORKLOADS and rec.namespace:
            created.setdefault((rec.kind, rec.namespace, rec.name), rec.previous is None)
    found = [
        Target(kind, namespace, name, made)
        for (kind, namespace, name), made in created.items()
        if any(name in names and ns in (None, namespace) for ns, names in named)
    ]
    return sorted(found)


@dataclass(frozen=True, order=True)
class RoutedService:
    """A Service the lab's break changed, with the selector and first port it had before."""

    namespace: str
    name: str
    selector: tuple[tuple[str, str], ...]
    target_port: int | str

    @property
    def label(self) -> str:
        """How bypass names write it: Service/shop/web."""
        return f"Service/{self.namespace}/{self.name}"


def routed_services(journal: list[JournalEntry]) -> list[RoutedService]:
    """The Services the break changed that routed to pods by a selector before it (as setup left them)."""
    before: dict[tuple[str, str], Mapping[str, Any] | None] = {}
    for entry in (e for e in journal if e.phase == BREAK):
        rec = entry.change
        if isinstance(rec, ObjectChange) and rec.kind == "Service" and rec.namespace:
            before.setdefault((rec.namespace, rec.name), rec.previous)
    found = []
    for (namespace, name), previous in before.items():
        spec = (previous or {}).get("spec") or {}
        selector, ports = spec.get("selector") or {}, spec.get("ports") or []
        if selector and ports and spec.get("type") != "ExternalName":
            first = ports[0]
            target = first.get("targetPort", first.get("port"))
            found.append(RoutedService(namespace, name, tuple(sorted(selector.items())), target))
    return sorted(found)


def _ready_pods(kube: Kube, selector: Mapping[str, str], namespace: str) -> list[Mapping[str, Any]]:
    """The live pods matching SELECTOR that are Ready and have an address."""
    pods = kube.list("v1", "Pod", namespace, label_selector=",".join(f"{k}={v}" for k, v in selector.items()))
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and _ready(p.get("status") or {})]


def _ready(status: Mapping[str, Any]) -> bool:
    """The pod has an address and its Ready condition is True."""
    conditions = status.get("conditions") or []
    return bool(status.get("podIP")) and any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _port_number(target: int | str, pods: list[Mapping[str, Any]]) -> int | None:
    """TARGET as a number: itself, or the container port of that name on the pods (None when none has it)."""
    if isinstance(target, int):
        return target
    if target.isdigit():
        return int(target)
    for pod in pods:
        for container in (pod.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == target and isinstance(port.get("containerPort"), int):
                    return int(port["containerPort"])
    return None


def plan_routing(kube: Kube, services: list[RoutedService], exempt: Mapping[str, str] | None = None) -> list[Bypass]:
    """The hand-routing bypasses for SERVICES as the break left them (those that still exist and whose pods are
    ready to route to), minus the lab's EXEMPT ones."""
    out: list[Bypass] = []
    for svc in services:
        if kube.get("v1", "Service", svc.name, svc.namespace) is None:
            continue
        selector = dict(svc.selector)
        pods = _ready_pods(kube, selector, svc.namespace)
        port = _port_number(svc.target_port, pods)
        if not pods or port is None:
            continue
        args = {"service": svc.name, "namespace": svc.namespace, "pods": selector, "port": port}
        for name, extra in (("hand-endpoints", {}), ("hand-slice", {"slice_only": True})):
            full = f"{name}:{svc.label}"
            if full not in (exempt or {}):
                out.append(Bypass(full, [_step("breakers.kube.endpoints_by_hand", {**args, **extra})]))
    return out


def _containers(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _step(ref: str, args: Mapping[str, Any]) -> Step:
    return bind(ref, args, "cheats")


def plan(kube: Kube, targets: list[Target], exempt: Mapping[str, str] | None = None) -> list[Bypass]:
    """The bypasses that apply to TARGETS as they are now (the broken cluster), minus the lab's EXEMPT ones."""
    out: list[Bypass] = []
    for target in targets:
        obj = kube.get("apps/v1", target.kind, target.name, target.namespace)
        if obj is None:
            continue
        where = {"kind": target.kind, "name": target.name, "namespace": target.namespace}
        containers = _containers(obj)
        chosen: list[Bypass] = []
        if target.kind in SCALABLE and (obj["spec"].get("replicas") or 0) > 0:
            chosen.append(Bypass("scale-to-zero", [_step("breakers.kube.scale", {**where, "replicas": 0})]))
        if any(c.get(p) for c in containers for p in ("livenessProbe", "readinessProbe", "startupProbe")):
            chosen.append(Bypass("no-probes", [_step("breakers.bypass.drop_probes", where)]))
        if any((c.get("resources") or {}).get(k) for c in containers for k in ("requests", "limits")):
            chosen.append(Bypass("no-resources", [_step("breakers.bypass.drop_resources", where)]))
        if target.created and not obj["spec"].get("volumeClaimTemplates"):  # a copy's claims would outlive it
            renamed = [
                _step("breakers.kube.copy_workload", {**where, "new_name": target.name + RENAMED_SUFFIX}),
                _step("breakers.kube.delete", {**where, "api_version": "apps/v1"}),
            ]
            chosen.append(Bypass("renamed", renamed, after_fix=True))
        for bypass in chosen:
            name = f"{bypass.name}:{target.label}"
            if name not in (exempt or {}):
                out.append(Bypass(name, bypass.steps, bypass.after_fix))
    return out
