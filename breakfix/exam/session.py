"""Run an exam: break every student's cluster at once, show the board, grade and reset everyone at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from breakfix.api import Breakfix
from breakfix.catalog import Catalog, load_catalog
from breakfix.durations import format_duration
from breakfix.errors import BreakfixError, LabFileError, UnknownLabError
from breakfix.exam.model import Assignment, ExamFile, assignments, load_exam
from breakfix.results import CheckResult, GradeReport
from breakfix.state import Session, State

MAX_PARALLEL = 8  # clusters broken, graded or reset at the same time
RUNNING = ("active", "solved")
T = TypeVar("T")


@dataclass
class Seat:
    """One student's row on the board: their lab, where it stands and the latest grade."""

    student: str
    cluster: str
    lab: str
    state: str = "not started"
    detail: str = ""
    score: float | None = None
    passed: bool | None = None
    graded_at: float | None = None
    solved_in: float | None = None
    report: GradeReport | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "student": self.student,
            "cluster": self.cluster,
            "lab": self.lab,
            "state": self.state,
            "detail": self.detail,
            "score_percent": self.score,
            "passed": self.passed,
            "graded_at": self.graded_at,
            "solved_in_seconds": self.solved_in,
            "checks": [c.as_dict() for c in self.report.checks] if self.report else [],
        }


@dataclass
class Board:
    """The whole exam at a glance."""

    name: str
    started: float | None
    deadline: float | None
    ended: float | None
    seats: list[Seat] = field(default_factory=list)

    @property
    def time_left(self) -> str:
        """Time until the deadline, or how far past it."""
        if self.deadline is None:
            return "not started"
        if self.ended is not None:
            return "ended"
        left = self.deadline - time.time()
        return format_duration(left) if left >= 0 else f"over by {format_duration(-left)}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "exam": self.name,
            "started": self.started,
            "deadline": self.deadline,
            "ended": self.ended,
            "time_left": self.time_left,
            "passed": sum(1 for s in self.seats if s.passed),
            "students": [s.as_dict() for s in self.seats],
        }


def _parallel(fn: Callable[[Assignment], T], seats: list[Assignment]) -> dict[str, T]:
    """FN applied to every seat at once; results by student."""
    if not seats:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(seats)), thread_name_prefix="exam") as pool:
        return dict(zip((s.student for s in seats), pool.map(fn, seats), strict=True))


def _failure(exc: Exception) -> str:
    """One line for a seat that could not be started, graded or reset."""
    return str(exc) if isinstance(exc, BreakfixError) else f"unexpected error: {type(exc).__name__}: {exc}"


