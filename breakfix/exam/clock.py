"""An exam's clock: the class's time, stopped while the instructor pauses it, and extra time for single students.

Pure arithmetic on what the store keeps (when the clock started, the exam's duration, when it ended and the
instructor's controls, oldest first); every answer takes the wall time it is asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from breakfix.durations import format_duration

Action = Literal["pause", "resume", "extend"]
ACTIONS: tuple[Action, ...] = ("pause", "resume", "extend")


@dataclass(frozen=True)
class Control:
    """One thing the instructor did to the clock, and when."""

    at: float
    action: Action
    student: str | None = None
    seconds: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Control:
        """A control as the store keeps it."""
        action = str(row["action"])
        if action not in ACTIONS:
            raise ValueError(f"not an exam control: {action!r}")
        seconds = row.get("seconds")
        return cls(float(row["at"]), action, row.get("student"), None if seconds is None else float(seconds))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"at": self.at, "action": self.action, "student": self.student, "seconds": self.seconds}


@dataclass(frozen=True)
class ExamClock:
    """The class clock: it runs from STARTED for DURATION seconds of exam time; pauses do not count."""

    started: float | None
    duration: float
    ended: float | None = None
    controls: tuple[Control, ...] = field(default_factory=tuple)

    @classmethod
    def of(
        cls, started: float | None, duration: float, ended: float | None, controls: Iterable[Control] = ()
    ) -> ExamClock:
        """A clock from the stored times and controls (in the order they were made)."""
        return cls(started, duration, ended, tuple(controls))

    # pauses ------------------------------------------------------------------------------------
    def pauses(self) -> list[tuple[float, float | None]]:
        """Each pause as (from, to); the last one has no end while the clock is stopped."""
        spans: list[tuple[float, float | None]] = []
        for c in self.controls:
            if c.action == "pause" and (not spans or spans[-1][1] is not None):
                spans.append((c.at, None))
            elif c.action == "resume" and spans and spans[-1][1] is None:
                spans[-1] = (spans[-1][0], c.at)
        return spans

    @property
    def paused_since(self) -> float | None:
        """When the running pause began; None when the clock runs (or the exam has ended)."""
        spans = self.pauses()
        if self.ended is not None or not spans or spans[-1][1] is not None:
            return None
        return spans[-1][0]

    def paused_at(self, at: float) -> bool:
        """Whether the clock was stopped at wall time AT."""
        return any(start <= at and (end is None or at < end) for start, end in self.pauses())

    def paused_for(self, until: float) -> float:
        """Seconds the clock stood still between its start and UNTIL."""
        total = 0.0
        for start, end in self.pauses():
            stop = until if end is None else min(end, until)
            total += max(0.0, stop - max(start, self.started or start))
        return total

    # time --------------------------------------------------------------------------------------
    def elapsed(self, at: float) -> float:
        """Exam time used by wall time AT: time since the start, less the pauses; it stops at the end."""
        if self.started is None:
            return 0.0
        until = min(at, self.ended) if self.ended is not None else at
        return max(0.0, until - self.started - self.paused_for(until))

    def extra(self, student: str | None) -> float:
        """Extra time given to STUDENT (none to the class as a whole)."""
        if student is None:
            return 0.0
        return sum(c.seconds or 0.0 for c in self.controls if c.action == "extend" and c.student == student)

    def allowed(self, student: str | None = None) -> float:
        """Exam time STUDENT has: the exam's duration and their extra time."""
        return self.duration + self.extra(student)

    def left(self, now: float, student: str | None = None) -> float | None:
        """Exam time STUDENT (or the class) has left at NOW, negative when over; None before the start."""
        if self.started is None:
            return None
        return self.allowed(student) - self.elapsed(now)

    def deadline(self, now: float, student: str | None = None) -> float | None:
        """The wall time STUDENT's time runs out if the clock runs on from NOW (it moves while paused)."""
        if self.started is None:
            return None
        until = min(now, self.ended) if self.ended is not None else now
        if self.paused_since is not None:
            return now + self.allowed(student) - self.elapsed(now)
        return self.started + self.allowed(student) + self.paused_for(until)

    def late(self, at: float, student: str | None = None) -> bool:
        """Whether a grade taken at AT came after STUDENT's time ran out."""
        return self.started is not None and self.elapsed(at) > self.allowed(student)

    def solved_in(self, at: float) -> float | None:
        """Exam time from the start to AT (a first passing grade); None before the start."""
        return None if self.started is None else round(self.elapsed(at), 1)


def describe(control: Control, clock: ExamClock) -> str:
    """What a control changed, in words: `paused the class clock`, `gave bob 10m more`."""
    if control.action == "pause":
        return "paused the class clock"
    if control.action == "resume":
        start = next((s for s, e in clock.pauses() if e == control.at), None)
        return "resumed the class clock" + (f" after {format_duration(control.at - start)}" if start else "")
    return f"gave {control.student} {format_duration(control.seconds or 0)} more"


def changes(clock: ExamClock) -> list[tuple[float, str]]:
    """Each control of the clock as (when, what it changed), oldest first."""
    return [(c.at, describe(c, clock)) for c in clock.controls]
