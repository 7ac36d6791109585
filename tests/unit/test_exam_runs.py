"""How an exam drives the students' clusters: retries, the clock, Ctrl-C, the end (fake clusters, real store)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from breakfix.cli.main import main
from breakfix.errors import BreakfixError, ClusterError, Interrupted
from breakfix.exam.model import Assignment
from breakfix.exam.report import markdown
from breakfix.exam.session import ExamRunner
from breakfix.results import CheckResult, GradeReport
from breakfix.state import Session, State

LAB = "svc-wrong-selector"
Plan = dict[str, list[str]]


class FakeCluster:
    """One student's cluster: does what the plan says, in order, and refuses any call it was not told about."""

    def __init__(self, store: State, seat: Assignment, plan: Plan) -> None:
        self.store, self.seat, self.plan = store, seat, plan

    def _next(self, call: str) -> str:
        steps = self.plan.get(self.seat.student, [])
        if not steps or not steps[0].startswith(call):
            raise AssertionError(f"unexpected {call} on {self.seat.student}'s cluster (plan: {steps})")
        return steps.pop(0)

    def start_together(
        self,
        lab_ids: list[str],
        student: str | None = None,
        seed: int | None = None,
        drawn: bool = False,
        exam: str | None = None,
        numbers: list[int] | None = None,
    ) -> list[tuple[Session, str]]:
        step = self._next("start")
        if step == "start:unreachable":
            raise ClusterError(f"cannot reach the API server of {self.seat.cluster}")
        if step == "start:ctrl-c":
            raise KeyboardInterrupt
        started = []
        for lab_id in lab_ids:
            session = self.store.new_session(self.seat.cluster, lab_id, student, exam)
            self.store.update_session(session.id, status="active", started=time.time(), deadline=time.time() + 600)
            started.append((self.store.session(session.id), "task"))
        return started

    def grade_tasks(self) -> list[tuple[Session, GradeReport, float]]:
        step = self._next("grade")
        session = self.store.active_session(self.seat.cluster)
        assert session is not None
        ok = step == "grade:pass"
        check = CheckResult("pass" if ok else "fail", "fine" if ok else "no endpoints", name="routes", weight=2)
        self.store.add_grade(session.id, 2 if ok else 0, 2, ok, [check.as_dict()])
        if ok:
            self.store.update_session(session.id, status="solved")
        return [(session, GradeReport(LAB, [check]), 100.0 if ok else 0.0)]

    def reset(self) -> int:
        step = self._next("reset")
        if step == "reset:fails":
            raise ClusterError("node cp1 unreachable")
        session = self.store.active_session(self.seat.cluster)
        if session is not None:
            self.store.update_session(session.id, status="closed", ended=time.time())
        return 1


class FakeRunner(ExamRunner):
    def __init__(self, store: State, plan: Plan) -> None:
        super().__init__(store)
        self.plan = plan

    def api_for(self, seat: Assignment) -> FakeCluster:
        return FakeCluster(self.store, seat, self.plan)


@pytest.fixture
def exam_file(tmp_path: Path) -> Path:
    store = State()
    for name in ("c1", "c2"):
        store.add_cluster(name, f"/nowhere/{name}.yaml", "inventory", "m")
    path = tmp_path / "exam.yaml"
    students = [{"name": "alice", "cluster": "c1"}, {"name": "bob", "cluster": "c2"}]
    path.write_text(yaml.safe_dump({"name": "quiz", "duration": "10m", "labs": [LAB], "students": students}))
    return path


def states(runner: ExamRunner) -> dict[str, tuple[str, str]]:
    return {s.student: (s.state, s.detail) for s in runner.board("quiz").seats}


def test_a_student_who_could_not_start_is_retried_alone_and_shares_the_clock(exam_file: Path) -> None:
    store = State()
    plan: Plan = {"alice": ["start"], "bob": ["start:unreachable"]}
    board, failures = FakeRunner(store, plan).start(exam_file)
    assert failures == {"bob@c2": "cannot reach the API server of c2"}
    assert states(FakeRunner(store, {})) == {"alice": ("active", ""), "bob": ("not started", failures["bob@c2"])}
    assert board.deadline is not None and board.started is not None and board.deadline - board.started == 600
    assert store.active_session("c1").deadline == board.deadline  # type: ignore[union-attr]

    plan = {"bob": ["start"]}  # alice is not touched again
    again, failures = FakeRunner(store, plan).start(exam_file)
    assert failures == {} and plan == {"bob": []}
    assert (again.started, again.deadline) == (board.started, board.deadline)
    assert store.active_session("c2").deadline == board.deadline  # type: ignore[union-attr]
    assert states(FakeRunner(store, {})) == {"alice": ("active", ""), "bob": ("active", "")}


def test_an_unfinished_start_is_undone_before_the_student_starts_again(exam_file: Path) -> None:
    store = State()
    FakeRunner(store, {"alice": ["start"], "bob": ["start:unreachable"]}).start(exam_file)
    store.new_session("c2", LAB, "bob", "quiz")  # a start that was killed half-way
    plan: Plan = {"bob": ["reset", "start"]}
    FakeRunner(store, plan).start(exam_file)
    assert plan == {"bob": []}