class ExamRunner:
    """Exams on the registered clusters, kept in the breakfix store."""

    def __init__(self, store: State | None = None, log: Callable[[str], None] | None = None) -> None:
        self.store = store or State()
        self.log = log or (lambda _m: None)
        self._catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        """The lab catalog, loaded once for every student."""
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    def _bf(self, seat: Assignment) -> Breakfix:
        return Breakfix(
            seat.cluster, self.store, log=lambda m: self.log(f"[{seat.student}] {m.strip()}"), catalog=self.catalog
        )

    # checks before anything is broken -------------------------------------------
    def _check(self, path: Path, exam: ExamFile) -> list[Assignment]:
        seats = assignments(exam)
        known = {c["name"] for c in self.store.clusters()}
        for i, (student, seat) in enumerate(zip(exam.students, seats, strict=True)):
            key = f"students[{i}].lab" if student.lab else f"labs[{exam.labs.index(seat.lab)}]"
            try:
                self.catalog.get(seat.lab)
            except UnknownLabError as exc:
                raise LabFileError(str(path), key, str(exc)) from None
            if seat.cluster not in known:
                raise LabFileError(
                    str(path),
                    f"students[{i}].cluster",
                    f"{seat.cluster!r} is not a registered lab cluster "
                    f"(registered: {', '.join(sorted(known)) or 'none'}); "
                    f"`lab cluster adopt INVENTORY --name {seat.cluster}` registers it",
                )
        return seats

    def _record(self, name: str | None) -> dict[str, Any]:
        if name is None:
            names = self.store.exams()
            if not names:
                raise BreakfixError("no exam yet: `lab exam start EXAM.yaml` starts one")
            running = [n for n in names if (r := self.store.exam(n)) and r["ended"] is None]
            name = (running or names)[0]
        record = self.store.exam(name)
        if record is None:
            raise BreakfixError(f"no exam named {name!r} (known: {', '.join(self.store.exams()) or 'none'})")
        return record

    # commands ---------------------------------------------------------------------
    def start(self, path: Path) -> tuple[Board, dict[str, str]]:
        """Break every student's cluster at once and start the exam's clock; returns the board and who failed."""
        exam = load_exam(path)
        seats = self._check(path, exam)
        spec = exam.model_dump(mode="json")
        record = self.store.exam(exam.name)
        if record is not None and record["ended"] is not None:
            raise BreakfixError(
                f"exam {exam.name} has ended (`lab exam report {exam.name}`); give a new one a new name"
            )
        if record is not None and record["spec"] != spec:
            raise BreakfixError(
                f"exam {exam.name} is running with a different exam file: end it first "
                f"(`lab exam end {exam.name}`) or give this one another name"
            )
        if record is None:
            self.store.add_exam(exam.name, str(path.resolve()), spec)
        sessions = self.store.exam_sessions(exam.name)
        pending = [s for s in seats if s.student not in sessions or sessions[s.student].status == "aborted"]
        if not pending:  # e.g. a start interrupted after the breaks: the clock still has to start
            self.log(f"exam {exam.name}: every student's lab is running already")
            self._start_clock(exam)
            return self.board(exam.name), {}
        self.log(f"exam {exam.name}: breaking {len(pending)} cluster(s), {min(MAX_PARALLEL, len(pending))} at a time")

        def start_one(seat: Assignment) -> str:
            try:
                self._bf(seat).start(seat.lab, student=seat.student, exam=exam.name)
                self.log(f"[{seat.student}] {seat.lab} is live on {seat.cluster}")
                return ""
            except Exception as exc:
                self.log(f"[{seat.student}] not started: {_failure(exc)}")
                return _failure(exc)

        failures = {k: v for k, v in _parallel(start_one, pending).items() if v}
        self._start_clock(exam)
        return self.board(exam.name, failures), failures

    def _start_clock(self, exam: ExamFile) -> None:
        """The clock starts once the first clusters are broken; late starters share the same deadline."""
        record = self.store.exam(exam.name)
        assert record is not None
        live = [s for s in self.store.exam_sessions(exam.name).values() if s.status in RUNNING]
        if not live:
            return
        if record["started"] is None:
            now = time.time()
            self.store.update_exam(exam.name, started=now, deadline=now + exam.duration)
            record = self.store.exam(exam.name)
            assert record is not None
        for session in live:
            self.store.update_session(session.id, deadline=record["deadline"])

    def status(self, name: str | None = None, grade: bool = False) -> Board:
        """The board; with GRADE, every running lab is graded first (at once)."""
        record = self._record(name)
        if grade:
            if record["ended"] is not None:
                raise BreakfixError(f"exam {record['name']} has ended: its grades are final")
            self._grade_all(record)
        return self.board(record["name"])

    def _running(self, record: dict[str, Any]) -> list[Assignment]:
        sessions = self.store.exam_sessions(record["name"])
        seats = assignments(ExamFile.model_validate(record["spec"]))
        return [s for s in seats if s.student in sessions and sessions[s.student].status in RUNNING]

    def _grade_all(self, record: dict[str, Any]) -> dict[str, str]:
        def grade_one(seat: Assignment) -> str:
            try:
                self._bf(seat).grade()
                return ""
            except Exception as exc:
                return _failure(exc)

        return {k: v for k, v in _parallel(grade_one, self._running(record)).items() if v}

    def end(self, name: str | None = None, keep: bool = False) -> Board:
        """Grade everyone one last time, stop the clock and (unless KEEP) reset every cluster."""
        record = self._record(name)
        if record["ended"] is not None:
            raise BreakfixError(f"exam {record['name']} has ended already: `lab exam report {record['name']}`")
        self.log(f"exam {record['name']}: final grading of every cluster...")
        problems = self._grade_all(record)
        self.store.update_exam(record["name"], ended=time.time())
        if not keep:
            self.log("resetting every cluster...")

            def reset_one(seat: Assignment) -> str:
                try:
                    self._bf(seat).reset()
                    return ""
                except Exception as exc:
                    return f"reset failed ({_failure(exc)}): run `lab reset --cluster {seat.cluster}`"

            problems.update({k: v for k, v in _parallel(reset_one, self._running(record)).items() if v})
        return self.board(record["name"], problems)

    def board(self, name: str, problems: dict[str, str] | None = None) -> Board:
        """The exam's board from what the store holds."""
        record = self._record(name)
        sessions = self.store.exam_sessions(name)
        board = Board(name, record["started"], record["deadline"], record["ended"])
        for seat in assignments(ExamFile.model_validate(record["spec"])):
            row = Seat(seat.student, seat.cluster, seat.lab, detail=(problems or {}).get(seat.student, ""))
            session = sessions.get(seat.student)
            if session is not None:
                self._fill(row, session, record["started"])
            board.seats.append(row)
        return board

    def _fill(self, row: Seat, session: Session, started: float | None) -> None:
        row.state = session.status
        grades = self.store.grades(session.id)
        if not grades:
            return
        last = grades[-1]
        report = GradeReport(session.lab, [CheckResult(**c) for c in last["checks"]])
        row.report = report
        row.passed = report.passed
        row.graded_at = last["at"]
        row.score = Breakfix.final_score(report, session.hints_used)
        first_pass = next((g for g in grades if g["passed"]), None)
        if first_pass is not None and started is not None:
            row.solved_in = round(max(0.0, first_pass["at"] - started), 1)
        if not row.detail and not report.passed:
            row.detail = "; ".join(f"{c.name}: {c.message}" for c in report.checks if not c.ok)
