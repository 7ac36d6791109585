"""Checks on a node's swap: off now, and off after the next boot."""

from __future__ import annotations

from breakers.swap import FSTAB, SWAP_LINE
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node


def off(node: Node) -> CheckResult:
    """NODE uses no swap now (/proc/swaps lists nothing)."""
    areas = [line.split()[0] for line in node.read_text("/proc/swaps").splitlines()[1:] if line.strip()]
    if areas:
        return failed(f"{node.name} swaps to {', '.join(areas)}", "cat /proc/swaps; swapon --show")
    return passed(f"{node.name} uses no swap")


def stays_off(node: Node) -> CheckResult:
    """NODE turns no swap on at boot: no swap line in fstab, no enabled swap unit."""
    fstab = node.read(FSTAB) or b""
    lines = [m.group(0).strip() for m in SWAP_LINE.finditer(fstab.decode())]
    units = node.run("systemctl list-unit-files --type=swap --state=enabled --no-legend", timeout=30).stdout.split()
    found = [f"{FSTAB}: {line}" for line in lines] + [f"unit {u}" for u in units if u.endswith(".swap")]
    if found:
        return failed(f"{node.name} turns swap on at boot ({'; '.join(found)})", "A fix must outlive a reboot.")
    return passed(f"{node.name} turns no swap on at boot")
