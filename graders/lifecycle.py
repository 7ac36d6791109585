"""Checks on the lifecycle of pods and Jobs: a Job that completed and really did its work."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from breakfix.durations import Seconds
from breakfix.errors import BreakfixError, ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.probe import PROBE_LABEL


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


def _point_at(spec: dict[str, Any], configmap: str, other: str) -> None:
    """Make every reference of a pod spec to ConfigMap CONFIGMAP name OTHER instead (volumes, env, envFrom)."""
    for volume in spec.get("volumes") or []:
        sources = [volume, *((volume.get("projected") or {}).get("sources") or [])]
        for source in sources:
            ref = source.get("configMap")
            if isinstance(ref, dict) and ref.get("name") == configmap:
                ref["name"] = other
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env in c.get("env") or []:
            ref = ((env.get("valueFrom") or {}).get("configMapKeyRef")) or {}
            if ref.get("name") == configmap:
                ref["name"] = other
        for source in c.get("envFrom") or []:
            ref = source.get("configMapRef") or {}
            if ref.get("name") == configmap:
                ref["name"] = other


def _finished(kube: Kube, name: str, namespace: str, wait_for: float) -> dict[str, Any] | None:
    """The Job once it has completed or failed; None when it has done neither within WAIT_FOR seconds."""
    deadline = time.monotonic() + wait_for
    while True:
        job = kube.get("batch/v1", "Job", name, namespace)
        if job is not None and (_condition(job, "Complete") or _condition(job, "Failed")):
            return job
        if time.monotonic() >= deadline:
            return None
        time.sleep(2)


def job_follows_input(
    kube: Kube,
    nodes: list[Node],
    name: str,
    configmap: str,
    data: dict[str, str],
    contains: str,
    namespace: str = "default",
    container: str | None = None,
    wait_for: Seconds = 120.0,
) -> CheckResult:
    """A copy of the Job, given DATA in place of its ConfigMap CONFIGMAP, prints CONTAINS (it works its input out).

    The trial Job and its ConfigMap live beside the Job for the check, and are deleted after it."""
    trial = f"breakfix-trial-{uuid.uuid4().hex[:8]}"
    try:
        job = kube.get("batch/v1", "Job", name, namespace)
        if job is None:
            return failed(f"Job {namespace}/{name} does not exist", f"kubectl -n {namespace} get jobs")
        template = copy.deepcopy(job["spec"]["template"])
        template["metadata"] = {"labels": {PROBE_LABEL: "job-trial", "breakfix.dev/probe-id": trial}}
        _point_at(template.get("spec") or {}, configmap, trial)
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": trial, "namespace": namespace, "labels": {PROBE_LABEL: "job-trial"}},
                "data": data,
            }
        )
        try:
            kube.create(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": trial, "namespace": namespace, "labels": {PROBE_LABEL: "job-trial"}},
                    "spec": {"backoffLimit": 1, "template": template},
                }
            )
            done = _finished(kube, trial, namespace, wait_for)
            pods = [
                p
                for p in kube.list("v1", "Pod", namespace, label_selector=f"breakfix.dev/probe-id={trial}")
                if (p.get("status") or {}).get("phase") == "Succeeded"
            ]
            texts = [pod_log(nodes, p, container) for p in pods]
        finally:
            kube.delete("batch/v1", "Job", trial, namespace)
            kube.delete("v1", "ConfigMap", trial, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run a trial of Job {namespace}/{name}: {exc}")
    if any(text is not None and contains in text for text in texts):
        return passed(f"a trial of Job {namespace}/{name} with other input printed that input's result")
    if not done or not _condition(done, "Complete"):
        return failed(
            f"a trial of Job {namespace}/{name} with other input did not complete within {wait_for:.0f}s",
            f"kubectl -n {namespace} describe job {name}",
        )
    return failed(
        f"a trial of Job {namespace}/{name} with other input completed, but did not print that input's result",
        "does the Job work out its answer from its input?",
    )
