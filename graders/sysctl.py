"""Checks on a node's kernel parameters: the value in force now, and the value the node sets at boot.

Their messages name the node, not the parameter: in a lab, the parameter is what the student must find."""

from __future__ import annotations

import re

from breakfix.errors import BreakfixError
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

_KEY = re.compile(r"^[a-z0-9_]+([./][a-z0-9_-]+)+$")


def _name(key: str) -> str:
    return key.replace("/", ".")


def value_now(node: Node, key: str, value: str) -> CheckResult:
    """Kernel parameter KEY is VALUE on NODE now (`sysctl -n KEY`)."""
    if not _KEY.match(key):
        raise ValueError(f"not a kernel parameter name: {key!r}")
    try:
        result = node.run("sysctl -n %s", key, timeout=30)
    except BreakfixError as exc:
        return CheckResult("error", f"cannot read {key} on {node.name}: {exc}")
    if not result.ok:
        return CheckResult("error", f"cannot read {key} on {node.name}: {result.stderr.strip()[:200]}")
    if result.stdout.strip() == str(value):
        return passed(f"the kernel setting checked is as the cluster needs it on {node.name}")
    return failed(
        f"a kernel setting on {node.name} is not what the cluster needs",
        f"What does a Kubernetes node need from its kernel? Compare {node.name} with a node that works.",
    )


def boot_value(text: str, key: str) -> str | None:
    """The value of KEY that the files of `systemd-analyze cat-config sysctl.d` (in that order) leave: the last one."""
    wanted, found = _name(key), None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        name, _, value = line.partition("=")
        name = name.strip().lstrip("-")  # "-key = v": ignore an error setting it, the value still counts
        if _name(name) == wanted:
            found = value.strip()
    return found


def value_at_boot(node: Node, key: str, value: str) -> CheckResult:
    """NODE's sysctl files set kernel parameter KEY to VALUE at boot (the last assignment wins, in systemd's order).

    A fix made only with `sysctl -w` is lost at the next reboot."""
    if not _KEY.match(key):
        raise ValueError(f"not a kernel parameter name: {key!r}")
    try:
        result = node.run("systemd-analyze cat-config sysctl.d", timeout=30)
    except BreakfixError as exc:
        return CheckResult("error", f"cannot read the sysctl configuration on {node.name}: {exc}")
    if not result.ok:
        return CheckResult(
            "error", f"cannot read the sysctl configuration on {node.name}: {result.stderr.strip()[:200]}"
        )
    if boot_value(result.stdout, key) == str(value):
        return passed(f"{node.name} sets the kernel setting checked as the cluster needs it at boot")
    return failed(
        f"after a reboot, a kernel setting on {node.name} would not be what the cluster needs",
        "`systemd-analyze cat-config sysctl.d` shows the files a node reads at boot, in order: the last one wins.",
    )
