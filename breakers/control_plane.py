"""Breakers for control-plane static pods beyond their flags: their probes, and waiting for a restart."""

from __future__ import annotations

import shlex

from breakers._manifests import dump_pod, load_pod, main_container, manifest_path, probes
from breakers.manifest import RESTART_WAIT_S, _process
from breakfix.changes import ChangeLog
from breakfix.durations import Seconds
from breakfix.errors import StepError
from breakfix.transport.node import Node


def set_probe_port(node: Node, changes: ChangeLog, manifest: str, port: int, container: str | None = None) -> None:
    """Point every probe of a static pod at PORT: a named port the probes use is renumbered, a number replaced."""
    file = manifest_path(manifest)

    def edit(old: bytes | None) -> bytes:
        pod = load_pod(old, file)
        box = main_container(pod, container)
        found = False
        for probe in probes(box):
            for kind in ("httpGet", "tcpSocket"):
                if kind not in probe:
                    continue
                found = True
                named = probe[kind].get("port")
                if isinstance(named, str) and not named.isdigit():
                    for entry in box.get("ports") or []:
                        if entry.get("name") == named:
                            entry["containerPort"] = port
                            if "hostPort" in entry:
                                entry["hostPort"] = port
                else:
                    probe[kind]["port"] = port
        if not found:
            raise StepError(f"{file}: no HTTP or TCP probe to point at port {port}")
        return dump_pod(pod)

    changes.edit_file(node, file, edit)


def remove_probes(node: Node, changes: ChangeLog, manifest: str, container: str | None = None) -> None:
    """Remove the liveness, readiness and startup probes of a static pod (a known shortcut: nothing checks it)."""
    file = manifest_path(manifest)

    def edit(old: bytes | None) -> bytes:
        pod = load_pod(old, file)
        box = main_container(pod, container)
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            box.pop(kind, None)
        return dump_pod(pod)

    changes.edit_file(node, file, edit)


def wait_restarted(node: Node, manifest: str, timeout: Seconds = 120.0) -> None:
    """Wait until the processes a static pod runs now have exited (changes nothing: a break waits for its effect).

    After a manifest changes, the kubelet takes up to 20 s to notice and stop the old pod; a later step
    that needs the component to be gone (a pod that must stay Pending) waits here first.
    """
    process = _process(node, manifest_path(manifest))
    pids = node.run("pgrep -f -- %s", f"^{process}( |$)", timeout=30).stdout.split()
    if not pids:
        return
    script = (
        f"i=0; while kill -0 {' '.join(pids)} 2>/dev/null; do i=$((i+1)); "
        f'[ "$i" -gt {int(timeout)} ] && exit 1; sleep 1; done'
    )
    if not node.run(script, timeout=timeout + 30).ok:
        raise StepError(f"{node.name}: {process} still runs {timeout:.0f}s after its manifest changed")


def _volume_paths(node: Node, manifest: str, volume: str, container: str | None) -> tuple[str, str]:
    """(host folder, path in the container) of a static pod's hostPath volume, as its manifest says now."""
    file = manifest_path(manifest)
    pod = load_pod(node.read(file), file)
    volumes = pod.get("spec", {}).get("volumes") or []
    mounts = main_container(pod, container).get("volumeMounts") or []
    host = next((str(v["hostPath"]["path"]) for v in volumes if v.get("name") == volume and "hostPath" in v), None)
    mount = next((str(m["mountPath"]) for m in mounts if m.get("name") == volume), None)
    if host is None or mount is None:
        raise StepError(f"{file}: no hostPath volume {volume!r} mounted in its container")
    return host, mount


def _on_volume_script(process: str, host: str, mount: str, wait_s: int) -> str:
    """Shell: wait until a PROCESS runs that sees the node's folder HOST at MOUNT (same device and inode)."""
    pattern = shlex.quote(f"^{process}( |$)")
    return (
        f"want=$(stat -L -c %d:%i {shlex.quote(host)}) || exit 1; i=0; while :; do "
        f"for p in $(pgrep -f -- {pattern}); do "
        f'[ "$(stat -L -c %d:%i /proc/$p/root{shlex.quote(mount)} 2>/dev/null)" = "$want" ] && exit 0; done; '
        f'i=$((i+1)); [ "$i" -gt {wait_s} ] && exit 1; sleep 1; done'
    )


def wait_on_volume(
    node: Node, manifest: str, volume: str, container: str | None = None, timeout: Seconds = 180.0
) -> None:
    """Wait until the static pod's process runs on the host folder its manifest's VOLUME names now (changes nothing).

    E.g. etcd back on its real data after its data volume was moved: only then may kube-apiserver restart.
    """
    host, mount = _volume_paths(node, manifest, volume, container)
    process = _process(node, manifest_path(manifest))
    if not node.run(_on_volume_script(process, host, mount, int(timeout)), timeout=timeout + 30).ok:
        raise StepError(f"{node.name}: no {process} runs on {host} (volume {volume}) after {timeout:.0f}s")


def wait_on_volume_on_reset(
    node: Node, changes: ChangeLog, manifest: str, volume: str, container: str | None = None
) -> None:
    """Changes nothing now; on reset, wait until the static pod's process runs on the folder VOLUME names now.

    Journal it between breakers.manifest.restart_on_reset and a break that moves the volume: once the
    volume is back, the reset then restarts kube-apiserver only after etcd runs on its real data.
    """
    host, mount = _volume_paths(node, manifest, volume, container)
    process = _process(node, manifest_path(manifest))
    script = _on_volume_script(process, host, mount, RESTART_WAIT_S)
    changes.command(node, "true", script, timeout=RESTART_WAIT_S + 30)
