"""Breakers for control-plane static pods beyond their flags: their probes, and waiting for a restart."""

from __future__ import annotations

from breakers._manifests import dump_pod, load_pod, main_container, manifest_path, probes
from breakers.manifest import _process
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
