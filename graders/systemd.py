"""Checks on systemd units of a node."""

from __future__ import annotations

from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node


def active(node: Node, unit: str) -> CheckResult:
    """The unit is running now."""
    state = node.run("systemctl is-active %s", unit, timeout=30).stdout.strip() or "unknown"
    if state == "active":
        return passed(f"{unit} is running on {node.name}")
    return failed(f"{unit} is {state} on {node.name}", f"systemctl status {unit}; journalctl -u {unit} -e")


def enabled(node: Node, unit: str) -> CheckResult:
    """The unit starts at boot (enabled), so the fix survives a reboot."""
    state = node.run("systemctl is-enabled %s", unit, timeout=30).stdout.strip() or "unknown"
    if state in ("enabled", "static", "alias"):  # enabled-runtime is gone after a reboot
        return passed(f"{unit} starts at boot on {node.name} ({state})")
    return failed(
        f"{unit} is {state} on {node.name}: it would not start after a reboot",
        f"systemctl enable {unit}",
    )
