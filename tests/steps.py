"""Breakers and graders used only by tests (enabled with BREAKFIX_STEP_MODULES=tests.steps)."""

from __future__ import annotations

import threading

from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

BARRIER: dict[str, threading.Barrier] = {}


def ok() -> CheckResult:
    """Always passes."""
    return passed("fine")


def file_is(node: Node, path: str, content: str) -> CheckResult:
    """A file on the node holds exactly CONTENT."""
    data = node.read(path)
    if data is not None and data.decode() == content:
        return passed(f"{path} is right")
    return failed(f"{path} holds {data!r}")


def write(node: Node, changes: ChangeLog, path: str, content: str) -> None:
    """Write a file through the journal."""
    changes.write_file(node, path, content)


def remember(state: SessionState, key: str, value: str) -> None:
    """Save a value in the session."""
    state.set(key, value)


def meet(name: str, parties: int) -> CheckResult:
    """Passes only when PARTIES checks wait here at the same time (proves concurrency)."""
    barrier = BARRIER.setdefault(name, threading.Barrier(parties))
    try:
        barrier.wait(timeout=10)
    except threading.BrokenBarrierError:
        return failed("checks did not run at the same time")
    return passed("met")


def crash() -> CheckResult:
    """A grader with a bug."""
    raise ZeroDivisionError("grader bug")


def returns_wrong_type() -> str:
    """A grader that forgets to return a CheckResult."""
    return "oops"


def take_api_away(kube: object) -> None:
    """A break that leaves the API server unreachable (on the fake API server only)."""
    kube.down = True  # type: ignore[attr-defined]
