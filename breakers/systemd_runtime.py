"""Cheat steps on systemd's runtime state: a setting removed from the files while the service keeps running with it."""

from __future__ import annotations

import shlex

from breakfix.changes import ChangeLog
from breakfix.transport.node import Node


def forget_override(node: Node, changes: ChangeLog, unit: str) -> None:
    """Remove UNIT's runtime drop-in (breakers.systemd.override_until_reboot) and reload, without a restart.

    The service keeps running with what the drop-in gave it; no file says so any more. The drop-in's own
    step undoes the rest."""
    folder = f"/run/systemd/system/{unit}.d"
    q_path, q_folder = shlex.quote(f"{folder}/99-until-reboot.conf"), shlex.quote(folder)
    changes.command(node, f"rm -f {q_path}; rmdir {q_folder} 2>/dev/null; systemctl daemon-reload", undo="true")
