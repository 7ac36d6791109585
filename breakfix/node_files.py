"""The node files that labs touch, fingerprinted before a lab and put back by reset.

Before a lab's setup the engine lists every file and symbolic link under the watched paths of each node
(Kubernetes' configuration and certificates, kubelet, containerd and CNI configuration, systemd unit files)
with its mode, owner and checksum, keeps a compressed copy of them, and records whether kubelet and
containerd are enabled and active. After a reset it lists them again: `lab verify` reports any difference
the journal missed, and reset puts files, links and unit states back from the copy.
"""

from __future__ import annotations

import base64
import io
import shlex
import tarfile
from collections.abc import Callable
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.transport.base import FileStat
from breakfix.transport.node import Node

#: What labs change on nodes; a path that does not exist on a node is skipped.
WATCHED = (
    "/etc/kubernetes",
    "/etc/cni/net.d",
    "/etc/containerd",
    "/etc/systemd/system",
    "/lib/systemd/system/kubelet.service",
    "/lib/systemd/system/containerd.service",
    "/usr/lib/systemd/system/kubelet.service",
    "/usr/lib/systemd/system/containerd.service",
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kubelet/kubeadm-flags.env",
    "/etc/default/kubelet",
)
UNITS = ("kubelet", "containerd")
#: The watched files each unit reads only when it starts (path prefixes), in the order to restart them.
READ_AT_START = {
    "containerd": (
        "/etc/containerd/",
        "/etc/systemd/system/containerd.service",
        "/lib/systemd/system/containerd.",
        "/usr/lib/systemd/system/containerd.",
    ),
    "kubelet": (
        "/var/lib/kubelet/",
        "/etc/default/kubelet",
        "/etc/kubernetes/kubelet.conf",
        "/etc/kubernetes/bootstrap-kubelet.conf",
        "/etc/kubernetes/pki/ca.crt",
        "/etc/systemd/system/kubelet.service",
        "/lib/systemd/system/kubelet.",
        "/usr/lib/systemd/system/kubelet.",
    ),
}
#: The most a node's watched files may take, compressed (a copy is kept in the session).
MAX_COPY = 4 * 1024 * 1024

_EXISTING = 'for p in %s; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done'
_LIST = (
    "find %s -xdev \\( -type f -o -type l \\) 2>/dev/null | LC_ALL=C sort | while IFS= read -r f; do "
    'if [ -L "$f" ]; then printf "%%s\\tL\\t%%s\\n" "$f" "$(readlink "$f")"; '
    'else printf "%%s\\tF\\t%%s\\t%%s\\n" "$f" "$(stat -c %%a:%%u:%%g "$f")" '
    '"$(sha256sum < "$f" | cut -d" " -f1)"; fi; done'
)
_UNITS = (
    "for u in %s; do printf '%%s\\t%%s\\t%%s\\n' \"$u\" "
    '"$(systemctl is-enabled $u 2>/dev/null)" "$(systemctl is-active $u 2>/dev/null)"; done'
)


def _quoted(paths: list[str] | tuple[str, ...]) -> str:
    return " ".join(shlex.quote(p) for p in paths)


def _existing(node: Node) -> list[str]:
    return node.check(_EXISTING % _quoted(WATCHED), timeout=60).split()


def listing(node: Node) -> dict[str, str]:
    """Every watched file as path -> "F mode:uid:gid sha256" and every link as path -> "L target"."""
    paths = _existing(node)
    if not paths:
        return {}
    out = node.check(_LIST % _quoted(paths), timeout=120)
    entries = {}
    for line in out.splitlines():
        path, _, rest = line.partition("\t")
        if path and rest:
            entries[path] = rest.replace("\t", " ")
    return entries


def units(node: Node) -> dict[str, list[str]]:
    """Whether kubelet and containerd are enabled and active: unit -> [is-enabled, is-active]."""
    out = node.run(_UNITS % " ".join(UNITS), timeout=60).stdout
    states = {}
    for line in out.splitlines():
        unit, enabled, active = [*line.split("\t"), "", ""][:3]
        if unit in UNITS and enabled:  # a unit that does not exist has no state to keep
            states[unit] = [enabled, active]
    return states