def test_ctrl_c_while_breaking_puts_every_cluster_back_and_forgets_the_exam(exam_file: Path) -> None:
    store = State()
    plan: Plan = {"alice": ["start", "reset"], "bob": ["start:ctrl-c"]}
    with pytest.raises(Interrupted, match="every cluster it was breaking is back as it was"):
        FakeRunner(store, plan).start(exam_file)
    assert plan == {"alice": [], "bob": []}  # alice's cluster was broken, then put back
    assert [(s.student, s.status) for s in store.sessions()] == [("alice", "closed")]
    assert store.exams() == []  # the same exam file starts afresh
    FakeRunner(store, {"alice": ["start"], "bob": ["start"]}).start(exam_file)
    assert store.exam("quiz")["started"] is not None  # type: ignore[index]


def test_end_grades_once_more_resets_everyone_and_later_grades_do_not_count(exam_file: Path) -> None:
    store = State()
    FakeRunner(store, {"alice": ["start"], "bob": ["start"]}).start(exam_file)
    FakeRunner(store, {"alice": ["grade:pass"], "bob": ["grade:fail"]}).status(grade=True)
    plan: Plan = {"alice": ["grade:pass", "reset"], "bob": ["grade:fail", "reset:fails"]}
    board = FakeRunner(store, plan).end()
    assert plan == {"alice": [], "bob": []} and board.ended is not None
    seats = {s.student: s for s in board.seats}
    assert seats["alice"].passed and seats["alice"].state == "closed"
    assert seats["bob"].passed is False and seats["bob"].detail.startswith("reset failed (node cp1 unreachable)")

    # bob's cluster still has his lab: ending again only resets what is left
    plan = {"bob": ["reset"]}
    board = FakeRunner(store, plan).end("quiz")
    assert plan == {"bob": []}
    assert {s.student: s.detail for s in board.seats} == {"alice": "", "bob": "routes: no endpoints"}
    with pytest.raises(BreakfixError, match="has ended already and left nothing to reset"):
        FakeRunner(store, {}).end("quiz")

    # a grade taken after the end (say a student's `lab grade`) does not change the report
    (bob,) = [s for s in store.exam_sessions("quiz") if s.student == "bob"]
    store.add_grade(bob.id, 2, 2, True, [CheckResult("pass", "fine", name="routes", weight=2).as_dict()])
    assert {s.student: s.passed for s in FakeRunner(store, {}).board("quiz").seats} == {"alice": True, "bob": False}


def test_end_keep_leaves_the_clusters_and_a_second_end_resets_them(exam_file: Path) -> None:
    store = State()
    FakeRunner(store, {"alice": ["start"], "bob": ["start"]}).start(exam_file)
    board = FakeRunner(store, {"alice": ["grade:pass"], "bob": ["grade:fail"]}).end(keep=True)  # no reset planned
    assert [(s.state, s.detail) for s in board.seats] == [("solved", ""), ("active", "routes: no endpoints")]
    plan: Plan = {"alice": ["reset"], "bob": ["reset"]}
    FakeRunner(store, plan).end("quiz")
    assert plan == {"alice": [], "bob": []}


def test_a_grade_after_the_deadline_is_marked(exam_file: Path) -> None:
    store = State()
    FakeRunner(store, {"alice": ["start"], "bob": ["start:unreachable"]}).start(exam_file)
    store.update_exam("quiz", started=time.time() - 601)  # the 10 minutes ran out a second ago
    FakeRunner(store, {"alice": ["grade:pass"]}).status(grade=True)
    seat = FakeRunner(store, {}).board("quiz").seats[0]
    assert seat.late and seat.as_dict()["graded_after_deadline"] is True
    assert "| alice | c1 | svc-wrong-selector | fixed (graded after the deadline) | 100% | 1/1 |" in markdown(
        FakeRunner(store, {}).board("quiz")
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_files_are_checked_before_anything_is_graded(
    capsys: pytest.CaptureFixture[str], exam_file: Path, tmp_path: Path
) -> None:
    store = State()
    FakeRunner(store, {"alice": ["start"], "bob": ["start:unreachable"]}).start(exam_file)
    code, out, err = run(capsys, "exam", "end", "--report", str(tmp_path / "missing" / "r.md"))
    assert code == 2 and out == "" and "folder" in err and "does not exist" in err
    assert store.exam("quiz")["ended"] is None  # type: ignore[index]
    junit = tmp_path / "r.xml"
    code, out, _ = run(capsys, "exam", "report", "--junit", str(junit))
    text = junit.read_text()
    assert code == 0 and 'name="quiz.bob"' in text and "never graded (not started): cannot reach" in text


def test_a_stored_exam_this_version_cannot_read_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    store = State()
    store.add_exam("old", "/exams/old.yaml", {"name": "old", "shape": "from another version"})
    code, _, err = run(capsys, "exam", "status", "old")
    assert code == 1 and err.strip() == "lab: exam old: the stored exam file cannot be read by this version of breakfix"
    code, out, _ = run(capsys, "exam", "list")
    assert code == 0 and "old" in out and "cannot be read" in out
