"""Generic shortcuts `lab verify` tries on every lab's graded workloads (each journaled, so undo puts it back)."""

from __future__ import annotations

import copy
from typing import Any

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def _containers(kube: Kube, kind: str, name: str, namespace: str) -> list[dict[str, Any]]:
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    return copy.deepcopy(obj["spec"]["template"]["spec"].get("containers") or [])


def _set_containers(changes: ChangeLog, kind: str, name: str, namespace: str, containers: list[Any]) -> None:
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}  # a merge patch replaces the whole list
    changes.patch_object("apps/v1", kind, name, namespace, patch)


def drop_probes(
    changes: ChangeLog, kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment"
) -> None:
    """Take every liveness, readiness and startup probe off a workload's containers (a shortcut)."""
    containers = _containers(kube, kind, name, namespace)
    for container in containers:
        for probe in PROBES:
            container.pop(probe, None)
    _set_containers(changes, kind, name, namespace, containers)


def drop_resources(
    changes: ChangeLog, kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment"
) -> None:
    """Take the resource requests and limits off a workload's containers (a shortcut)."""
    containers = _containers(kube, kind, name, namespace)
    for container in containers:
        container.pop("resources", None)
    _set_containers(changes, kind, name, namespace, containers)
