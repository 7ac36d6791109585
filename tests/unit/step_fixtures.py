"""Steps whose parameters are named like breakfix's own step settings, or that ask for every injected value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.durations import Seconds
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.results import CheckResult, passed
from breakfix.transport.node import Node


def waits(within: Seconds = 30.0) -> CheckResult:
    """A check with its own WITHIN."""
    return passed(f"waited {within}")


def titled(title: str = "") -> None:
    """A breaker with its own TITLE."""


def weighs(weight: int = 1) -> CheckResult:
    """A check with its own WEIGHT."""
    return passed(f"weighs {weight}")


def everything(
    node: Node,
    nodes: list[Node],
    kube: Kube,
    cluster: ClusterSpec,
    state: SessionState,
    changes: ChangeLog,
    lab_dir: Path,
    images: dict[str, str],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Hands back every value breakfix injected."""
    return dict(locals())
