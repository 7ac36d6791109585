"""Checks on the lifecycle of pods and Jobs: a Job that completed and really did its work."""

from __future__ import annotations

from typing import Any

from breakfix.errors import BreakfixError, ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node


def _condition(obj: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or []
    )


def cri_log_text(raw: str) -> str:
    """The text a container printed, from the kubelet's log file (CRI format: time, stream, tag, message)."""
    out: list[str] = []
    for line in raw.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[1] not in ("stdout", "stderr"):
            continue
        message = parts[3] if len(parts) == 4 else ""
        out.append(message if parts[2] == "F" else message + "\x00")  # P: the line goes on in the next entry
    return "\n".join(out).replace("\x00\n", "")


def pod_log(nodes: list[Node], pod: dict[str, Any], container: str | None = None) -> str | None:
    """What a pod's container printed, read from its node's log folder (None when it cannot be found)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    node = next((n for n in nodes if n.name == spec.get("nodeName")), None)
    name = container or ((spec.get("containers") or [{}])[0]).get("name")
    if node is None or not name:
        return None
    folder = f"/var/log/pods/{meta['namespace']}_{meta['name']}_{meta['uid']}/{name}"
    result = node.run("cat -- %s/*.log", folder, timeout=30)
    return cri_log_text(result.stdout) if result.ok else None


def job_output(
    kube: Kube, nodes: list[Node], name: str, contains: str, namespace: str = "default", container: str | None = None
) -> CheckResult:
    """The Job completed, and a pod of it that succeeded printed CONTAINS (it did the work, not just exit 0).

    The log is read on the pod's node, where the kubelet keeps it (/var/log/pods), for the Job's own pods."""
    try:
        job = kube.get("batch/v1", "Job", name, namespace)
        if job is None:
            return failed(f"Job {namespace}/{name} does not exist", f"kubectl -n {namespace} get jobs")
        if not _condition(job, "Complete"):
            status = job.get("status") or {}
            state = "failed" if _condition(job, "Failed") else "not complete"
            return failed(
                f"Job {namespace}/{name} is {state} ({status.get('succeeded') or 0} pods succeeded, "
                f"{status.get('failed') or 0} failed)",
                f"kubectl -n {namespace} describe job {name}; kubectl -n {namespace} logs job/{name}",
            )
        uid = job["metadata"]["uid"]
        labels = (job["spec"].get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None
        pods = [
            p
            for p in kube.list("v1", "Pod", namespace, label_selector=selector)
            if any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or [])
            and (p.get("status") or {}).get("phase") == "Succeeded"
        ]
    except ClusterError as exc:
        return CheckResult("error", f"cannot read Job {namespace}/{name} and its pods: {exc}")
    if not pods:
        return failed(f"Job {namespace}/{name} is complete, but none of its succeeded pods is left to show its output")
    unread = []
    for pod in pods:
        try:
            text = pod_log(nodes, pod, container)
        except BreakfixError:
            text = None
        if text is None:
            unread.append(pod["metadata"]["name"])
        elif contains in text:
            return passed(f"Job {namespace}/{name} completed with the expected result")
    if unread and len(unread) == len(pods):
        return CheckResult("error", f"cannot read the logs of Job {namespace}/{name}'s pods: {', '.join(unread)}")
    return failed(
        f"Job {namespace}/{name} completed, but its pods did not print the expected result",
        f"kubectl -n {namespace} logs job/{name}: did it do its work?",
    )
