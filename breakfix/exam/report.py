"""The exam report an instructor keeps: a Markdown, HTML or CSV table, and a JUnit file with one suite per student."""

from __future__ import annotations

import csv
import html
import io
import json
import time
from pathlib import Path

from breakfix.durations import format_duration
from breakfix.exam.board import Board, Seat
from breakfix.exam.clock import changes
from breakfix.variants import describe


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at)) if at else "-"


def _clock_lines(board: Board) -> list[str]:
    """The instructor's changes to the clock (pauses, extra time), as a paragraph; none without changes."""
    if board.clock is None or not board.controls:
        return []
    return ["Clock: " + "; ".join(f"{_when(at)} {what}" for at, what in changes(board.clock)) + ".", ""]


def _result(s: Seat) -> str:
    result = "fixed" if s.passed else ("not fixed" if s.passed is False else s.state)
    return result + (" (graded after the deadline)" if s.late else "")


def _rows(board: Board) -> tuple[list[str], list[list[str]]]:
    """The report's columns and one row of plain text per student (the Values column only for labs with variables)."""
    varied = any(s.seed is not None for s in board.seats)
    tasks = board.several_tasks
    header = ["Student", *(["Task"] if tasks else []), "Cluster", "Lab", "Result", "Score", "Checks", "Fixed after"]
    header += ["Open checks", *(["Values (seed)"] if varied else [])]
    rows = []
    for s in board.seats:
        row = [
            s.student,
            *([str(s.task)] if tasks else []),
            s.cluster,
            s.lab,
            _result(s),
            f"{s.score:g}%" if s.score is not None else "-",
            s.checks,
            format_duration(s.solved_in) if s.solved_in is not None else "-",
            s.detail.replace("\n", " "),
        ]
        if varied:
            row.append(f"{describe(s.values)} (`lab start {s.lab} --seed {s.seed}`)" if s.seed is not None else "-")
        rows.append(row)
    return header, rows


def _summary(board: Board) -> str:
    when = f"Started {_when(board.started)}, deadline {_when(board.deadline)}, ended {_when(board.ended)}. "
    if not board.several_tasks:
        return when + f"{board.passed} of {len(board.seats)} students fixed their cluster."
    results = board.students()
    passed = sum(1 for r in results if r.passed)
    return when + (
        f"{passed} of {len(results)} students passed (pass mark {board.pass_mark:g}%); "
        f"{board.passed} of {len(board.seats)} tasks fixed."
    )


def _student_rows(board: Board) -> tuple[list[str], list[list[str]]]:
    """Each student's score over their tasks against the pass mark (exams with several tasks per student)."""
    header = ["Student", "Score", "Tasks fixed", "Result"]
    rows = [
        [r.student, f"{r.score:g}%", f"{r.fixed}/{r.tasks}", "passed" if r.passed else "not passed"]
        for r in board.students()
    ]
    return header, rows


def _task_rows(board: Board) -> tuple[list[str], list[list[str]]]:
    """Per lab, for the class: how many had it, how many fixed it, and the checks that most of them failed."""
    header = ["Lab", "Students", "Fixed", "Checks most often failing (students)"]
    by_lab: dict[str, list[Seat]] = {}
    for seat in board.seats:
        by_lab.setdefault(seat.lab, []).append(seat)
    rows = []
    for lab, seats in by_lab.items():
        failing: dict[str, int] = {}
        for seat in seats:
            for check in seat.report.checks if seat.report else []:
                if not check.ok:
                    failing[check.name] = failing.get(check.name, 0) + 1
        top = sorted(failing.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        rows.append(
            [
                lab,
                str(len(seats)),
                str(sum(1 for s in seats if s.passed)),
                "; ".join(f"{name} ({n}/{len(seats)})" for name, n in top) or "-",
            ]
        )
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def markdown(board: Board) -> str:
    """The board as a Markdown report."""
    lines = [f"# Exam {board.name}", "", _summary(board), "", *_clock_lines(board)]
    if board.several_tasks:
        lines += [*_markdown_table(*_student_rows(board)), ""]
        weakest = [f"{d} {score:g}% ({n})" for d, score, n in board.domains()]
        lines += ["By domain, weakest first (mean score, tasks): " + "; ".join(weakest) + ".", ""]
    lines += _markdown_table(*_rows(board))
    lines += ["", "## Per task", "", *_markdown_table(*_task_rows(board))]
    return "\n".join(lines) + "\n"


def csv_text(board: Board) -> str:
    """The board as CSV (one row per student, the Markdown report's columns), for a spreadsheet."""
    header, rows = _rows(board)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:  # a cell a spreadsheet would run as a formula is written as text
        writer.writerow(["'" + cell if cell[:1] in ("=", "+", "-", "@") and cell != "-" else cell for cell in row])
    return out.getvalue()


_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
tr.fixed td.result { color: #176f2c; font-weight: bold; }
tr.not-fixed td.result { color: #a3161b; font-weight: bold; }
"""


def html_page(board: Board) -> str:
    """The board as one self-contained HTML page (no scripts, nothing fetched), to print or to share."""
    header, rows = _rows(board)
    e = html.escape
    clock = "".join(f"<p>{e(line)}</p>" for line in _clock_lines(board) if line)
    body = []
    for s, row in zip(board.seats, rows, strict=True):
        kind = "fixed" if s.passed else ("not-fixed" if s.passed is False else "open")
        result = header.index("Result")
        cells = "".join(
            f'<td class="{"result" if i == result else "c" + str(i)}">{e(cell)}</td>' for i, cell in enumerate(row)
        )
        body.append(f'<tr class="{kind}">{cells}</tr>')
    students = ""
    if board.several_tasks:
        s_header, s_rows = _student_rows(board)
        students = (
            "<table><thead><tr>"
            + "".join(f"<th>{e(h)}</th>" for h in s_header)
            + "</tr></thead>\n<tbody>\n"
            + "\n".join(
                f'<tr class="{"fixed" if r[-1] == "passed" else "not-fixed"}">'
                + "".join(f'<td class="{"result" if i == 3 else "c" + str(i)}">{e(c)}</td>' for i, c in enumerate(r))
                + "</tr>"
                for r in s_rows
            )
            + "\n</tbody></table>\n<p></p>\n"
        )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>Exam {e(board.name)}</title>'
        f"<style>{_STYLE}</style></head><body>\n"
        f"<h1>Exam {e(board.name)}</h1>\n<p>{e(_summary(board))}</p>{clock}\n"
        + students
        + "<table><thead><tr>"
        + "".join(f"<th>{e(h)}</th>" for h in header)
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table>\n"
        + _html_table("Per task", *_task_rows(board))
        + "</body></html>\n"
    )


def _html_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{e(title)}</h2>\n<table><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>\n"


def json_text(board: Board) -> str:
    """The board as JSON (what `--json` prints), for scripts."""
    return json.dumps(board.as_dict(), indent=2) + "\n"


#: The report's format, by the extension of the file it is written to (anything else is Markdown).
FORMATS = {".html": html_page, ".htm": html_page, ".csv": csv_text, ".json": json_text}


def render(board: Board, path: Path) -> str:
    """The report in the format PATH's extension names: .html, .csv or .json, else Markdown."""
    return FORMATS.get(path.suffix.lower(), markdown)(board)
