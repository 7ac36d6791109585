"""Breakers for the command-line flags of a workload's container (Deployment, DaemonSet, StatefulSet)."""

from __future__ import annotations

import copy
from typing import Any

from breakers._manifests import set_flag_value
from breakers.kube import edit_container
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube


def set_container_flags(
    changes: ChangeLog,
    kube: Kube,
    name: str,
    container: str,
    flags: dict[str, str | None],
    namespace: str = "default",
    kind: str = "Deployment",
) -> None:
    """Set flags of one container (--flag=value, added when missing; null removes the flag), e.g. --kubelet-port."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    found = [c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == container]
    if not found:
        raise StepError(f"{kind} {namespace}/{name} has no container {container!r}")
    edited = copy.deepcopy(found[0])
    for flag, value in flags.items():
        if not flag.startswith("-"):
            raise StepError(f"{flag!r} is not a command-line flag (write it with its dashes)")
        key = _key_for(edited, flag)
        one = {"args": list(edited.get(key) or [])}  # set_flag_value edits args when no command is given
        set_flag_value(one, flag, value)
        edited[key] = one["args"]
    changed = {k: edited[k] for k in ("command", "args") if k in edited and edited[k] != found[0].get(k)}
    if changed:
        edit_container(changes, kube, name, container, changed, namespace, kind)


def _key_for(container: dict[str, Any], flag: str) -> str:
    """Where FLAG is (args or command), or where a new flag goes: args, unless only a command is given."""
    for key in ("args", "command"):
        if any(isinstance(a, str) and (a == flag or a.startswith(flag + "=")) for a in container.get(key) or []):
            return key
    return "args" if container.get("args") or not container.get("command") else "command"
