"""Waiting in tests: poll until something holds, fail with what was last seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def eventually(what: str, probe: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll PROBE until it returns something truthy, else fail naming WHAT and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
