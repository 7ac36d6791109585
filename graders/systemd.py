"""Checks on systemd units of a node."""

from __future__ import annotations

import re

from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

#: Runtime unit files that come back by themselves at boot (systemd's generators write them every time).
_REGENERATED = ("/run/systemd/generator",)
_SECTION = "--- breakfix ---"


def runtime_overrides(node: Node, unit: str) -> list[str]:
    """What the running UNIT takes from settings a reboot loses: runtime or transient unit files, manager variables.

    `systemctl set-property --runtime`, a drop-in under /run/systemd/system, `systemd-run` and
    `systemctl set-environment` all change how a unit runs until the next boot only."""
    out = node.run(
        "systemctl show %s -p Transient -p FragmentPath -p DropInPaths --no-pager; echo %s; "
        "systemctl cat %s 2>/dev/null | grep -v '^#'; echo %s; systemctl show-environment",
        unit, _SECTION, unit, _SECTION, timeout=30,
    ).stdout  # fmt: skip
    parts = out.split(_SECTION + "\n")
    if len(parts) != 3:
        return []
    props = dict(line.split("=", 1) for line in parts[0].splitlines() if "=" in line)
    found = []
    if props.get("Transient") == "yes":
        found.append(f"{unit} runs as a transient unit (systemd-run)")
    paths = [props.get("FragmentPath", ""), *props.get("DropInPaths", "").split()]
    found += [f"{p} is a runtime file" for p in paths if p.startswith("/run/") and not p.startswith(_REGENERATED)]
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", parts[1]))
    manager = dict(line.split("=", 1) for line in parts[2].splitlines() if "=" in line)
    found += [f"{name} is set with systemctl set-environment" for name in sorted(used & set(manager))]
    return found


def active(node: Node, unit: str) -> CheckResult:
    """The unit is running now, on settings that survive a reboot (no runtime drop-in or variable)."""
    state = node.run("systemctl is-active %s", unit, timeout=30).stdout.strip() or "unknown"
    if state != "active":
        return failed(f"{unit} is {state} on {node.name}", f"systemctl status {unit}; journalctl -u {unit} -e")
    lost = runtime_overrides(node, unit)
    if lost:
        return failed(
            f"{unit} runs on {node.name}, but on settings the next boot loses: {'; '.join(lost)}",
            "A fix must outlive a reboot: put it where the unit's own files are (/etc, /lib, /var/lib).",
        )
    return passed(f"{unit} is running on {node.name}")


def enabled(node: Node, unit: str) -> CheckResult:
    """The unit starts at boot (enabled), so the fix survives a reboot."""
    state = node.run("systemctl is-enabled %s", unit, timeout=30).stdout.strip() or "unknown"
    if state in ("enabled", "static", "alias"):  # enabled-runtime is gone after a reboot
        return passed(f"{unit} starts at boot on {node.name} ({state})")
    return failed(
        f"{unit} is {state} on {node.name}: it would not start after a reboot",
        f"systemctl enable {unit}",
    )
