"""Run an exam: break every student's cluster at once, show the board, grade and reset everyone at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import ValidationError

from breakfix.api import Breakfix
from breakfix.catalog import Catalog, Lab, load_catalog, load_one
from breakfix.clock import CLOCK
from breakfix.durations import format_duration
from breakfix.errors import BreakfixError, Interrupted, LabFileError, UnknownLabError, UsageError
from breakfix.exam.board import Board, Seat
from breakfix.exam.clock import Control, ExamClock
from breakfix.exam.draw import Candidate, Fits, draw_tasks
from breakfix.exam.model import Assignment, ExamFile, assignments, load_exam, seat_key
from breakfix.footprint import compatible, first_clash, footprint
from breakfix.inventory import load_inventory
from breakfix.paths import state_dir
from breakfix.results import CheckResult, GradeReport
from breakfix.runner import variant_of
from breakfix.state import OPEN, RUNNING, Session, SessionStatus, State
from breakfix.variants import random_seed, student_seed

MAX_PARALLEL = 8  # clusters broken, graded or reset at the same time
MAX_EXTRA = 24 * 3600.0  # more extra time than this for one student is a typo
T = TypeVar("T")


class SeatApi(Protocol):
    """What the exam needs of one student's cluster (breakfix.api.Breakfix; a fake in unit tests)."""

    def start_together(
        self,
        lab_ids: list[str],
        student: str | None = None,
        seed: int | None = None,
        drawn: bool = False,
        exam: str | None = None,
        numbers: list[int] | None = None,
    ) -> list[tuple[Session, str]]:
        """Break the cluster for the student's labs there, together (labs with variables: drawn from SEED;
        NUMBERS: the tasks' numbers in the exam)."""

    def grade_tasks(self) -> list[tuple[Session, GradeReport, float]]:
        """Grade every lab running on the cluster."""

    def reset(self) -> int:
        """Undo every change on the cluster."""


#: A student's tasks on one cluster: they start, are graded and are reset together.
Workplace = list[Assignment]


def workplaces(seats: list[Assignment]) -> list[Workplace]:
    """SEATS grouped by student and cluster, in task order."""
    groups: dict[str, Workplace] = {}
    for seat in seats:
        groups.setdefault(seat.workplace, []).append(seat)
    return list(groups.values())


def _parallel(fn: Callable[[Workplace], T], groups: list[Workplace]) -> dict[str, T]:
    """FN applied to every workplace at once, by Assignment.workplace; on Ctrl-C nothing new starts, running ones
    finish."""
    if not groups:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(groups)), thread_name_prefix="exam")
    futures: list[Future[T]] = [pool.submit(fn, g) for g in groups]
    try:
        results = [f.result() for f in futures]
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return dict(zip((g[0].workplace for g in groups), results, strict=True))


def _hhmm(at: float) -> str:
    return time.strftime("%H:%M", time.localtime(at))


def _failure(exc: Exception) -> str:
    """One line for a seat that could not be started, graded or reset."""
    return str(exc) if isinstance(exc, BreakfixError) else f"unexpected error: {type(exc).__name__}: {exc}"


