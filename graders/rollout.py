"""Graders for a rollout as the pods show it: every running pod runs the workload's template as it is now."""

from __future__ import annotations

from typing import Any

from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders._images import qualified

#: what makes a container run the app it runs (status counts can be fooled: a ReplicaSet edited in place
#: to match a new template is adopted as new, while its pods still run the old one)
COMPARED = ("image", "command", "args", "env", "envFrom")


def _running_view(container: dict[str, Any]) -> dict[str, Any]:
    view = {k: container.get(k) or None for k in COMPARED}
    if isinstance(view["image"], str):
        view["image"] = qualified(view["image"])
    return view


def pods_run_template(kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment") -> CheckResult:
    """Every pod of the workload, not being deleted, runs its pod template as it is now (image, command, env)."""
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
        if obj is None:
            return failed(f"{kind} {namespace}/{name} does not exist", f"kubectl -n {namespace} get {kind.lower()}")
        labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        pods = [
            p
            for p in kube.list("v1", "Pod", namespace, label_selector=selector)
            if not (p.get("metadata") or {}).get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name} and its pods: {exc}")
    if not pods:
        return failed(f"{kind} {namespace}/{name} has no pod", f"kubectl -n {namespace} get pods -l {selector}")
    want = {c["name"]: _running_view(c) for c in obj["spec"]["template"]["spec"].get("containers") or []}
    stale = sorted(p["metadata"]["name"] for p in pods if not _runs(p, want))
    if stale:
        return failed(
            f"{len(stale)} of {len(pods)} pods of {kind} {namespace}/{name} run another version than its template "
            f"({', '.join(stale[:3])}{'...' if len(stale) > 3 else ''})",
            f"kubectl -n {namespace} get pods -l {selector} -o yaml: which template made them?",
        )
    return passed(f"every pod of {kind} {namespace}/{name} runs its template as it is now")


def _runs(pod: dict[str, Any], want: dict[str, dict[str, Any]]) -> bool:
    """The pod runs every container of the template as it is now; one added by an admission webhook is its own."""
    have = {c["name"]: _running_view(c) for c in (pod.get("spec") or {}).get("containers") or []}
    return all(have.get(name) == view for name, view in want.items())
