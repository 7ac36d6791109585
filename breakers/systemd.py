"""Breakers for systemd units on a node."""

from __future__ import annotations

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
