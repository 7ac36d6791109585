"""Progress on stderr: every line stamped with the time since the command began; on a terminal, a live clock.

Piped or redirected, each progress line is plain (`[  1m05s] break: step 2 of 3`), so logs keep the timing.
On a terminal a last line shows what is under way and for how long, redrawn every second while a long
step (a wait for the API server, a verify phase) prints nothing.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from breakfix.durations import format_duration

CLEAR = "\r\033[K"


class Progress:
    """Progress lines of one command on STREAM (live when it is a terminal)."""

    def __init__(
        self,
        stream: TextIO,
        began: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        live: bool | None = None,
    ) -> None:
        self.stream, self.clock = stream, clock
        self.began = clock() if began is None else began
        self.live = stream.isatty() if live is None else live
        self.now = ""  # what is under way: the last progress line
        self.shown = False  # the live line is on screen (hidden by any other output until the next progress line)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def elapsed(self) -> str:
        """Time since the command began, as `45s` or `3m05s`."""
        return format_duration(max(0.0, self.clock() - self.began))

    def say(self, message: str) -> None:
        """Print one progress line; on a terminal, redraw the live line under it."""
        with self._lock:
            if self.live:
                self.stream.write(CLEAR)
            self.stream.write(f"[{self.elapsed():>6}] {message}\n")
            self.now = message.strip()
            if self.live:
                self.stream.write(self._status())
                self.shown = True
                self._start_ticker()
            self.stream.flush()

    def hide(self) -> None:
        """Take the live line off the screen until the next progress line (other output is about to print)."""
        with self._lock:
            if self.shown:
                self.stream.write(CLEAR)
                self.stream.flush()
                self.shown = False

    def _status(self) -> str:
        width = shutil.get_terminal_size((100, 24)).columns
        line = f"  ... {self.now} ({self.elapsed()})"
        return line if len(line) < width else line[: max(10, width - 4)] + "..."

    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="progress-clock", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                if self.shown:
                    self.stream.write(CLEAR + self._status())
                    self.stream.flush()

    def close(self) -> None:
        """Stop the clock and take the live line away (the lines printed stay)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        self.hide()


class ClearsLiveLine:
    """A stream (stdout) that takes the live progress line away before it writes, so that results start clean."""

    def __init__(self, inner: TextIO, progress: Progress) -> None:
        self._inner, self._progress = inner, progress

    def write(self, text: str) -> int:
        """Hide the live line, then write TEXT."""
        if text:
            self._progress.hide()
        return self._inner.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
