"""Breakers for static pod manifests under /etc/kubernetes/manifests (the kubelet restarts the pod)."""

from __future__ import annotations

from breakers._manifests import dump_pod, load_pod, main_container, manifest_path, probes, set_flag_value
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node


def set_flag(
    node: Node, changes: ChangeLog, manifest: str, flag: str, value: str, container: str | None = None
) -> None:
    """Set a command-line flag of a static pod (added when missing)."""
    _edit_flag(node, changes, manifest, flag, value, container)


def _edit_flag(
    node: Node, changes: ChangeLog, manifest: str, flag: str, value: str | None, container: str | None
) -> None:
    path = manifest_path(manifest)

    def edit(old: bytes | None) -> bytes:
        pod = load_pod(old, path)
        set_flag_value(main_container(pod, container), flag, value)
        return dump_pod(pod)

    changes.edit_file(node, path, edit)


def remove_flag(node: Node, changes: ChangeLog, manifest: str, flag: str, container: str | None = None) -> None:
    """Remove a command-line flag from a static pod."""
    _edit_flag(node, changes, manifest, flag, None, container)


def set_volume_path(node: Node, changes: ChangeLog, manifest: str, volume: str, path: str) -> None:
    """Point a hostPath volume of a static pod at another folder on the node."""
    file = manifest_path(manifest)

    def edit(old: bytes | None) -> bytes:
        pod = load_pod(old, file)
        for vol in pod.get("spec", {}).get("volumes") or []:
            if vol.get("name") == volume and "hostPath" in vol:
                vol["hostPath"]["path"] = path
                return dump_pod(pod)
        raise StepError(f"{file}: no hostPath volume named {volume!r}")

    changes.edit_file(node, file, edit)


def set_probe_host(node: Node, changes: ChangeLog, manifest: str, host: str, container: str | None = None) -> None:
    """Point the httpGet probes of a static pod at another host address."""
    file = manifest_path(manifest)

    def edit(old: bytes | None) -> bytes:
        pod = load_pod(old, file)
        for probe in probes(main_container(pod, container)):
            if "httpGet" in probe:
                probe["httpGet"]["host"] = host
        return dump_pod(pod)

    changes.edit_file(node, file, edit)


def move_out(node: Node, changes: ChangeLog, manifest: str, to: str = "/etc/kubernetes") -> None:
    """Move a static pod manifest out of the manifests folder (the kubelet stops the pod)."""
    path = manifest_path(manifest)
    changes.move_file(node, path, f"{to.rstrip('/')}/{path.rsplit('/', 1)[-1]}")
