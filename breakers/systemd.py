"""Breakers for systemd units on a node."""

from __future__ import annotations

import shlex

from breakfix.changes import ChangeLog
from breakfix.transport.node import Node


def stop(node: Node, changes: ChangeLog, unit: str) -> None:
    """Stop a unit (undo starts it again if it was running)."""
    changes.unit(node, unit, "stop")


def disable(node: Node, changes: ChangeLog, unit: str) -> None:
    """Disable a unit at boot (undo re-enables it)."""
    changes.unit(node, unit, "disable")


def start(node: Node, changes: ChangeLog, unit: str) -> None:
    """Start a unit (used by reference fixes)."""
    changes.unit(node, unit, "start")


def restart(node: Node, changes: ChangeLog, unit: str) -> None:
    """Restart a unit so that it reads its configuration again (reset restarts it once more, after its own undos)."""
    changes.unit(node, unit, "restart")


def enable(node: Node, changes: ChangeLog, unit: str) -> None:
    """Enable a unit at boot (used by reference fixes; undo puts the old state back)."""
    changes.unit(node, unit, "enable")


def enable_until_reboot(node: Node, changes: ChangeLog, unit: str, start: bool = True) -> None:
    """Enable a unit for this boot only (`systemctl enable --runtime`), START it first: a shortcut a reboot undoes.

    `systemctl is-enabled` then says enabled-runtime (and exits 0); undo removes the runtime link, then stops it."""
    if start:  # journaled first, so that its undo (stop, and enablement as it was) runs after the link is gone
        changes.unit(node, unit, "start")
    q = shlex.quote(unit)
    changes.command(node, f"systemctl enable --runtime {q}", undo=f"systemctl disable --runtime {q}")


def override_until_reboot(node: Node, changes: ChangeLog, unit: str, settings: str) -> None:
    """Add SETTINGS to UNIT as a runtime drop-in (/run/systemd/system): in force until the next boot only.

    A shortcut a reboot undoes (cheats use it); undo removes the drop-in and reloads systemd."""
    folder = f"/run/systemd/system/{unit}.d"
    path = f"{folder}/99-until-reboot.conf"
    q_folder, q_path = shlex.quote(folder), shlex.quote(path)
    changes.command(
        node,
        f"mkdir -p {q_folder} && printf '%s' {shlex.quote(settings)} > {q_path} && systemctl daemon-reload",
        undo=f"rm -f {q_path}; rmdir {q_folder} 2>/dev/null; systemctl daemon-reload",
    )
