"""Why a kubeadm test-bed cluster is not ready: the pods and nodes that are not, their events and last log lines.

`diagnose(kubectl, node_exec, nodes)` asks the cluster (and, where the API cannot say, each node's
kubelet journal) and returns text for an error message; the `describe_*` functions only format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

#: kubectl(*args, check=..., timeout=...) -> stdout; raises when the command fails.
Kubectl = Callable[..., str]
#: node_exec(node name, command) -> its output (never raises: a failure is part of the output).
NodeExec = Callable[[str, Sequence[str]], str]

LOG_LINES = 15
MAX_PODS = 6  # a cluster where everything is down says enough with the first few


def _ready(obj: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in obj.get("status", {}).get("conditions") or []
    )


def not_ready(pods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods that are not Ready (a pod that has Succeeded, a finished Job's, is left out)."""
    return [p for p in pods if not _ready(p) and p.get("status", {}).get("phase") != "Succeeded"]


def _indent(text: str, prefix: str = "    ") -> list[str]:
    return [prefix + line for line in text.rstrip().splitlines()]


def describe_container(status: dict[str, Any]) -> str:
    """One line: a container's state, restarts and last exit."""
    name = status.get("name", "?")
    state = status.get("state") or {}
    if "waiting" in state:
        w = state["waiting"]
        now = f"waiting: {w.get('reason', '?')}" + (f" ({w['message']})" if w.get("message") else "")
    elif "terminated" in state:
        t = state["terminated"]
        now = f"terminated: {t.get('reason', '?')}, exit {t.get('exitCode', '?')}"
    elif "running" in state:
        now = "running" + ("" if status.get("ready") else ", not ready")
    else:
        now = "no state yet"
    line = f"container {name}: {now}; {status.get('restartCount', 0)} restarts"
    last = (status.get("lastState") or {}).get("terminated")
    if last:
        line += f"; last exit {last.get('exitCode', '?')} ({last.get('reason', '?')})"
    return line


def describe_event(event: dict[str, Any]) -> str:
    """One line: when, type, reason (how often) and message of an event."""
    when = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""
    count = event.get("count") or (event.get("series") or {}).get("count") or 1
    times = f" (x{count})" if count > 1 else ""
    message = " ".join(str(event.get("message", "")).split())
    return f"{when[11:19] or '--:--:--'} {event.get('type', '?')} {event.get('reason', '?')}{times}: {message}"