class ExamRunner:
    """Exams on the registered clusters, kept in the breakfix store."""

    def __init__(self, store: State | None = None, log: Callable[[str], None] | None = None) -> None:
        self.store = store or State()
        self.log = log or (lambda _m: None)
        self._catalog: Catalog | None = None
        self._titles: dict[str, tuple[str, str]] = {}

    @property
    def catalog(self) -> Catalog:
        """The lab catalog, loaded once for every student."""
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    def api_for(self, seat: Assignment) -> SeatApi:
        """The breakfix API bound to one student's cluster."""
        return Breakfix(
            seat.cluster, self.store, log=lambda m: self.log(f"[{seat.student}] {m.strip()}"), catalog=self.catalog
        )

    # the exam as stored -------------------------------------------------------------
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

    @staticmethod
    def _exam_file(record: dict[str, Any]) -> ExamFile:
        try:
            return ExamFile.model_validate(record["spec"])
        except ValidationError:
            raise BreakfixError(
                f"exam {record['name']}: the stored exam file cannot be read by this version of breakfix"
            ) from None

    @classmethod
    def _seats(cls, record: dict[str, Any]) -> list[Assignment]:
        return assignments(cls._exam_file(record))

    def clock(self, record: dict[str, Any]) -> ExamClock:
        """The exam's clock: its start, duration, end and the instructor's controls."""
        try:
            controls = [Control.from_row(c) for c in self.store.exam_controls(record["name"])]
        except ValueError as exc:  # a newer breakfix's control: its times cannot be worked out here
            name = record["name"]
            raise BreakfixError(f"exam {name}: {exc}; this version of breakfix cannot read its clock") from None
        return ExamClock.of(record["started"], float(self._exam_file(record).duration), record["ended"], controls)

    def _sessions(self, name: str) -> dict[str, Session]:
        """The newest session of each seat of the exam (by Assignment.key)."""
        return {seat_key(s.student or "", s.cluster, s.lab): s for s in self.store.exam_sessions(name)}

    def _problems(self, name: str, found: dict[str, str]) -> None:
        """Keep what went wrong for each student (a later success clears it)."""
        record = self.store.exam(name)
        assert record is not None
        self.store.update_exam(name, problems={**record["problems"], **found})

    # checks before anything is broken -------------------------------------------
    def _drawn(self, path: Path, exam: ExamFile) -> ExamFile:
        """EXAM with the labs of every student who has none of their own drawn from its seed (`draw`)."""
        if exam.draw is None or not exam.undrawn:
            return exam
        pool_ids = exam.draw.labs if exam.draw.labs is not None else sorted(self.catalog.labs)
        pool = []
        for i, lab_id in enumerate(pool_ids):
            try:
                lab = self.catalog.get(lab_id)
            except UnknownLabError as exc:
                raise LabFileError(str(path), f"draw.labs[{i}]", str(exc)) from None
            pool.append(Candidate(lab.id, lab.spec.domain, frozenset(lab.spec.requires)))
        offers = {c["name"]: c for c in self.store.clusters()}
        weights = {str(d): w for d, w in exam.draw.domains.items()}
        seed = exam.seed if exam.seed is not None else student_seed(0, exam.name)
        students = []
        for student in exam.students:
            if student not in exam.undrawn:
                students.append(student)
                continue
            where = [(c, self._capabilities(offers.get(c))) for c in student.workplaces]
            fits = self._fits_beside(student.workplaces, student_seed(seed, student.name))
            labs = draw_tasks(student.name, where, pool, weights, seed, fits)
            own = {"labs": labs} if student.clusters is not None else {"lab": labs[0]}
            students.append(student.model_copy(update=own))
        return exam.model_copy(update={"students": students})

    def _variant(self, lab_id: str, seed: int) -> Lab:
        """A lab as a student with SEED gets it (a lab without variables as it is)."""
        lab = self.catalog.get(lab_id)
        return lab.variant(seed) if lab.has_variables else lab

    def _fits_beside(self, clusters: list[str], seed: int) -> Fits:
        """Whether a lab drawn for a student (values from SEED) can run beside those drawn on the same cluster;
        on a cluster that gets several tasks, a lab that must run alone never fits."""
        tasks = {c: clusters.count(c) for c in clusters}

        def fits(cluster: str, beside: list[str], lab_id: str) -> bool:
            lab = self._variant(lab_id, seed)
            if tasks[cluster] > 1 and footprint(lab).alone:
                return False
            return compatible([self._variant(other, seed) for other in beside], lab)

        return fits

    def _about(self, lab_id: str) -> tuple[str, str]:
        """A lab's title and domain (blank for a lab this catalog no longer has); one lab file read, once."""
        if lab_id not in self._titles:
            try:
                lab = self._catalog.get(lab_id) if self._catalog is not None else load_one(lab_id)
                self._titles[lab_id] = (lab.spec.title, lab.spec.domain)
            except BreakfixError:
                self._titles[lab_id] = ("", "")
        return self._titles[lab_id]

    @staticmethod
    def _capabilities(cluster: dict[str, Any] | None) -> frozenset[str]:
        """What a registered cluster offers labs (none for one that is not registered: the check says so)."""
        if cluster is None:
            return frozenset()
        try:
            return load_inventory(cluster["inventory"]).capabilities
        except BreakfixError:
            return frozenset()

    def _check(self, path: Path, exam: ExamFile, seed: int) -> list[Assignment]:
        seats = assignments(exam)
        index = {s.name: i for i, s in enumerate(exam.students)}
        known = {c["name"] for c in self.store.clusters()}
        for seat in seats:
            i, student = index[seat.student], exam.students[index[seat.student]]
            if student.labs is not None:
                key = f"students[{i}].labs[{seat.task - 1}]"
            else:
                key = f"students[{i}].lab" if student.lab else f"labs[{exam.labs.index(seat.lab)}]"
            try:
                self.catalog.get(seat.lab)
            except UnknownLabError as exc:
                raise LabFileError(str(path), key, str(exc)) from None
            if seat.cluster not in known:
                raise LabFileError(
                    str(path),
                    f"students[{i}].cluster"
                    if student.clusters is None
                    else f"students[{i}].clusters[{seat.task - 1}]",
                    f"{seat.cluster!r} is not a registered lab cluster "
                    f"(registered: {', '.join(sorted(known)) or 'none'}); "
                    f"`lab cluster adopt INVENTORY --name {seat.cluster}` registers it",
                )
        for group in workplaces(seats):
            if len(group) < 2:
                continue
            first = group[0]
            labs = [self._variant(s.lab, student_seed(seed, first.student)) for s in group]
            why = first_clash(labs)
            if why:
                raise LabFileError(
                    str(path),
                    f"students[{index[first.student]}].labs",
                    f"the labs of {first.student} on {first.cluster} cannot run together: {why}; "
                    "give them clusters of their own",
                )
        return seats

    # commands ---------------------------------------------------------------------
    def start(self, path: Path) -> tuple[Board, dict[str, str]]:
        """Break every student's cluster at once, then start the clock; returns the board and who failed."""
        exam = load_exam(path)
        record = self.store.exam(exam.name)
        if record is not None and record["ended"] is not None:
            raise BreakfixError(
                f"exam {exam.name} has ended (`lab exam report {exam.name}`); give a new one a new name"
            )
        if exam.seed is None:  # the seed drawn at the first start stays the exam's
            seed = record["spec"].get("seed") if record is not None else random_seed()
            exam = exam.model_copy(update={"seed": seed})
        exam = self._drawn(path, exam)
        seats = self._check(path, exam, exam.seed if exam.seed is not None else student_seed(0, exam.name))
        spec = exam.model_dump(mode="json")
        if record is not None and {"seed": None, **record["spec"]} != spec:
            raise BreakfixError(
                f"exam {exam.name} is running with a different exam file: end it first "
                f"(`lab exam end {exam.name}`) or give this one another name"
            )
        fresh = record is None
        if fresh:
            self.store.add_exam(exam.name, str(path.resolve()), spec)
        exam_seed = spec["seed"] if isinstance(spec["seed"], int) else student_seed(0, exam.name)  # an older record
        sessions = self._sessions(exam.name)
        pending = [
            group
            for group in workplaces(seats)
            if any(s.key not in sessions or sessions[s.key].status not in RUNNING for s in group)
        ]
        if not pending:  # e.g. a start interrupted after the breaks: the clock still has to start
            self.log(f"exam {exam.name}: every student's lab is running already")
            self._start_clock(exam)
            return self.board(exam.name), {}
        self.log(f"exam {exam.name}: breaking {len(pending)} cluster(s), {min(MAX_PARALLEL, len(pending))} at a time")

        def start_one(group: Workplace) -> str:
            first = group[0]
            api = self.api_for(first)
            try:
                earlier = [sessions[s.key] for s in group if s.key in sessions]
                if any(e.status in OPEN for e in earlier):  # half started, or interrupted: undo it all first
                    self.log(f"[{first.student}] an earlier start did not finish: undoing it first")
                    api.reset()
                seed = student_seed(exam_seed, first.student)  # the student's own values (labs with variables)
                labs, numbers = [s.lab for s in group], [s.task for s in group]
                api.start_together(labs, student=first.student, seed=seed, exam=exam.name, numbers=numbers)
                # a mock's student must not read the lab
                what = ", ".join(f"task {s.task}" if exam.mock else s.lab for s in group)
                self.log(f"[{first.student}] {what} {'is' if len(group) == 1 else 'are'} live on {first.cluster}")
                return ""
            except Exception as exc:
                self.log(f"[{first.student}] not started: {_failure(exc)}")
                return _failure(exc)

        try:
            results = _parallel(start_one, pending)
        except KeyboardInterrupt:
            raise self._abandon(exam.name, seats, fresh) from None
        failures = {k: v for k, v in results.items() if v}
        self._problems(exam.name, results)
        self._start_clock(exam)
        return self.board(exam.name), failures

    def seed_of(self, name: str) -> int | None:
        """The seed an exam's labs and values were drawn from."""
        seed = self._record(name)["spec"].get("seed")
        return seed if isinstance(seed, int) else None

    def mock(
        self,
        clusters: list[str],
        count: int | None,
        duration: str,
        seed: int | None = None,
        student: str = "me",
        name: str | None = None,
        pool: list[str] | None = None,
    ) -> tuple[Board, dict[str, str]]:
        """A mock exam for one student: COUNT labs drawn by the CKA's weights, dealt round the clusters (several
        on one cluster run together), one clock."""
        registered = [c["name"] for c in self.store.clusters()]
        unknown = [c for c in clusters if c not in registered]
        if unknown:
            raise UsageError(
                f"--cluster {unknown[0]}: not a registered lab cluster (registered: {', '.join(registered) or 'none'})"
            )
        for lab_id in pool or []:
            self.catalog.get(lab_id)  # an unknown lab: one line with the close names
        free = [c for c in registered if self.store.active_session(c) is None]
        chosen = list(dict.fromkeys(clusters)) or free
        if not chosen:
            raise BreakfixError(
                "no free lab cluster for a mock exam: register one (`lab cluster adopt`) or reset the lab on one"
            )
        count = len(chosen) if count is None else count
        if count < 1:
            raise UsageError(f"--count {count}: a mock exam has at least one task")
        chosen = chosen[:count]
        # the tasks go round the clusters; where several land on one, they run together (and never interfere)
        places = [chosen[task % len(chosen)] for task in range(count)]
        name = name or time.strftime("mock-%Y%m%d-%H%M%S", time.localtime(CLOCK.wall()))
        spec: dict[str, Any] = {
            "name": name,
            "duration": duration,
            "mock": True,
            "draw": {"labs": pool} if pool else {},
            "students": [{"name": student, "clusters": places}],
        }
        if seed is not None:
            spec["seed"] = seed
        folder = state_dir() / "exams"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return self.start(path)

    def _abandon(self, name: str, seats: list[Assignment], fresh: bool) -> Interrupted:
        """Ctrl-C while breaking: undo the breaks of this run so no cluster is left broken without a clock."""
        self.log("interrupted: undoing every break of this exam start...")
        sessions = self._sessions(name)
        record = self.store.exam(name)
        clock = record is not None and record["started"] is not None
        undo = [s for s in seats if s.key in sessions and sessions[s.key].status in OPEN]
        if clock:  # students already working keep their labs; only the unfinished starts are undone
            undo = [s for s in undo if sessions[s.key].status == SessionStatus.starting]
        left = {k: v for k, v in _parallel(self._reset_one, workplaces(undo)).items() if v}
        if left:
            return Interrupted(
                f"exam {name} interrupted; {len(left)} cluster(s) could not be put back: `lab exam end {name}` retries"
            )
        if fresh and not clock:
            self.store.drop_exam(name)
        return Interrupted(f"exam {name} interrupted; every cluster it was breaking is back as it was")

    def _start_clock(self, exam: ExamFile) -> None:
        """The clock starts when the first `lab exam start` has broken its clusters; later starters share it."""
        record = self.store.exam(exam.name)
        assert record is not None
        live = [s for s in self.store.exam_sessions(exam.name) if s.status in RUNNING]
        if not live:
            return
        if record["started"] is None:
            now = CLOCK.wall()
            self.store.update_exam(exam.name, started=now, deadline=now + exam.duration)
        self._sync_deadlines(exam.name)

    def _sync_deadlines(self, name: str) -> None:
        """Each running lab's deadline (what `lab --cluster C status` shows) from the clock: pauses, extra time."""
        record = self.store.exam(name)
        assert record is not None
        clock, now = self.clock(record), CLOCK.wall()
        self.store.update_exam(name, deadline=clock.deadline(now))
        for session in self.store.exam_sessions(name):
            if session.status in RUNNING:
                self.store.update_session(session.id, deadline=clock.deadline(now, session.student or ""))

    # instructor controls ---------------------------------------------------------
    def _running_clock(self, name: str | None, what: str) -> tuple[dict[str, Any], ExamClock]:
        record = self._record(name)
        if record["ended"] is not None:
            raise BreakfixError(f"exam {record['name']} has ended: its clock cannot {what}")
        return record, self.clock(record)

    def pause(self, name: str | None = None) -> Board:
        """Stop the class clock: nobody's time runs until `resume` (grades taken meanwhile are marked)."""
        record, clock = self._running_clock(name, "be paused")
        if record["started"] is None:
            raise BreakfixError(f"exam {record['name']} has not started: there is no clock to pause yet")
        if clock.paused_since is not None:
            raise BreakfixError(
                f"exam {record['name']} is paused already (since {_hhmm(clock.paused_since)}): "
                f"`lab exam resume {record['name']}` starts the clock again"
            )
        self.store.add_exam_control(record["name"], CLOCK.wall(), "pause")
        self.log(f"exam {record['name']}: the class clock is paused")
        return self.board(record["name"])

    def resume(self, name: str | None = None) -> Board:
        """Start the class clock again where it stopped: every deadline moves by the pause."""
        record, clock = self._running_clock(name, "be resumed")
        if clock.paused_since is None:
            raise BreakfixError(f"exam {record['name']} is not paused: its clock is running")
        self.store.add_exam_control(record["name"], CLOCK.wall(), "resume")
        self._sync_deadlines(record["name"])
        self.log(f"exam {record['name']}: the class clock runs again")
        return self.board(record["name"])

    def extend(self, name: str | None, student: str, seconds: float) -> Board:
        """Give one student SECONDS more (on top of any extra time given before)."""
        record, _clock = self._running_clock(name, "give extra time")
        students = list(dict.fromkeys(s.student for s in self._seats(record)))
        if student not in students:
            raise UsageError(f"no student {student!r} in exam {record['name']} (students: {', '.join(students)})")
        if not 0 < seconds <= MAX_EXTRA:
            raise UsageError(
                f"extra time must be more than 0 and at most {format_duration(MAX_EXTRA)}, "
                f"not {format_duration(seconds)}"
            )
        self.store.add_exam_control(record["name"], CLOCK.wall(), "extend", student, seconds)
        self._sync_deadlines(record["name"])
        self.log(f"exam {record['name']}: {student} has {format_duration(seconds)} more")
        return self.board(record["name"])

    def status(self, name: str | None = None, grade: bool = False) -> Board:
        """The board; with GRADE, every running lab is graded first (at once)."""
        record = self._record(name)
        if grade:
            if record["ended"] is not None:
                raise BreakfixError(f"exam {record['name']} has ended: its grades are final")
            self._problems(record["name"], self._grade_all(record))
        return self.board(record["name"])

    def _with(self, record: dict[str, Any], states: tuple[str, ...]) -> list[Assignment]:
        sessions = self._sessions(record["name"])
        return [s for s in self._seats(record) if s.key in sessions and sessions[s.key].status in states]

    def _grade_all(self, record: dict[str, Any]) -> dict[str, str]:
        def grade_one(group: Workplace) -> str:
            try:
                self.api_for(group[0]).grade_tasks()
                return ""
            except Exception as exc:
                return f"not graded: {_failure(exc)}"

        self.catalog  # noqa: B018 - loaded once here, not by every worker at once
        return _parallel(grade_one, workplaces(self._with(record, RUNNING)))

    def _reset_one(self, group: Workplace) -> str:
        cluster = group[0].cluster
        try:
            self.api_for(group[0]).reset()
            return ""
        except Exception as exc:
            return f"reset failed ({_failure(exc)}): `lab exam end` retries, or `lab reset --cluster {cluster}`"

    def end(self, name: str | None = None, keep: bool = False) -> Board:
        """Grade everyone one last time, stop the clock and (unless KEEP) reset every cluster; again: resets only."""
        record = self._record(name)
        name = record["name"]
        to_reset = [] if keep else self._with(record, OPEN)
        if record["ended"] is None:
            self.log(f"exam {name}: final grading of every cluster...")
            found = self._grade_all(record)
            self.store.update_exam(name, ended=CLOCK.wall())
            self._problems(name, found)
        elif not to_reset:
            raise BreakfixError(f"exam {name} has ended already and left nothing to reset: `lab exam report {name}`")
        failed: dict[str, str] = {}
        if to_reset:
            self.log(f"resetting {len(to_reset)} cluster(s)...")
            found = _parallel(self._reset_one, workplaces(to_reset))
            self._problems(name, found)
            failed = {seat.cluster: found[seat.workplace] for seat in to_reset if found[seat.workplace]}
        board = self.board(name)
        board.not_reset = failed
        return board

    def board(self, name: str) -> Board:
        """The exam's board from what the store holds (grades taken after the end do not count)."""
        record = self._record(name)
        sessions = self._sessions(name)
        clock, now = self.clock(record), CLOCK.wall()
        exam = self._exam_file(record)
        board = Board(name, record["started"], clock.deadline(now), record["ended"], clock=clock)
        board.pass_mark, board.mock = exam.pass_mark, exam.mock
        for seat in self._seats(record):
            problems = record["problems"]  # an exam stored before tasks had keys: by student
            detail = problems.get(seat.workplace, problems.get(seat.student, ""))
            row = Seat(seat.student, seat.cluster, seat.lab, detail=detail, task=seat.task)
            row.title, row.domain = self._about(seat.lab)
            row.extra = clock.extra(seat.student)
            row.left = None if record["ended"] is not None else clock.left(now, seat.student)
            session = sessions.get(seat.key)
            if session is not None:
                self._fill(row, session, record, clock)
            board.seats.append(row)
        return board

    def _fill(self, row: Seat, session: Session, record: dict[str, Any], clock: ExamClock) -> None:
        row.state = session.status.value
        row.seed, row.values = variant_of(session)
        row.hints = session.hints_used
        ended = record["ended"]
        grades = [g for g in self.store.grades(session.id) if ended is None or g["at"] <= ended]
        if not grades:
            return
        last = grades[-1]
        report = GradeReport(session.lab, [CheckResult(**c) for c in last["checks"]])
        row.report = report
        row.passed = report.passed
        row.graded_at = last["at"]
        row.late = clock.late(last["at"], row.student)
        row.paused_grade = clock.paused_at(last["at"])
        # an unfixed lab scores 0: its guard checks (nothing redeployed, ...) pass on an untouched cluster too
        row.score = Breakfix.session_score(report, session) if report.passed else 0.0
        row.checks = f"{sum(1 for c in report.checks if c.ok)}/{len(report.checks)}"
        first_pass = next((g for g in grades if g["passed"]), None)
        if first_pass is not None:
            row.solved_in = clock.solved_in(first_pass["at"])
        if not row.detail and not report.passed:
            row.detail = "; ".join(f"{c.name}: {c.message}" for c in report.checks if not c.ok)
