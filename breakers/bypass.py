"""Generic shortcuts `lab verify` tries on every lab's graded workloads (each journaled, so undo puts it back)."""

from __future__ import annotations

import copy
from typing import Any

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


CONTAINER_LISTS = ("initContainers", "containers")


def _containers(kube: Kube, kind: str, name: str, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """A workload's init containers and containers, by list, as copies to edit."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    spec = obj["spec"]["template"]["spec"]
    return {key: copy.deepcopy(spec[key]) for key in CONTAINER_LISTS if spec.get(key)}


def _set_containers(
    changes: ChangeLog, kind: str, name: str, namespace: str, lists: dict[str, list[dict[str, Any]]]
) -> None:
    patch = {"spec": {"template": {"spec": lists}}}  # a merge patch replaces each whole list
    changes.patch_object("apps/v1", kind, name, namespace, patch)


def drop_probes(
    changes: ChangeLog, kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment"
) -> None:
    """Take every liveness, readiness and startup probe off a workload's containers and sidecars (a shortcut)."""
    lists = _containers(kube, kind, name, namespace)
    for container in (c for containers in lists.values() for c in containers):
        for probe in PROBES:
            container.pop(probe, None)
    _set_containers(changes, kind, name, namespace, lists)


def drop_resources(
    changes: ChangeLog, kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment"
) -> None:
    """Take the resource requests and limits off a workload's containers and init containers (a shortcut)."""
    lists = _containers(kube, kind, name, namespace)
    for container in (c for containers in lists.values() for c in containers):
        container.pop("resources", None)
    _set_containers(changes, kind, name, namespace, lists)
