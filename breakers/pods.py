"""Breakers for the parts of a pod template that breakers.kube does not reach: init containers."""

from __future__ import annotations

from typing import Any

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """BASE with CHANGE merged in: mappings merged key by key, None removes a key, anything else replaces."""
    out = dict(base)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def edit_init_container(
    changes: ChangeLog,
    kube: Kube,
    name: str,
    container: str,
    set: dict[str, Any],
    namespace: str = "default",
    kind: str = "Deployment",
) -> None:
    """Merge SET into one init container of a workload's pod template (None removes a key), e.g. its command."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    inits = obj["spec"]["template"]["spec"].get("initContainers") or []
    if not any(c["name"] == container for c in inits):
        raise StepError(f"{kind} {namespace}/{name} has no init container {container!r}")
    edited = [_merged(c, set) if c["name"] == container else c for c in inits]
    changes.patch_object("apps/v1", kind, name, namespace, {"spec": {"template": {"spec": {"initContainers": edited}}}})


def remove_init_container(
    changes: ChangeLog, kube: Kube, name: str, container: str, namespace: str = "default", kind: str = "Deployment"
) -> None:
    """Take one init container out of a workload's pod template (a shortcut past whatever it waits for)."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    inits = obj["spec"]["template"]["spec"].get("initContainers") or []
    if not any(c["name"] == container for c in inits):
        raise StepError(f"{kind} {namespace}/{name} has no init container {container!r}")
    kept = [c for c in inits if c["name"] != container]
    changes.patch_object(
        "apps/v1", kind, name, namespace, {"spec": {"template": {"spec": {"initContainers": kept or None}}}}
    )


def remove_container(
    changes: ChangeLog, kube: Kube, name: str, container: str, namespace: str = "default", kind: str = "Deployment"
) -> None:
    """Take one container out of a workload's pod template, the others kept (e.g. a crashing sidecar: a shortcut)."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    containers = obj["spec"]["template"]["spec"].get("containers") or []
    if not any(c["name"] == container for c in containers):
        raise StepError(f"{kind} {namespace}/{name} has no container {container!r}")
    kept = [c for c in containers if c["name"] != container]
    if not kept:
        raise StepError(f"{container!r} is the only container of {kind} {namespace}/{name}")
    changes.patch_object("apps/v1", kind, name, namespace, {"spec": {"template": {"spec": {"containers": kept}}}})
