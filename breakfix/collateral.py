"""What no lab may damage: a fingerprint of the nodes and the cluster-admins, the guard that grades it, and
the restore that reset runs.

The engine takes a fingerprint before a lab's setup (`before`) and when the clock starts (`started`). A fix
may leave each node label, taint and cordon as it was before the lab or as the lab left it, and nothing
else: a student who labels nodes to match a bogus selector, renames a taint or opens the control plane fails
the guard, whatever the lab's own checks say. Reset puts nodes back as they were `before`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

Fingerprint = dict[str, Any]

#: Taints the node lifecycle controller sets and lifts by itself: never the student's, never restored.
MANAGED_TAINTS = frozenset(
    f"node.kubernetes.io/{name}"
    for name in (
        "not-ready",
        "unreachable",
        "unschedulable",
        "memory-pressure",
        "disk-pressure",
        "pid-pressure",
        "network-unavailable",
    )
)
BEFORE, STARTED = "fingerprint.before", "fingerprint.started"
SYSTEM_NAMESPACE = "kube-system"
ADMIN_ROLE = "cluster-admin"


def _taints(node: dict[str, Any]) -> dict[str, str]:
    """A node's own taints as {"key:effect": value}, without the ones the controllers manage."""
    return {
        f"{t['key']}:{t.get('effect', '')}": str(t.get("value") or "")
        for t in (node.get("spec") or {}).get("taints") or []
        if t.get("key") not in MANAGED_TAINTS
    }


