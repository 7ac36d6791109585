"""Checks on a node's clock: right now, and kept right."""

from __future__ import annotations

from breakers.clock import SYNC_UNITS
from breakfix.clock import CLOCK
from breakfix.durations import Seconds
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.systemd import active, enabled

KEEP_IT_RIGHT = "A clock set by hand drifts again: something must keep it right, after reboots too."


def in_step(node: Node, tolerance: Seconds = 5.0) -> CheckResult:
    """NODE's clock is within TOLERANCE seconds of breakfix's own (allowing for the time the question takes)."""
    before = CLOCK.wall()
    said = node.run("date +%s.%N", timeout=30)
    after = CLOCK.wall()
    try:
        theirs = float(said.stdout.strip())
    except ValueError:
        return CheckResult("error", f"cannot read the clock of {node.name}: {said.stderr.strip() or said.stdout!r}")
    off = theirs - (before + after) / 2
    if abs(off) <= tolerance + (after - before) / 2:
        return passed(f"the clock of {node.name} is right (off by {abs(off):.1f}s)")
    way = "ahead" if off > 0 else "behind"
    return failed(
        f"the clock of {node.name} is {_span(abs(off))} {way}",
        "timedatectl status on the node: which time does it keep, and does anything keep it right?",
    )


def _span(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds:.0f} seconds"


def kept_in_step(node: Node) -> CheckResult:
    """A time-sync service runs on NODE and starts at boot (any of them: timesyncd, chrony, ntp...)."""
    installed = [u for u in SYNC_UNITS if node.run("systemctl cat %s", u, timeout=30).ok]
    if not installed:
        return failed(f"{node.name} has no time-sync service installed", KEEP_IT_RIGHT)
    notes = []
    for unit in installed:
        running, at_boot = active(node, unit), enabled(node, unit)
        if running.ok and at_boot.ok:
            return passed(f"{unit} keeps the clock of {node.name} right, and starts at boot")
        notes.append(running.message if not running.ok else at_boot.message)
    return failed("; ".join(notes), KEEP_IT_RIGHT)
