"""`lab exam`: timed sessions for a class, one lab per student on the student's own cluster."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breakfix.cli.output import emit_json, say, table
from breakfix.state import SessionStatus

if TYPE_CHECKING:
    from breakfix.exam.session import Board, ExamRunner
    from breakfix.results import GradeReport

exam_app = typer.Typer(
    help="Timed exams for a class: every student gets a lab on their own cluster; one clock, one report.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _complete_exam(incomplete: str) -> list[str]:
    from breakfix.state import State

    return [name for name in State().exams() if name.startswith(incomplete)]


NameArg = Annotated[
    str | None,
    typer.Argument(help="Exam name (default: the running or newest exam).", autocompletion=_complete_exam),
]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="Also write the report as Markdown here.")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here (a suite per student).")]

_STATE_STYLE = {
    SessionStatus.solved: "[green]solved[/green]",
    SessionStatus.aborted: "[red]aborted[/red]",
    "not started": "[red]not started[/red]",
}


def _runner() -> ExamRunner:
    from breakfix.exam.session import ExamRunner

    return ExamRunner(log=say)


def _writable(*paths: Path | None) -> None:
    """Refuse report paths that cannot be written before any cluster is graded or reset."""
    from breakfix.errors import UsageError

    for path in paths:
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"cannot write {path}: folder {path.parent} does not exist")


def _write(path: Path, text: str) -> None:
    from breakfix.errors import BreakfixError

    try:
        path.write_text(text)
    except OSError as exc:
        raise BreakfixError(f"cannot write {path}: {exc.strerror}") from None


def _junit_suites(board: Board) -> list[tuple[str, GradeReport]]:
    """A suite per student; one who was never graded gets a suite with one error saying why."""
    from breakfix.results import CheckResult, GradeReport

    suites = []
    for s in board.seats:
        report = s.report or GradeReport(
            s.lab,
            [CheckResult("error", f"never graded ({s.state}){': ' + s.detail if s.detail else ''}", name="graded")],
        )
        suites.append((f"{board.name}.{s.student}", report))
    return suites


def _show(board: Board, json_out: bool, report: Path | None = None, junit: Path | None = None) -> None:
    if json_out:
        emit_json(board.as_dict())
    else:
        rows = [
            [
                s.student,
                s.cluster,
                s.lab,
                _STATE_STYLE.get(s.state, s.state),
                "-" if s.score is None else f"{s.score:g}%" + (" (late)" if s.late else ""),
                s.checks,
                s.detail,
            ]
            for s in board.seats
        ]
        table(
            f"exam {board.name}: {board.passed}/{len(board.seats)} fixed; time left {board.time_left}",
            ["STUDENT", "CLUSTER", "LAB", "STATE", "SCORE", "CHECKS", "DETAIL"],
            rows,
        )
    if report is not None:
        from breakfix.exam.report import markdown

        _write(report, markdown(board))
    if junit is not None:
        from breakfix.cli.junit import junit_xml

        _write(junit, junit_xml(_junit_suites(board)))


@exam_app.command("start")
def exam_start(
    exam_file: Annotated[Path, typer.Argument(help="The exam file: name, duration, labs, students and clusters.")],
    json_out: JsonOpt = False,
) -> None:
    """Break every student's cluster at once and start the clock (run it again to retry those that failed)."""
    board, failures = _runner().start(exam_file)
    _show(board, json_out)
    if failures:
        say(f"{len(failures)} student(s) not started; fix what the board says and run `lab exam start` again")
        raise typer.Exit(1)


@exam_app.command("status")
def exam_status(
    name: NameArg = None,
    grade: Annotated[bool, typer.Option("--grade", help="Grade every running lab first (students see nothing).")] = (
        False
    ),
    watch: Annotated[
        float | None, typer.Option("--watch", min=5, help="Show the board again every SECONDS until Ctrl-C.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The board: each student's lab, state and latest score, and the time left."""
    runner = _runner()
    if watch is None:
        _show(runner.status(name, grade), json_out)
        return
    try:
        while True:
            board = runner.status(name, grade)
            _show(board, json_out)
            if board.ended is not None or board.passed == len(board.seats):
                return
            time.sleep(watch)
    except KeyboardInterrupt:
        say("stopped watching; the exam goes on")


@exam_app.command("end")
def exam_end(
    name: NameArg = None,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the clusters as the students left them.")] = False,
    report: ReportOpt = None,
    junit: JunitOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Grade everyone one last time, stop the clock, reset every cluster and print the report."""
    _writable(report, junit)
    _show(_runner().end(name, keep), json_out, report, junit)


@exam_app.command("report")
def exam_report(
    name: NameArg = None,
    report: ReportOpt = None,
    junit: JunitOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print (and write) an exam's report again, from the grades breakfix kept."""
    _writable(report, junit)
    runner = _runner()
    _show(runner.status(name), json_out, report, junit)


@exam_app.command("list")
def exam_list(json_out: JsonOpt = False) -> None:
    """Every exam breakfix remembers, newest first."""
    from breakfix.errors import BreakfixError

    runner = _runner()
    rows: list[dict[str, object]] = []
    for name in runner.store.exams():
        try:
            summary = runner.board(name).as_dict()
            rows.append({**summary, "students": len(summary["students"])})
        except BreakfixError as exc:
            rows.append({"exam": name, "error": str(exc)})
    if json_out:
        emit_json(rows)
        return
    if not rows:
        print("no exams yet: `lab exam start EXAM.yaml` starts one")
        return
    table(
        "exams",
        ["NAME", "STUDENTS", "FIXED", "TIME LEFT"],
        [
            [
                str(r["exam"]),
                str(r.get("students", "?")),
                str(r.get("passed", "?")),
                str(r.get("time_left", r.get("error"))),
            ]
            for r in rows
        ],
    )


@exam_app.command("schema")
def exam_schema() -> None:
    """Print the JSON Schema of exam files (for editor completion)."""
    import json

    from breakfix.exam.model import ExamFile

    print(json.dumps(ExamFile.model_json_schema(by_alias=True), indent=2))
