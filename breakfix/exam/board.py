"""The exam's board: each student's tasks (a seat each), their scores against the pass mark, the class clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from breakfix.clock import CLOCK
from breakfix.durations import format_duration
from breakfix.exam.clock import Control, ExamClock
from breakfix.results import GradeReport


@dataclass
class Seat:
    """One student's row on the board: their lab, where it stands and the final (or latest) grade."""

    student: str
    cluster: str
    lab: str
    state: str = "not started"
    detail: str = ""
    score: float | None = None
    passed: bool | None = None
    graded_at: float | None = None
    late: bool = False
    checks: str = "-"
    solved_in: float | None = None
    report: GradeReport | None = None
    seed: int | None = None  # a lab with variables: `lab start LAB --seed SEED` gives the student's lab again
    values: dict[str, Any] = field(default_factory=dict)
    hints: int = 0
    extra: float = 0.0  # extra time the instructor gave this student (seconds)
    left: float | None = None  # this student's exam time left (seconds; negative when over)
    paused_grade: bool = False  # the latest grade was taken while the class clock was paused
    task: int = 1  # the task's number among the student's tasks (one per cluster)
    title: str = ""  # the lab's title (it names no fault)
    domain: str = ""  # the lab's CKA domain

    def as_dict(self, hidden: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; HIDDEN (a running mock exam): the task's title instead of its lab, no messages."""
        if hidden:
            checks = [{"title": c.name, "ok": c.ok} for c in self.report.checks] if self.report else []
            return {
                "student": self.student,
                "task": self.task,
                "cluster": self.cluster,
                "title": self.title,
                "state": self.state,
                "score_percent": self.score,
                "passed": self.passed,
                "graded_at": self.graded_at,
                "checks_passed": self.checks,
                "hints_used": self.hints,
                "time_left_seconds": None if self.left is None else round(self.left, 1),
                "checks": checks,
            }
        return {
            "student": self.student,
            "task": self.task,
            "cluster": self.cluster,
            "lab": self.lab,
            "title": self.title,
            "domain": self.domain,
            "state": self.state,
            "detail": self.detail,
            "score_percent": self.score,
            "passed": self.passed,
            "graded_at": self.graded_at,
            "graded_after_deadline": self.late,
            "checks_passed": self.checks,
            "solved_in_seconds": self.solved_in,
            "graded_while_paused": self.paused_grade,
            "hints_used": self.hints,
            "extra_seconds": self.extra,
            "time_left_seconds": None if self.left is None else round(self.left, 1),
            "checks": [c.as_dict() for c in self.report.checks] if self.report else [],
            **({"seed": self.seed, "values": self.values} if self.seed is not None else {}),
        }


@dataclass(frozen=True)
class StudentResult:
    """One student's exam result: the mean score of their tasks and whether it reaches the pass mark."""

    student: str
    score: float
    passed: bool
    fixed: int
    tasks: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "student": self.student,
            "score_percent": self.score,
            "passed": self.passed,
            "tasks_fixed": self.fixed,
            "tasks": self.tasks,
        }


@dataclass
class Board:
    """The whole exam at a glance."""

    name: str
    started: float | None
    deadline: float | None
    ended: float | None
    seats: list[Seat] = field(default_factory=list)
    clock: ExamClock | None = None  # None: a plain deadline (no pause, no extra time)
    pass_mark: float = 66.0  # percent a student's score (the mean of their tasks) must reach
    not_reset: dict[str, str] = field(default_factory=dict)  # `end`: clusters whose reset failed, and why
    mock: bool = False  # a student's own mock exam: labs and check messages stay hidden until the end

    @property
    def hidden(self) -> bool:
        """Whether the board must not show labs or check messages (a mock exam that has not ended)."""
        return self.mock and self.ended is None

    def domains(self) -> list[tuple[str, float, int]]:
        """Each CKA domain of the tasks: the mean score of its tasks and how many there were, weakest first."""
        by: dict[str, list[float]] = {}
        for seat in self.seats:
            by.setdefault(seat.domain or "-", []).append(seat.score or 0.0)
        rows = [(d, round(sum(v) / len(v), 1), len(v)) for d, v in by.items()]
        return sorted(rows, key=lambda r: (r[1], r[0]))

    @property
    def passed(self) -> int:
        """How many tasks were fixed (with one task per student: how many students fixed their cluster)."""
        return sum(1 for s in self.seats if s.passed)

    @property
    def several_tasks(self) -> bool:
        """Whether a student has more than one task (a cluster each)."""
        return any(s.task > 1 for s in self.seats)

    def students(self) -> list[StudentResult]:
        """Each student's score over their tasks (an ungraded or unfixed task counts 0) against the pass mark."""
        mine: dict[str, list[Seat]] = {}
        for seat in self.seats:
            mine.setdefault(seat.student, []).append(seat)
        results = []
        for student, seats in mine.items():
            score = round(sum(s.score or 0.0 for s in seats) / len(seats), 1)
            graded = any(s.report is not None for s in seats)
            fixed = sum(1 for s in seats if s.passed)
            results.append(StudentResult(student, score, graded and score >= self.pass_mark, fixed, len(seats)))
        return results

    @property
    def paused_since(self) -> float | None:
        """When the instructor paused the class clock, while it stands still."""
        return self.clock.paused_since if self.clock else None

    @property
    def controls(self) -> tuple[Control, ...]:
        """What the instructor did to the clock, oldest first."""
        return self.clock.controls if self.clock else ()

    def left(self) -> float | None:
        """The class's exam time left now (seconds, negative when over); None before the start or after the end."""
        if self.ended is not None:
            return None
        if self.clock is not None:
            return self.clock.left(CLOCK.wall())
        return None if self.deadline is None else self.deadline - CLOCK.wall()

    @property
    def time_left(self) -> str:
        """Time until the deadline, or how far past it; `(paused)` while the clock stands still."""
        if self.ended is not None:
            return "ended"
        left = self.left()
        if left is None:
            return "not started"
        text = format_duration(left) if left >= 0 else f"over by {format_duration(-left)}"
        return f"{text} (paused)" if self.paused_since is not None else text

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        left = self.left()
        return {
            "exam": self.name,
            "started": self.started,
            "deadline": self.deadline,
            "ended": self.ended,
            "time_left": self.time_left,
            "time_left_seconds": None if left is None else round(left, 1),
            "paused": self.paused_since is not None,
            "paused_since": self.paused_since,
            "controls": [c.as_dict() for c in self.controls],
            "passed": self.passed,
            "pass_mark": self.pass_mark,
            "results": [r.as_dict() for r in self.students()],
            **(
                {}
                if self.hidden
                else {"domains": [{"domain": d, "score_percent": sc, "tasks": n} for d, sc, n in self.domains()]}
            ),
            "mock": self.mock,
            "students": [s.as_dict(self.hidden) for s in self.seats],
        }
