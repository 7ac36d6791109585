"""The loop shared by checks that must hold for a while: sample, compare with the first sample, wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from breakfix.results import CheckResult, passed

T = TypeVar("T")


@dataclass(frozen=True)
class Sample(Generic[T]):
    """One good look at the thing checked: what must not change, and what to say if it held."""

    state: T
    message: str


def holds(
    sample: Callable[[], CheckResult | Sample[T]],
    stable_for: float,
    poll: float,
    changed: Callable[[T, T], CheckResult | None],
) -> CheckResult:
    """Sample until STABLE_FOR seconds have passed; the first bad sample or change (CHANGED(first, now)) fails."""
    deadline = time.monotonic() + stable_for
    first: Sample[T] | None = None
    while True:
        now = sample()
        if isinstance(now, CheckResult):
            return now
        if first is None:
            first = now
        else:
            moved = changed(first.state, now.state)
            if moved is not None:
                return moved
        if time.monotonic() >= deadline:
            return passed(now.message)
        time.sleep(poll)