def _ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def fingerprint(kube: Kube) -> Fingerprint:
    """Each node's labels, taints, cordon and readiness, who is bound to cluster-admin, kube-system's workloads."""
    nodes = {
        n["metadata"]["name"]: {
            "labels": dict(n["metadata"].get("labels") or {}),
            "taints": _taints(n),
            "cordoned": bool((n.get("spec") or {}).get("unschedulable")),
            "ready": _ready(n),
        }
        for n in kube.list("v1", "Node")
    }
    admins = sorted(
        b["metadata"]["name"]
        for b in kube.list("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
        if (b.get("roleRef") or {}).get("name") == ADMIN_ROLE
    )
    return {"nodes": nodes, "admins": admins, "system": system_workloads(kube)}


def system_workloads(kube: Kube) -> dict[str, list[int]]:
    """kube-system's Deployments and DaemonSets as "Kind/name" -> [pods wanted, pods available]."""
    found: dict[str, list[int]] = {}
    for dep in kube.list("apps/v1", "Deployment", SYSTEM_NAMESPACE):
        status = dep.get("status") or {}
        wanted = (dep.get("spec") or {}).get("replicas", 1)
        found[f"Deployment/{dep['metadata']['name']}"] = [int(wanted), int(status.get("availableReplicas") or 0)]
    for ds in kube.list("apps/v1", "DaemonSet", SYSTEM_NAMESPACE):
        status = ds.get("status") or {}
        wanted = int(status.get("desiredNumberScheduled") or 0)
        found[f"DaemonSet/{ds['metadata']['name']}"] = [wanted, int(status.get("numberAvailable") or 0)]
    return found


def system_shortfalls(before: Fingerprint, now: Fingerprint) -> list[str]:
    """kube-system workloads that were fully available before the lab and now run fewer pods than they did."""
    short = []
    for name, (wanted, available) in sorted((before.get("system") or {}).items()):
        if available < wanted or wanted == 0:
            continue  # not healthy before the lab: not this lab's damage
        now_wanted, now_available = (now.get("system") or {}).get(name, [0, 0])
        if now_available < wanted:
            short.append(f"{name} {now_available}/{max(wanted, now_wanted)} available (was {available}/{wanted})")
    return short


def _drift(before: dict[str, Any], started: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Keys of a mapping whose value now is neither the value before the lab nor the one it started with."""
    return sorted(k for k in {*before, *started, *now} if now.get(k) not in (before.get(k), started.get(k)))


def node_changes(before: Fingerprint, started: Fingerprint, now: Fingerprint) -> list[str]:
    """What changed on the nodes beyond what the lab did: one phrase per label, taint or cordon."""
    problems = []
    for name, node in sorted(now["nodes"].items()):
        was = before["nodes"].get(name)
        if was is None:
            continue  # a node that joined during the lab: nothing to compare with
        began = started["nodes"].get(name, was)
        for key in _drift(was["labels"], began["labels"], node["labels"]):
            problems.append(f"{name}: label {key} {_what(was['labels'], node['labels'], key)}")
        for key in _drift(was["taints"], began["taints"], node["taints"]):
            problems.append(f"{name}: taint {key} {_what(was['taints'], node['taints'], key)}")
        if node["cordoned"] not in (was["cordoned"], began["cordoned"]):
            problems.append(f"{name}: {'cordoned' if node['cordoned'] else 'uncordoned'}")
    return problems


def _what(was: dict[str, Any], now: dict[str, Any], key: str) -> str:
    if key not in now:
        return "removed"
    return "added" if key not in was else f"changed to {now[key]!r}"


def guard(before: Fingerprint, started: Fingerprint, now: Fingerprint) -> list[CheckResult]:
    """The collateral-damage checks every lab's grade gets: nodes Ready, nodes as they were, no new admins,
    kube-system's workloads as available as before the lab."""
    down = sorted(n for n, was in before["nodes"].items() if was["ready"] and not now["nodes"].get(n, {}).get("ready"))
    ready = (
        failed(f"node(s) no longer Ready: {', '.join(down)}", "A fix must not take another node down.")
        if down
        else passed("every node that was Ready still is")
    )
    changed = node_changes(before, started, now)
    kept = (
        failed(
            f"nodes changed beyond the task: {'; '.join(changed)}",
            "Node labels, taints and cordons belong to the cluster's owners: fix the workload or the component.",
        )
        if changed
        else passed("node labels, taints and cordons are as they were")
    )
    new = sorted(set(now["admins"]) - set(before["admins"]) - set(started["admins"]))
    admins = (
        failed(
            f"new cluster-admin binding(s): {', '.join(new)}",
            "Granting cluster-admin is never the fix: give an identity only the rights it needs.",
        )
        if new
        else passed("no new cluster-admin bindings")
    )
    short = system_shortfalls(before, now)
    system = (
        failed(
            f"kube-system runs fewer pods than before the lab: {'; '.join(short)}",
            "The cluster's own components must keep running: `kubectl -n kube-system get deploy,ds`.",
        )
        if short
        else passed("kube-system's workloads run as before the lab")
    )
    for check, title in (
        (ready, "nodes stay Ready"),
        (kept, "nodes keep their labels and taints"),
        (admins, "no new cluster-admins"),
        (system, "kube-system keeps running"),
    ):
        check.name = f"guard: {title}"
    return [ready, kept, admins, system]


def guard_checks(kube: Kube, before: Fingerprint | None, started: Fingerprint | None) -> list[CheckResult]:
    """The guard against the cluster as it is now; an unreadable cluster is one `error` check."""
    if before is None:
        return []
    try:
        now = fingerprint(kube)
    except BreakfixError as exc:
        return [CheckResult("error", f"cannot read nodes and bindings: {exc}", name="guard: collateral damage")]
    return guard(before, started or before, now)


def restore(kube: Kube, before: Fingerprint, log: Callable[[str], None]) -> list[str]:
    """Put node labels, taints and cordons back as they were before the lab and remove new cluster-admin
    bindings; returns what could not be put back, one line each."""
    now = fingerprint(kube)
    left: list[str] = []
    for name, was in sorted(before["nodes"].items()):
        node = now["nodes"].get(name)
        if node is None:
            left.append(f"node {name} is gone: rejoin it to the cluster (kubeadm join)")
            continue
        patch = _node_patch(kube, name, was, node)
        if patch:
            try:
                kube.patch("v1", "Node", name, None, patch)
                log(f"  put back node {name}: {', '.join(node_changes(before, before, _only(now, name)))}")
            except BreakfixError as exc:
                left.append(f"node {name}: could not put back its labels/taints: {exc}")
    for binding in sorted(set(now["admins"]) - set(before["admins"])):
        try:
            kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", binding)
            log(f"  removed ClusterRoleBinding {binding} (cluster-admin), created during the lab")
        except BreakfixError as exc:
            left.append(f"ClusterRoleBinding {binding} grants cluster-admin and could not be removed: {exc}")
    return left


def _only(fp: Fingerprint, name: str) -> Fingerprint:
    return {"nodes": {name: fp["nodes"][name]}, "admins": fp["admins"]}


def _node_patch(kube: Kube, name: str, was: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that gives node NAME its labels, taints and cordon of before (managed taints kept)."""
    patch: dict[str, Any] = {}
    labels = {
        k: was["labels"].get(k)
        for k in {*was["labels"], *now["labels"]}
        if was["labels"].get(k) != now["labels"].get(k)
    }
    if labels:
        patch["metadata"] = {"labels": labels}
    spec: dict[str, Any] = {}
    if was["taints"] != now["taints"]:
        live = kube.get("v1", "Node", name) or {}
        managed = [t for t in (live.get("spec") or {}).get("taints") or [] if t.get("key") in MANAGED_TAINTS]
        own = []
        for key_effect, value in sorted(was["taints"].items()):
            key, _, effect = key_effect.rpartition(":")
            own.append({"key": key, "effect": effect, **({"value": value} if value else {})})
        spec["taints"] = [*own, *managed] or None
    if was["cordoned"] != now["cordoned"]:
        spec["unschedulable"] = True if was["cordoned"] else None
    if spec:
        patch["spec"] = spec
    return patch


#: Node components that must run as their systemd unit, never started by hand beside it.
UNIT_COMPONENTS = ("kubelet", "containerd")
_STRAYS = (
    'for name in %s; do for pid in $(pgrep -x "$name"); do '
    'grep -q "/$name.service" /proc/$pid/cgroup 2>/dev/null || echo "$name $pid"; done; done'
)


def stray_processes(node: Node) -> list[str]:
    """Components running on NODE outside their systemd unit (started by hand), one line each with a hint."""
    out = node.check(_STRAYS % " ".join(UNIT_COMPONENTS), timeout=30)
    lines = []
    for line in out.splitlines():
        name, _, pid = line.strip().partition(" ")
        if name and pid:
            lines.append(
                f"{node.name}: {name} (pid {pid}) runs outside {name}.service (started by hand?): "
                f"stop it with `kill {pid}`, then `systemctl restart {name}`"
            )
    return lines
