"""Breakers for static pod manifests under /etc/kubernetes/manifests (the kubelet restarts the pod)."""

from __future__ import annotations

import shlex

from breakers._manifests import dump_pod, load_pod, main_container, manifest_path, probes, set_flag_value
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node

RESTART_WAIT_S = 180  # longest wait for a process to appear or to go
RESTART_TIMEOUT_S = 2 * RESTART_WAIT_S + 30  # the whole restart: both waits and the moves


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


def _restart_script(path: str, process: str, after: str) -> str:
    """Shell: wait for a process matching AFTER, move PATH out until PROCESS is gone, move it back."""
    aside = f"/etc/kubernetes/{path.rsplit('/', 1)[-1]}.breakfix-restart"
    wait_after = (
        f"i=0; until pgrep -f -- {shlex.quote(after)} >/dev/null; do i=$((i+1)); "
        f'[ "$i" -gt {RESTART_WAIT_S} ] && {{ echo "no process matches {after}" >&2; exit 1; }}; sleep 1; done; '
        if after
        else ""
    )
    gone = shlex.quote(f"^{process}( |$)")
    return (
        f"{wait_after}mv {shlex.quote(path)} {shlex.quote(aside)} && "
        f'{{ i=0; while pgrep -f -- {gone} >/dev/null && [ "$i" -lt {RESTART_WAIT_S} ]; do i=$((i+1)); sleep 1; done; '
        f"mv {shlex.quote(aside)} {shlex.quote(path)}; }}"
    )


def _process(node: Node, path: str) -> str:
    """The program a static pod's main container runs (kube-apiserver, etcd, ...)."""
    command = main_container(load_pod(node.read(path), path)).get("command") or []
    if not command:
        raise StepError(f"{path}: the main container has no command")
    return str(command[0]).rsplit("/", 1)[-1]


def restart(node: Node, changes: ChangeLog, manifest: str, after: str = "") -> None:
    """Restart a static pod as an admin would: manifest out until its process is gone, then back.

    AFTER (a regex for `pgrep -f`) first waits for another process, e.g. etcd on its real data dir.
    """
    path = manifest_path(manifest)
    changes.keep_file(node, path)  # an interrupted restart cannot lose the manifest
    node.check(_restart_script(path, _process(node, path), after), timeout=RESTART_TIMEOUT_S)


def restart_on_reset(node: Node, changes: ChangeLog, manifest: str, after: str = "") -> None:
    """Changes nothing now; on reset, once the later changes are undone, restart the static pod (see restart).

    For a break that swaps the store under a running kube-apiserver: its caches keep the swapped store.
    """
    path = manifest_path(manifest)
    changes.keep_file(node, path)  # undone after the restart: the manifest is back even if the restart stops
    changes.command(node, "true", _restart_script(path, _process(node, path), after), timeout=RESTART_TIMEOUT_S)


def add_mount(
    node: Node, changes: ChangeLog, manifest: str, volume: str, mount_path: str, container: str | None = None
) -> None:
    """Mount one of a static pod's volumes at one more path in its container (read-only)."""
    file = manifest_path(manifest)

    def edit(old: bytes | None) -> bytes:
        pod = load_pod(old, file)
        if not any(v.get("name") == volume for v in pod.get("spec", {}).get("volumes") or []):
            raise StepError(f"{file}: no volume named {volume!r}")
        target = main_container(pod, container)
        target.setdefault("volumeMounts", []).append({"mountPath": mount_path, "name": volume, "readOnly": True})
        return dump_pod(pod)

    changes.edit_file(node, file, edit)
