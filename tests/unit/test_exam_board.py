"""Instructor controls (pause, resume, extra time) and the terminal board (real store, fake time, no cluster)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from breakfix.catalog import Catalog
from breakfix.cli.exam import Grading, board_view
from breakfix.cli.main import main
from breakfix.clock import CLOCK
from breakfix.errors import BreakfixError
from breakfix.exam.board import Board
from breakfix.exam.model import ExamFile
from breakfix.exam.report import markdown
from breakfix.exam.session import ExamRunner
from breakfix.state import State
from tests.exam_fakes import EXAM, SPEC, SPOILERS, TITLES, bob_fixes_it, exam_with_grades
from tests.unit.conftest import Wall
from tests.unit.test_exam_runs import FakeRunner, exam_file  # noqa: F401 - exam_file is a fixture


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def text_of(renderable: object, width: int = 200) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(renderable)
    return buf.getvalue()


# the clock's controls, through the runner ---------------------------------------------------------
def test_pause_freezes_everyones_time_and_resume_moves_every_deadline(wall: Wall) -> None:
    store = State()
    sessions = exam_with_grades(store)  # started 10 minutes ago, 30 minutes long
    runner = ExamRunner(store)
    started = store.exam(EXAM)["started"]  # type: ignore[index]
    board = runner.pause(EXAM)
    assert board.paused_since == wall.now and board.time_left == "20m (paused)"
    wall.advance(300)
    bob_fixes_it(store, sessions)  # graded during the pause: it counts, and is marked
    board = runner.board(EXAM)
    assert board.time_left == "20m (paused)" and board.as_dict()["paused"] is True
    bob = board.seats[1]
    assert bob.paused_grade and bob.passed and bob.left == pytest.approx(1200)
    assert "100% (paused)" in text_of(board_view(board))

    board = runner.resume(EXAM)
    assert board.paused_since is None and board.time_left == "20m"
    assert store.exam(EXAM)["deadline"] == pytest.approx(started + 1800 + 300)  # type: ignore[index]
    for sid in sessions.values():  # `lab --cluster C status` shows the same clock
        assert store.session(sid).deadline == pytest.approx(started + 1800 + 300)
    wall.advance(60)
    board = runner.board(EXAM)
    assert board.time_left == "19m" and board.seats[1].solved_in == pytest.approx(600, abs=1)  # the pause not counted
    assert [c["action"] for c in board.as_dict()["controls"]] == ["pause", "resume"]
    text = text_of(board_view(board))
    assert "paused the class clock" in text and "resumed the class clock after 5m" in text
    report = markdown(board)
    assert "paused the class clock; " in report and "resumed the class clock after 5m.\n" in report
    assert "Clock: " not in markdown(Board(EXAM, None, None, None))  # no changes, no line


def test_extra_time_moves_one_students_deadline_and_when_a_grade_is_late(wall: Wall) -> None:
    store = State()
    sessions = exam_with_grades(store, started_ago=1900)  # the 30 minutes ran out 100 s ago
    runner = ExamRunner(store)
    started = store.exam(EXAM)["started"]  # type: ignore[index]
    board = runner.extend(EXAM, "bob", 600)
    runner.extend(EXAM, "bob", 300)  # adds up
    bob_fixes_it(store, sessions)
    alice, bob, _carol = runner.board(EXAM).seats
    assert (bob.extra, alice.extra) == (900, 0) and bob.left == pytest.approx(800)
    assert alice.late and not bob.late  # alice's grade came after her time; bob's within his
    assert store.session(sessions["bob"]).deadline == pytest.approx(started + 1800 + 900)
    assert store.session(sessions["alice"]).deadline == pytest.approx(started + 1800)
    assert board.time_left == "over by 1m40s"
    text = text_of(board_view(runner.board(EXAM)))
    assert "13m20s (+15m)" in text and "gave bob 10m more" in text and "gave bob 5m more" in text


def test_a_student_started_after_a_pause_gets_the_class_deadline(exam_file: Path, wall: Wall) -> None:  # noqa: F811
    store = State()
    FakeRunner(store, {"alice": ["start"], "bob": ["start:unreachable"]}).start(exam_file)
    runner = ExamRunner(store)
    runner.pause("quiz")
    wall.advance(120)
    runner.resume("quiz")
    runner.extend("quiz", "alice", 60)
    FakeRunner(store, {"bob": ["start"]}).start(exam_file)
    started = store.exam("quiz")["started"]  # type: ignore[index]
    assert store.active_session("c2").deadline == pytest.approx(started + 600 + 120)  # type: ignore[union-attr]
    assert store.active_session("c1").deadline == pytest.approx(started + 600 + 120 + 60)  # type: ignore[union-attr]


def test_controls_from_the_command_line(capsys: pytest.CaptureFixture[str], wall: Wall) -> None:
    exam_with_grades(State())
    code, out, err = run(capsys, "exam", "extend", EXAM, "bob", "10m", "--json")
    bob = json.loads(out)["students"][1]
    assert code == 0 and bob["extra_seconds"] == 600 and bob["time_left_seconds"] == pytest.approx(1800)
    assert "bob has 10m more" in err
    code, out, _ = run(capsys, "exam", "pause")
    assert code == 0 and "time left 20m (paused)" in out and "paused since" in out
    code, out, _ = run(capsys, "exam", "status", "--json")
    assert json.loads(out)["paused"] is True and json.loads(out)["controls"][0]["student"] == "bob"
    wall.advance(30)
    code, out, _ = run(capsys, "exam", "resume", EXAM)
    assert code == 0 and "time left 20m" in out and "resumed the class clock after 30s" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("exam", "resume"), 1, "lab: exam week-1 is not paused: its clock is running"),
        (("exam", "extend", EXAM, "bobb", "10m"), 2, "lab: no student 'bobb' in exam week-1 (students: alice, bob,"),
        (("exam", "extend", EXAM, "bob", "soon"), 2, "lab: extra time: 'soon' is not a duration"),
        (("exam", "extend", EXAM, "bob", "0"), 2, "lab: extra time must be more than 0 and at most 24h00m, not 0s"),
        (("exam", "extend", EXAM, "bob", "25h"), 2, "lab: extra time must be more than 0 and at most 24h00m"),
        (("exam", "extend", "week-9", "bob", "10m"), 1, "lab: no exam named 'week-9' (known: week-1)"),
        (("exam", "board", "--port", "9000"), 2, "lab: --port is for the web board: add --web"),
        (("exam", "board", "--every", "10"), 2, "lab: --every is how often --grade grades: add --grade"),
        (("exam", "board"), 2, "lab: lab exam board redraws a terminal and this output is not one: `lab exam status"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, message: str
) -> None:
    exam_with_grades(State())
    got, out, err = run(capsys, *args)
    assert (got, out) == (code, "") and err.startswith(message) and len(err.strip().splitlines()) == 1, err


def test_pausing_twice_before_the_start_or_after_the_end_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    store = State()
    exam_with_grades(store)
    assert run(capsys, "exam", "pause")[0] == 0
    code, _, err = run(capsys, "exam", "pause")
    assert code == 1 and "is paused already (since " in err and "`lab exam resume week-1`" in err
    store.update_exam(EXAM, ended=CLOCK.wall())
    for verb, what in (("pause", "be paused"), ("resume", "be resumed")):
        code, _, err = run(capsys, "exam", verb, EXAM)
        assert code == 1 and err.strip() == f"lab: exam week-1 has ended: its clock cannot {what}"
    code, _, err = run(capsys, "exam", "extend", EXAM, "bob", "5m")
    assert code == 1 and "has ended: its clock cannot give extra time" in err
    code, _, err = run(capsys, "exam", "board", "--grade")
    assert code == 1 and "has ended: its grades are final (drop --grade)" in err
    fresh = {**SPEC, "name": "week-2"}
    store.add_exam("week-2", "/exams/week-2.yaml", ExamFile.model_validate(fresh).model_dump(mode="json"))
    code, _, err = run(capsys, "exam", "pause", "week-2")
    assert code == 1 and "exam week-2 has not started: there is no clock to pause yet" in err


# the terminal board ---------------------------------------------------------------------------------
def test_the_class_board_shows_titles_and_never_what_is_broken() -> None:
    store = State()
    exam_with_grades(store)
    board = ExamRunner(store).board(EXAM)
    public = text_of(board_view(board, TITLES, footer="Ctrl-C stops the board"))
    for title in TITLES.values():
        assert title in public
    for spoiler in (*SPOILERS, " c1 ", " c2 "):
        assert spoiler not in public
    assert "TASK" in public and "TIME LEFT" in public and "HINTS" in public and "Ctrl-C stops the board" in public
    status = text_of(board_view(board))  # the instructor's own view keeps the detail
    assert "svc-wrong-selector" in status and "no endpoints" in status and "DETAIL" in status


def test_the_terminal_board_redraws_itself_until_ctrl_c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, wall: Wall, shared_catalog: Catalog
) -> None:
    store = State()
    sessions = exam_with_grades(store)
    screen = io.StringIO()
    monkeypatch.setattr(
        "breakfix.cli.exam.console", lambda: Console(file=screen, force_terminal=True, width=160, color_system=None)
    )
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            bob_fixes_it(store, sessions)
        if len(slept) == 4:
            raise KeyboardInterrupt
        wall.advance(seconds)

    monkeypatch.setattr(CLOCK, "sleep", sleep)
    code, _, err = run(capsys, "exam", "board")
    drawn = screen.getvalue()
    assert code == 0 and "stopped the board; the exam goes on" in err
    assert slept == [1.0] * 4
    first, last = drawn.index("1/3 fixed"), drawn.rindex("2/3 fixed")
    assert first < last and "time left 20m" in drawn[:last] and "time left 19m57s" in drawn[last:]
    assert "Nobody answers DNS" in drawn and "not grading" in drawn
    for spoiler in SPOILERS:
        assert spoiler not in drawn


def test_grading_runs_in_the_background_until_the_exam_ends() -> None:
    class Runner:
        calls = 0

        def status(self, name: str, grade: bool = False) -> None:
            assert (name, grade) == (EXAM, True)
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("store busy")
            if self.calls == 3:
                raise BreakfixError(f"exam {EXAM} has ended: its grades are final")

    runner = Runner()
    grading = Grading(runner, EXAM, every=0.01).start()  # type: ignore[arg-type]
    grading._thread.join(timeout=10)
    assert runner.calls == 3 and not grading._thread.is_alive()
    assert "has ended" in grading.status() and "graded every 0.01s" in grading.status()


def test_the_web_board_without_its_extra_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, shared_catalog: Catalog
) -> None:
    exam_with_grades(State())
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.delitem(sys.modules, "breakfix.exam.web", raising=False)
    code, _, err = run(capsys, "exam", "board", "--web")
    assert code == 1 and "the web board needs the `board` extra" in err and "pip install 'breakfix[board]'" in err


def test_a_clock_change_this_version_cannot_read_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    store = State()
    exam_with_grades(store)
    store.add_exam_control(EXAM, CLOCK.wall(), "rewind")
    code, _, err = run(capsys, "exam", "status")
    assert code == 1 and err.strip() == (
        "lab: exam week-1: not an exam control: 'rewind'; this version of breakfix cannot read its clock"
    )
