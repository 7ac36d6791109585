"""Exams: the exam file, who gets which lab, the board and the report (no cluster is touched here)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from breakfix.cli.main import main
from breakfix.errors import BreakfixError
from breakfix.exam.board import Board, Seat
from breakfix.exam.model import ExamFile, assignments
from breakfix.exam.report import markdown
from breakfix.exam.session import ExamRunner
from breakfix.state import State

GOOD = {
    "name": "week-1",
    "duration": "30m",
    "labs": ["svc-wrong-selector", "coredns-scaled-down"],
    "students": [
        {"name": "alice", "cluster": "c1"},
        {"name": "bob", "cluster": "c2"},
        {"name": "carol", "cluster": "c3", "lab": "etcd-datadir"},
        {"name": "dan", "cluster": "c4"},
    ],
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "exam.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def with_students(**changes: object) -> dict[str, object]:
    return {**GOOD, **changes}


def test_labs_are_dealt_in_turn_unless_a_student_has_one() -> None:
    dealt = assignments(ExamFile.model_validate(GOOD))
    assert [(a.student, a.cluster, a.lab) for a in dealt] == [
        ("alice", "c1", "svc-wrong-selector"),
        ("bob", "c2", "coredns-scaled-down"),
        ("carol", "c3", "etcd-datadir"),
        ("dan", "c4", "svc-wrong-selector"),
    ]
    assert ExamFile.model_validate(GOOD).duration == 1800


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("name: [unclosed\n", "exam.yaml: line 2: not valid YAML"),
        ("- a list\n", "exam.yaml: an exam file must be a YAML mapping"),
        (with_students(durration="5m"), "exam.yaml: durration: Extra inputs are not permitted"),
        (with_students(duration="soon"), "exam.yaml: duration:"),
        (with_students(labs=[]), "exam.yaml: (top): Value error, `labs` needs at least one lab"),
        (with_students(name="Week 1"), "exam.yaml: name: String should match pattern"),
        (
            with_students(students=[{"name": "a", "cluster": "c1"}, {"name": "b", "cluster": "c1"}]),
            "exam.yaml: students[1].cluster: 'c1' is the cluster of students[0]",
        ),
        (
            with_students(students=[{"name": "a", "clusters": ["c1", "c2"]}, {"name": "b", "clusters": ["c3", "c2"]}]),
            "exam.yaml: students[1].clusters: 'c2' is the cluster of students[0]",
        ),
        (
            with_students(students=[{"name": "a", "cluster": "c1", "clusters": ["c2"]}]),
            "exam.yaml: students.0: Value error, give either `cluster` (one) or `clusters`",
        ),
        (
            with_students(students=[{"name": "a", "clusters": ["c1", "c2"], "labs": ["svc-selector"]}]),
            "exam.yaml: students.0: Value error, `labs` names 1 lab(s) for 2 cluster(s)",
        ),
        (
            with_students(students=[{"name": "a", "clusters": ["c1", "c2"], "lab": "svc-selector"}]),
            "exam.yaml: students.0: Value error, `lab` goes with `cluster`",
        ),
        (
            with_students(labs=["svc-selector"], students=[{"name": "a", "clusters": ["c1", "c2"]}]),
            "exam.yaml: students[0]: a would get lab svc-selector 2 times",
        ),
        (
            with_students(students=[{"name": "a", "cluster": "c1"}, {"name": "a", "cluster": "c2"}]),
            "exam.yaml: students[1].name: 'a' is already students[0]",
        ),
        (
            with_students(students=[{"name": "a", "clustr": "c1"}]),
            "exam.yaml: students.0.clustr: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_exam_file_gets_one_line_naming_file_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: object, expected: str
) -> None:
    code, out, err = run(capsys, "exam", "start", str(write(tmp_path, data)))
    assert code == 1 and out == ""
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert State().exams() == []


def test_unknown_lab_and_unregistered_cluster_are_refused_before_anything_breaks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = State()
    for name in ("c1", "c2", "c3", "c4"):
        store.add_cluster(name, f"/nowhere/{name}.yaml", "inventory", "m")
    code, _, err = run(capsys, "exam", "start", str(write(tmp_path, with_students(labs=["svc-wrong-selectr"]))))
    assert code == 1 and "exam.yaml: labs[0]: no lab named 'svc-wrong-selectr'. Did you mean: svc-wrong-selector" in err
    bad_student = [*GOOD["students"][:2], {"name": "carol", "cluster": "c3", "lab": "etcd-datadri"}]  # type: ignore[index]
    code, _, err = run(capsys, "exam", "start", str(write(tmp_path, with_students(students=bad_student))))
    assert code == 1 and "exam.yaml: students[2].lab: no lab named 'etcd-datadri'" in err
    store.remove_cluster("c2")
    code, _, err = run(capsys, "exam", "start", str(write(tmp_path, GOOD)))
    assert code == 1 and "exam.yaml: students[1].cluster: 'c2' is not a registered lab cluster" in err
    assert "registered: c1, c3, c4" in err
    assert store.exams() == [] and store.sessions() == []


def _exam_with_grades(store: State) -> None:
    """An exam as the store holds it after a while: alice fixed it, bob has not, carol never started."""
    spec = ExamFile.model_validate({**GOOD, "students": GOOD["students"][:3]}).model_dump(mode="json")  # type: ignore[index]
    store.add_exam("week-1", "/exams/week-1.yaml", spec)
    now = time.time()
    store.update_exam("week-1", started=now - 600, deadline=now + 1200)
    alice = store.new_session("c1", "svc-wrong-selector", "alice", "week-1")
    bob = store.new_session("c2", "coredns-scaled-down", "bob", "week-1")
    store.update_session(alice.id, status="solved", started=now - 600)
    store.update_session(bob.id, status="active", started=now - 600, hints_used=1)
    fail = {
        "status": "fail",
        "message": "no endpoints | none",
        "hint": "",
        "name": "routes",
        "weight": 2,
        "seconds": 0.1,
    }
    ok = {**fail, "status": "pass", "message": "fine"}
    store.add_grade(alice.id, 0, 2, False, [fail])
    store.add_grade(alice.id, 2, 2, True, [ok])
    store.add_grade(bob.id, 1, 3, False, [fail, {**ok, "name": "untouched", "weight": 1}])  # a guard check passes


def test_the_board_comes_from_the_grades_kept() -> None:
    store = State()
    _exam_with_grades(store)
    board = ExamRunner(store).board("week-1")
    alice, bob, carol = board.seats
    assert (alice.state, alice.passed, alice.score) == ("solved", True, 100.0)
    assert alice.solved_in is not None and 599 <= alice.solved_in <= 601
    assert (bob.state, bob.passed, bob.score, bob.solved_in) == ("active", False, 0.0, None)
    assert bob.detail == "routes: no endpoints | none"
    assert (carol.state, carol.passed, carol.report) == ("not started", None, None)
    assert board.time_left.startswith("19m") or board.time_left.startswith("20m")
    assert board.as_dict()["passed"] == 1


def test_report_markdown_escapes_table_cells() -> None:
    store = State()
    _exam_with_grades(store)
    text = markdown(ExamRunner(store).board("week-1"))
    assert "1 of 3 students fixed their cluster" in text
    assert "| alice | c1 | svc-wrong-selector | fixed | 100% | 1/1 | 10m |  |" in text
    assert "| bob | c2 | coredns-scaled-down | not fixed | 0% | 1/2 | - | routes: no endpoints \\| none |" in text
    assert "| carol | c3 | etcd-datadir | not started | - | - | - |  |" in text


def test_status_list_and_report_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "exam", "status")
    assert code == 1 and "no exam yet" in err
    store = State()
    _exam_with_grades(store)
    code, out, _ = run(capsys, "exam", "status", "--json")
    assert code == 0 and [s["passed"] for s in json.loads(out)["students"]] == [True, False, None]
    code, out, _ = run(capsys, "exam", "list", "--json")
    assert code == 0 and [e["exam"] for e in json.loads(out)] == ["week-1"] and json.loads(out)[0]["passed"] == 1

    def timeless(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in row.items() if not k.startswith("time_left")} for row in rows]

    for argv in (["exam", "list", "-o", "json"], ["-o", "json", "exam", "list"]):  # -o json is --json here
        code, again, _ = run(capsys, *argv)
        assert code == 0 and timeless(json.loads(again)) == timeless(json.loads(out))
    code, as_yaml, _ = run(capsys, "-oyaml", "exam", "list")
    assert code == 0 and timeless(yaml.safe_load(as_yaml)) == timeless(json.loads(out)) and "{" not in as_yaml
    assert json.loads(run(capsys, "exam", "list", "--json")[1])  # the next command prints JSON again
    code, _, err = run(capsys, "exam", "list", "-o", "name")
    assert code == 2 and err == "lab: lab exam list prints -o json or -o yaml (--json), not -o name\n"
    code, _, err = run(capsys, "exam", "status", "week-2")
    assert code == 1 and "no exam named 'week-2' (known: week-1)" in err
    store.update_exam("week-1", ended=time.time())
    code, _, err = run(capsys, "exam", "status", "--grade")
    assert code == 1 and "has ended: its grades are final" in err
    report = tmp_path / "r.md"
    code, out, _ = run(capsys, "exam", "report", "--report", str(report))
    assert code == 0 and "week-1: 1/3 fixed; time left ended" in out and "| alice |" in report.read_text()


def test_the_running_exam_is_the_default_over_a_newer_ended_one() -> None:
    store = State()
    _exam_with_grades(store)
    spec = ExamFile.model_validate({**GOOD, "name": "week-0"}).model_dump(mode="json")
    store.add_exam("week-0", "/exams/week-0.yaml", spec)
    store.update_exam("week-0", ended=time.time())
    runner = ExamRunner(store)
    assert runner.status().name == "week-1"
    with pytest.raises(BreakfixError, match="has ended already"):
        runner.end("week-0")


def test_board_without_a_clock() -> None:
    board = Board("x", None, None, None, [Seat("a", "c", "lab")])
    assert board.time_left == "not started" and board.as_dict()["passed"] == 0
    board.ended = 1.0
    assert board.time_left == "ended"


def test_the_documented_example_exam_loads_and_names_real_labs() -> None:
    from breakfix.catalog import load_catalog
    from breakfix.exam.model import load_exam

    exam = load_exam(Path(__file__).parents[2] / "docs" / "exam.example.yaml")
    catalog = load_catalog()
    assert [(a.student, a.task, a.lab) for a in assignments(exam)] == [
        ("alice", 1, "svc-wrong-selector"),
        ("bob", 1, "coredns-scaled-down"),
        ("carol", 1, "etcd-datadir"),
        ("dan", 1, "kubelet-stopped"),
        ("dan", 2, "svc-wrong-selector"),
        ("erin", 1, "kubelet-stopped"),
        ("erin", 2, "svc-wrong-selector"),
    ]
    for a in assignments(exam):
        catalog.get(a.lab)


def test_watch_stops_by_itself_once_the_exam_has_ended(capsys: pytest.CaptureFixture[str]) -> None:
    store = State()
    _exam_with_grades(store)
    store.update_exam("week-1", ended=time.time())
    code, out, _ = run(capsys, "exam", "status", "--watch", "5")
    assert code == 0 and out.count("week-1: 1/3 fixed") == 1
    code, _, err = run(capsys, "exam", "status", "--watch", "1")
    assert code == 2 and "--watch" in err


def test_exam_names_complete_in_the_shell() -> None:
    from breakfix.cli.exam import _complete_exam

    store = State()
    _exam_with_grades(store)
    assert _complete_exam("we") == ["week-1"] and _complete_exam("x") == []
