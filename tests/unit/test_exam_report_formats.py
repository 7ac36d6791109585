"""The exam report as HTML and CSV besides Markdown: the same rows, chosen by the file's extension, escaped."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from breakfix.exam.board import Board
from breakfix.exam.report import csv_text, html_page, markdown, render
from breakfix.exam.session import ExamRunner
from breakfix.state import State
from tests.exam_fakes import EXAM, exam_with_grades, exam_with_tasks


def board() -> Board:
    store = State()
    exam_with_grades(store)
    return ExamRunner(store).board(EXAM)


class Cells(HTMLParser):
    """The text of every table cell, row by row, and whether any script or outside resource is in the page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.active = False
        self.fetches = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.active = True
            self.rows[-1].append("")
        elif tag in ("script", "link", "img", "iframe") or any(k in ("src", "href") for k, _v in attrs):
            self.fetches = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.active = False

    def handle_data(self, data: str) -> None:
        if self.active:
            self.rows[-1][-1] += data


def test_csv_and_html_hold_the_markdown_reports_rows() -> None:
    b = board()
    rows = list(csv.reader(io.StringIO(csv_text(b))))
    assert rows[0][:4] == ["Student", "Cluster", "Lab", "Result"] and len(rows) == 1 + len(b.seats)
    assert [r[0] for r in rows[1:]] == [s.student for s in b.seats]
    assert rows[1][3] == "fixed" and rows[1][4] == "100%"
    page = Cells()
    page.feed(html_page(b))
    assert page.rows[: len(rows)] == rows and not page.fetches  # one self-contained page, the same cells
    # then the class's view per task: who had it, who fixed it, which checks most of them failed
    assert page.rows[len(rows) :] == [
        ["Lab", "Students", "Fixed", "Checks most often failing (students)"],
        ["svc-wrong-selector", "1", "1", "-"],
        ["coredns-scaled-down", "1", "0", "dns answers (1/1)"],
        ["etcd-datadir", "1", "0", "-"],
    ]
    assert "| coredns-scaled-down | 1 | 0 | dns answers (1/1) |" in markdown(b)
    for row in rows[1:]:
        assert "| " + " | ".join(row) + " |" in markdown(b)


def test_what_students_typed_cannot_become_markup_or_a_spreadsheet_formula() -> None:
    b = board()
    b.seats[0].student = "<script>alert(1)</script>"
    b.seats[1].detail = '=HYPERLINK("http://x")|a'
    text = html_page(b)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    rows = list(csv.reader(io.StringIO(csv_text(b))))
    assert rows[2][7] == '\'=HYPERLINK("http://x")|a'  # read as text, not run
    assert '=HYPERLINK("http://x")\\|a' in markdown(b)  # the table's pipe escaped


@pytest.mark.usefixtures("wall")  # the time left is read twice below: the clock must not move in between
def test_the_files_extension_picks_the_format(tmp_path: Path) -> None:
    b = board()
    assert json.loads(render(b, tmp_path / "r.json")) == json.loads(json.dumps(b.as_dict()))
    assert render(b, tmp_path / "r.HTML").startswith("<!DOCTYPE html>")
    assert render(b, tmp_path / "r.csv").startswith("Student,Cluster,Lab,")
    assert render(b, tmp_path / "r.md") == render(b, tmp_path / "report") == markdown(b)


def test_several_tasks_per_student_are_scored_against_the_pass_mark() -> None:
    store = State()
    exam_with_tasks(store)
    b = ExamRunner(store).board("cka")
    assert [(s.student, s.task, s.cluster, s.lab) for s in b.seats][2:4] == [
        ("alice", 3, "a3", "etcd-datadir"),
        ("bob", 1, "b1", "svc-wrong-selector"),  # labs dealt in turn across the class
    ]
    assert [(r.student, r.score, r.passed, r.fixed) for r in b.students()] == [
        ("alice", 66.7, True, 2),
        ("bob", 50.0, False, 1),
    ]
    rows = list(csv.reader(io.StringIO(csv_text(b))))
    assert rows[0][:3] == ["Student", "Task", "Cluster"] and rows[3][:5] == [
        "alice",
        "3",
        "a3",
        "etcd-datadir",
        "not fixed",
    ]
    page = Cells()
    page.feed(html_page(b))
    assert page.rows[:3] == [
        ["Student", "Score", "Tasks fixed", "Result"],
        ["alice", "66.7%", "2/3", "passed"],
        ["bob", "50%", "1/2", "not passed"],
    ]
    assert "1 of 2 students passed (pass mark 60%); 3 of 5 tasks fixed." in markdown(b)
