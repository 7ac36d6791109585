"""Breakers for a Deployment's ReplicaSets (shortcuts students take around a rollout)."""

from __future__ import annotations

from typing import Any

from breakers.kube import _deep_merge
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube


def edit_running_replicaset(
    changes: ChangeLog, kube: Kube, name: str, container: str, set: dict[str, Any], namespace: str = "default"
) -> None:
    """Merge SET into a container of the template of the Deployment's ReplicaSet that runs its pods now.

    Its pods keep running as they were made (a ReplicaSet does not replace them when its template changes)."""
    deployment = kube.get("apps/v1", "Deployment", name, namespace)
    if deployment is None:
        raise StepError(f"Deployment {namespace}/{name} does not exist")
    uid = deployment["metadata"]["uid"]
    owned = [
        rs
        for rs in kube.list("apps/v1", "ReplicaSet", namespace)
        if any(o.get("uid") == uid for o in (rs.get("metadata") or {}).get("ownerReferences") or [])
    ]
    running = sorted(owned, key=lambda rs: int((rs.get("spec") or {}).get("replicas") or 0), reverse=True)
    if not running or not (running[0].get("spec") or {}).get("replicas"):
        raise StepError(f"Deployment {namespace}/{name} has no ReplicaSet with pods")
    rs = running[0]
    containers = rs["spec"]["template"]["spec"]["containers"]
    if not any(c["name"] == container for c in containers):
        raise StepError(f"ReplicaSet {namespace}/{rs['metadata']['name']} has no container {container!r}")
    edited = [_deep_merge(c, set) if c["name"] == container else c for c in containers]
    patch = {"spec": {"template": {"spec": {"containers": edited}}}}
    changes.patch_object("apps/v1", "ReplicaSet", rs["metadata"]["name"], namespace, patch)