def events_of(events: Sequence[dict[str, Any]], kind: str, name: str) -> list[dict[str, Any]]:
    """The events about one object, oldest first."""
    mine = [
        e for e in events if e.get("involvedObject", {}).get("kind") == kind and e["involvedObject"].get("name") == name
    ]
    return sorted(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def describe_pod(pod: dict[str, Any], events: Sequence[dict[str, Any]], logs: dict[str, str]) -> list[str]:
    """A not-Ready pod: phase, the conditions that are False, each container, its events and last log lines."""
    meta, status = pod.get("metadata", {}), pod.get("status", {})
    where = pod.get("spec", {}).get("nodeName") or "no node"
    false = [
        f"{c['type']}={c['status']}" + (f": {c['message']}" if c.get("message") else "")
        for c in status.get("conditions") or []
        if c.get("status") != "True"
    ]
    head = f"pod {meta.get('namespace', '?')}/{meta.get('name', '?')} on {where}: {status.get('phase', '?')}"
    lines = [head + (f" ({'; '.join(false)})" if false else "")]
    if status.get("reason") or status.get("message"):
        lines.append(f"  {status.get('reason', '')}: {status.get('message', '')}".rstrip())
    containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    lines += [f"  {describe_container(c)}" for c in containers]
    mine = events_of(events, "Pod", meta.get("name", ""))
    lines.append("  events:" if mine else "  events: none")
    lines += [f"    {describe_event(e)}" for e in mine[-8:]]
    for label, text in logs.items():
        lines.append(f"  last log lines ({label}):" if text.strip() else f"  last log lines ({label}): none")
        lines += _indent(text)
    return lines


def describe_node(node: dict[str, Any]) -> str:
    """One line: a node's Ready condition and why."""
    cond = next((c for c in node.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    name = node.get("metadata", {}).get("name", "?")
    if cond is None:
        return f"node {name}: no Ready condition yet"
    why = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
    return f"node {name}: Ready={cond.get('status')}" + (f" ({why})" if why else "")


def _kubectl_json(kubectl: Kubectl, *args: str) -> tuple[list[dict[str, Any]], str]:
    """The items kubectl lists, and an error line instead when it cannot."""
    try:
        items: list[dict[str, Any]] = json.loads(kubectl(*args, "-o", "json", timeout=30))["items"]
        return items, ""
    except Exception as exc:  # down, timed out, garbled: the diagnosis says so and goes on
        return [], f"kubectl {' '.join(args)}: {exc}"


def _logs(kubectl: Kubectl, pod: dict[str, Any], lines: int) -> dict[str, str]:
    """The last lines of a pod's containers, and of their previous run when they restarted."""
    name, namespace = pod["metadata"]["name"], pod["metadata"].get("namespace", "kube-system")
    out: dict[str, str] = {}
    statuses = pod.get("status", {}).get("containerStatuses") or []
    runs = [("current", [])] + (
        [("previous run", ["--previous"])] if any(s.get("restartCount") for s in statuses) else []
    )
    for label, extra in runs:
        args = ["logs", "-n", namespace, name, "--all-containers", "--prefix", f"--tail={lines}", *extra]
        try:
            out[label] = kubectl(*args, timeout=30)
        except Exception as exc:  # no container started yet, or the kubelet cannot be reached
            out[label] = f"(kubectl logs failed: {' '.join(str(exc).split())})"
    return out


def kubelet_journal(node_exec: NodeExec, node: str, lines: int = LOG_LINES) -> list[str]:
    """The last lines of a node's kubelet journal."""
    text = node_exec(node, ["journalctl", "-u", "kubelet", "--no-pager", "-o", "cat", "-n", str(lines)])
    return [f"kubelet journal on {node} (last {lines} lines):", *_indent(text or "(empty)")]


def diagnose(
    kubectl: Kubectl,
    node_exec: NodeExec,
    nodes: Collection[str],
    namespace: str = "kube-system",
    lines: int = LOG_LINES,
    max_pods: int = MAX_PODS,
) -> str:
    """Which nodes and pods of NAMESPACE are not Ready, with events and the last log lines of each."""
    out: list[str] = []
    found, error = _kubectl_json(kubectl, "get", "nodes")
    if error:  # no API: only the nodes can tell
        out.append(f"the API server does not answer ({error})")
        for node in sorted(nodes):
            out += kubelet_journal(node_exec, node, lines)
        return "\n".join(out)
    seen = {n["metadata"]["name"] for n in found}
    out += [f"node {name}: not registered" for name in sorted(set(nodes) - seen)]
    sick = [n for n in found if not _ready(n)]
    out += [describe_node(n) for n in sick]
    for name in sorted({n["metadata"]["name"] for n in sick} | (set(nodes) - seen)):
        out += kubelet_journal(node_exec, name, lines)
    pods, error = _kubectl_json(kubectl, "get", "pods", "-n", namespace)
    if error:
        return "\n".join([*out, error])
    events, error = _kubectl_json(kubectl, "get", "events", "-n", namespace)
    if error:
        out.append(error)
    bad = not_ready(pods)
    if not bad:
        out.append(f"every pod in {namespace} is Ready ({len(pods)} pods)")
    for pod in bad[:max_pods]:
        out += describe_pod(pod, events, _logs(kubectl, pod, lines))
    if len(bad) > max_pods:
        out.append(
            f"... and {len(bad) - max_pods} more not Ready: {', '.join(p['metadata']['name'] for p in bad[max_pods:])}"
        )
    return "\n".join(out)
