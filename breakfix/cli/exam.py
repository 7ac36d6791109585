"""`lab exam`: timed sessions for a class, one lab per student on the student's own cluster."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breakfix.cli.output import emit_json, say, table

if TYPE_CHECKING:
    from breakfix.exam.session import Board, ExamRunner

exam_app = typer.Typer(
    help="Timed exams for a class: every student gets a lab on their own cluster; one clock, one report.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
NameArg = Annotated[str | None, typer.Argument(help="Exam name (default: the running or newest exam).")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="Also write the report as Markdown here.")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here (a suite per student).")]

_STATE_STYLE = {
    "solved": "[green]solved[/green]",
    "aborted": "[red]aborted[/red]",
    "not started": "[red]not started[/red]",
}


def _runner() -> ExamRunner:
    from breakfix.exam.session import ExamRunner

    return ExamRunner(log=say)


def _show(board: Board, json_out: bool, report: Path | None = None, junit: Path | None = None) -> None:
    from breakfix.exam.report import markdown

    if report is not None:
        report.write_text(markdown(board))
    if junit is not None:
        from breakfix.cli.junit import write_junit_suites

        write_junit_suites([(f"{board.name}.{s.student}", s.report) for s in board.seats if s.report], junit)
    if json_out:
        emit_json(board.as_dict())
        return
    rows = [
        [
            s.student,
            s.cluster,
            s.lab,
            _STATE_STYLE.get(s.state, s.state),
            "-" if s.score is None else f"{s.score:g}%",
            s.detail,
        ]
        for s in board.seats
    ]
    passed = sum(1 for s in board.seats if s.passed)
    table(
        f"exam {board.name}: {passed}/{len(board.seats)} fixed; time left {board.time_left}",
        ["STUDENT", "CLUSTER", "LAB", "STATE", "SCORE", "DETAIL"],
        rows,
    )


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
            if board.ended is not None or all(s.passed for s in board.seats):
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
    _show(_runner().end(name, keep), json_out, report, junit)


@exam_app.command("report")
def exam_report(
    name: NameArg = None,
    report: ReportOpt = None,
    junit: JunitOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print (and write) an exam's report again, from the grades breakfix kept."""
    runner = _runner()
    _show(runner.status(name), json_out, report, junit)


@exam_app.command("list")
def exam_list(json_out: JsonOpt = False) -> None:
    """Every exam breakfix remembers, newest first."""
    runner = _runner()
    boards = [runner.board(n) for n in runner.store.exams()]
    if json_out:
        emit_json([{k: v for k, v in b.as_dict().items() if k != "students"} for b in boards])
        return
    if not boards:
        print("no exams yet: `lab exam start EXAM.yaml` starts one")
        return
    table(
        "exams",
        ["NAME", "STUDENTS", "FIXED", "TIME LEFT"],
        [[b.name, str(len(b.seats)), str(sum(1 for s in b.seats if s.passed)), b.time_left] for b in boards],
    )
