"""Breakers on the lifecycle of objects: finalizers that hold a deleted object, bindings reset must redo.

These run the control plane's own kubectl (with /etc/kubernetes/admin.conf) through the journal, because
their undo depends on what exists at reset time: the object that holds the finalizer then may be a
successor of the same name, and a volume's claim may have been created again with a new UID."""

from __future__ import annotations

import json
import shlex

from breakfix.changes import ChangeLog
from breakfix.transport.node import Node

KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
#: How many of an object's finalizers the undo looks through for its own.
FINALIZER_SLOTS = 4


def _kubectl(*args: str) -> str:
    return f"{KUBECTL} {shlex.join(args)}"


def _ns(namespace: str | None) -> list[str]:
    return ["-n", namespace] if namespace else []


def unfinalize_script(kind: str, name: str, namespace: str | None, finalizer: str) -> str:
    """Shell that takes FINALIZER (and only it) off the object of that name, if there is one and it has it."""
    tries = []
    for i in range(FINALIZER_SLOTS):
        path = f"/metadata/finalizers/{i}"
        patch = json.dumps([{"op": "test", "path": path, "value": finalizer}, {"op": "remove", "path": path}])
        tries.append(_kubectl(*_ns(namespace), "patch", kind, name, "--type=json", "-p", patch))
    return "{ " + " || ".join(tries) + "; } >/dev/null 2>&1; true"


def stick_script(kind: str, name: str, namespace: str | None, finalizer: str, wait: int = 60) -> str:
    """Shell that waits for a live (not deleting) object of that name, gives it FINALIZER and deletes it."""
    ns = _ns(namespace)
    deleting = _kubectl(*ns, "get", kind, name, "-o", "jsonpath={.metadata.deletionTimestamp}")
    patch = json.dumps({"metadata": {"finalizers": [finalizer]}})
    return (
        f'for i in $(seq {wait}); do [ -z "$({deleting} 2>/dev/null || echo missing)" ] && break; sleep 2; done; '
        + _kubectl(*ns, "patch", kind, name, "--type=merge", "-p", patch)
        + " && "
        + _kubectl(*ns, "delete", kind, name, "--wait=false")
    )


def stuck_terminating(
    node: Node, changes: ChangeLog, name: str, finalizer: str, namespace: str | None = "default", kind: str = "pod"
) -> None:
    """Give an object a finalizer that nothing will remove, then delete it: it stays Terminating.

    Undo takes that finalizer off whatever object of that name exists then, so that it can go."""
    changes.command(
        node,
        stick_script(kind, name, namespace, finalizer),
        undo=unfinalize_script(kind, name, namespace, finalizer),
        timeout=180,
    )


def remove_finalizer(
    node: Node, changes: ChangeLog, name: str, finalizer: str, namespace: str | None = "default", kind: str = "pod"
) -> None:
    """Take FINALIZER off an object, as an admin would once nothing will ever remove it (a reference fix).

    Undo makes the fault again: the successor of the same name (a StatefulSet's pod) gets the finalizer and
    is deleted, so that the next phase finds the cluster as the break left it."""
    changes.command(
        node,
        unfinalize_script(kind, name, namespace, finalizer),
        undo=stick_script(kind, name, namespace, finalizer),
        timeout=180,
    )


def force_delete(
    node: Node, changes: ChangeLog, name: str, namespace: str | None = "default", kind: str = "pod"
) -> None:
    """Delete an object at once, skipping its grace period (`--force --grace-period=0`, a known shortcut).

    Finalizers still hold it. Undo has nothing to put back: the deletion had been asked for already."""
    command = _kubectl(*_ns(namespace), "delete", kind, name, "--force", "--grace-period=0", "--wait=false")
    changes.command(node, f"{command} >/dev/null 2>&1; true", undo="true")


def unbind_on_reset(node: Node, changes: ChangeLog, volume: str) -> None:
    """Change nothing now; on reset, once later changes are undone, let VOLUME bind again to the claim naming it.

    Reset creates a deleted claim again with a new UID; a volume still bound to the old UID would leave it
    Lost. Clearing the volume's claim reference lets the volume controller bind the two again."""
    patch = json.dumps({"spec": {"claimRef": None}})
    undo = _kubectl("patch", "persistentvolume", volume, "--type=merge", "-p", patch) + " >/dev/null 2>&1; true"
    changes.command(node, "true", undo=undo)
