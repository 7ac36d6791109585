"""Breakers for a node's kernel parameters (sysctl): the live value, journaled and put back by reset."""

from __future__ import annotations

import re
import shlex

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node

_KEY = re.compile(r"^[a-z0-9_]+([./][a-z0-9_-]+)+$")
_VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def set_now(node: Node, changes: ChangeLog, key: str, value: str) -> None:
    """Set kernel parameter KEY to VALUE on NODE now (`sysctl -w`), not at boot; undo writes back the value it had."""
    if not _KEY.match(key):
        raise StepError(f"not a kernel parameter name: {key!r}")
    if not _VALUE.match(str(value)):
        raise StepError(f"{key}: a value of letters, digits and . _ : - only, not {value!r}")
    old = node.check("sysctl -n %s", key).strip()
    if not _VALUE.match(old):
        raise StepError(f"{key} on {node.name} holds {old!r}, which breakfix would not be able to write back")
    changes.command(node, f"sysctl -w {shlex.quote(f'{key}={value}')}", undo=f"sysctl -w {shlex.quote(f'{key}={old}')}")
