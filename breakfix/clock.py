"""The clock the engine's waiting loops read and sleep on; tests swap in one that never sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Clock:
    """Monotonic time and sleep for the waiting loops (confirm, settle, API back...); wall time for exams."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], float] = time.time  # seconds since the epoch: an exam's clock, pauses and extra time


#: The one clock the waiting loops use: set its fields to inject another (tests/unit/conftest.py fast_clock).
CLOCK = Clock()