def take(node: Node) -> dict[str, Any]:
    """A node's watched files (listing and a compressed copy) and unit states."""
    paths = _existing(node)
    copy = ""
    if paths:
        relative = _quoted([p.lstrip("/") for p in paths])
        copy = node.check(f"tar -C / -czf - {relative} 2>/dev/null | base64 -w0", timeout=120).strip()
        if len(copy) > MAX_COPY * 4 // 3:
            raise BreakfixError(f"{node.name}: the watched node files take over {MAX_COPY // 1024 // 1024} MiB")
    return {"files": listing(node), "copy": copy, "units": units(node)}


def differences(node: Node, before: dict[str, Any]) -> list[str]:
    """What differs on NODE from its fingerprint: one phrase per file, link or unit."""
    now = listing(node)
    was: dict[str, str] = before["files"]
    problems = [f"{node.name}: {path} {_how(was.get(path), now.get(path))}" for path in _changed(was, now)]
    unit_now = units(node)
    for unit, state in sorted(before["units"].items()):
        if unit_now.get(unit) != state:
            problems.append(f"{node.name}: {unit} is {'/'.join(unit_now.get(unit, ['gone']))}, was {'/'.join(state)}")
    return problems


def _changed(was: dict[str, str], now: dict[str, str]) -> list[str]:
    return sorted(p for p in {*was, *now} if was.get(p) != now.get(p))


def _how(was: str | None, now: str | None) -> str:
    if was is None:
        return "was added"
    if now is None:
        return "was removed"
    return "was changed"


def restore(node: Node, before: dict[str, Any], log: Callable[[str], None]) -> list[str]:
    """Put NODE's watched files, links and unit states back as they were; returns what could not be."""
    now = listing(node)
    was: dict[str, str] = before["files"]
    changed = _changed(was, now)
    left: list[str] = []
    members = _members(before["copy"]) if any(p in was for p in changed) else {}
    for path in changed:
        try:
            if path not in was:
                node.remove(path)
            elif was[path].startswith("L "):
                node.check("ln -sfn %s %s", was[path][2:], path)
            else:
                member, data = members[path.lstrip("/")]
                node.write(path, data, FileStat(member.mode & 0o7777, member.uid, member.gid))
            log(f"  put back {node.name}:{path} ({_how(was.get(path), now.get(path))} during the lab)")
        except (BreakfixError, KeyError) as exc:
            left.append(f"{node.name}: could not put back {path}: {exc}")
    if changed:
        node.run("systemctl daemon-reload", timeout=60)
    unit_now = units(node)
    for unit, prefixes in READ_AT_START.items():  # a running unit keeps what it read: restart it
        state = before["units"].get(unit)
        if state and state[1] == "active" and unit_now.get(unit) == state and _reads(changed, prefixes):
            try:
                node.check("systemctl restart %s", unit, timeout=120)
                log(f"  restarted {unit} on {node.name}: it reads the files put back only when it starts")
            except BreakfixError as exc:
                left.append(f"{node.name}: could not restart {unit} after putting its files back: {exc}")
    for unit, (enabled, active) in sorted(before["units"].items()):
        if unit_now.get(unit) == [enabled, active]:
            continue
        want_enabled = enabled in ("enabled", "enabled-runtime", "static", "alias")
        steps = [
            "systemctl unmask %s",
            "systemctl enable %s" if want_enabled else "systemctl disable %s",
            "systemctl restart %s" if active == "active" else "systemctl stop %s",
        ]
        try:
            for step in steps:
                node.check(step, unit, timeout=120)
            log(f"  put back {node.name}: {unit} {enabled}/{active}")
        except BreakfixError as exc:
            left.append(f"{node.name}: could not put {unit} back to {enabled}/{active}: {exc}")
    return left


def _reads(paths: list[str], prefixes: tuple[str, ...]) -> bool:
    return any(p.startswith(prefixes) for p in paths)


def _members(copy: str) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """The regular files of a kept copy by path (without the leading slash)."""
    out: dict[str, tuple[tarfile.TarInfo, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(copy)), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    out[member.name.removeprefix("./")] = (member, handle.read())
    return out
