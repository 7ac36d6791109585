"""`lab exam`: timed sessions for a class, one lab per student on the student's own cluster."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from breakfix.cli.output import console, emit_json, say, table
from breakfix.state import SessionStatus

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from breakfix.exam.board import Board, Seat
    from breakfix.exam.session import ExamRunner
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
BOARD_REFRESH = 1.0  # seconds between redraws of `lab exam board` (it reads the store; the clusters are not touched)
WEB_PORT = 8765
GRADE_EVERY = 60.0  # seconds between gradings of `lab exam board --grade`
ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report", help="Also write the report here: HTML or CSV when the file ends in .html or .csv, else Markdown."
    ),
]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here (a suite per student).")]

_STATE_STYLE = {
    SessionStatus.solved: "[green]solved[/green]",
    SessionStatus.aborted: "[red]aborted[/red]",
    "not started": "[red]not started[/red]",
}


def _runner(log: Callable[[str], None] | None = say) -> ExamRunner:
    from breakfix.exam.session import ExamRunner

    return ExamRunner(log=log)


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
        task = f".task{s.task}" if board.several_tasks else ""
        suites.append((f"{board.name}.{s.student}{task}", report))
    return suites


def _hhmm(at: float) -> str:
    return time.strftime("%H:%M", time.localtime(at))


def _score(s: Seat) -> str:
    if s.score is None:
        return "-"
    return f"{s.score:g}%" + (" (late)" if s.late else "") + (" (paused)" if s.paused_grade else "")


def _left(board: Board, s: Seat) -> str:
    from breakfix.durations import format_duration

    if s.left is None or board.ended is not None:
        return "-"
    text = format_duration(s.left) if s.left >= 0 else f"over by {format_duration(-s.left)}"
    return text + (f" (+{format_duration(s.extra)})" if s.extra else "")


def controls_lines(board: Board) -> list[str]:
    """What the instructor did to the clock, one line each: `10:05 paused the class clock`."""
    from breakfix.exam.clock import changes

    if board.clock is None:
        return []
    lines = [f"{_hhmm(at)} {what}" for at, what in changes(board.clock)]
    if board.paused_since is not None:
        lines.append(f"paused since {_hhmm(board.paused_since)}: time left is frozen; `lab exam resume` runs it again")
    return lines


def board_view(board: Board, titles: Mapping[str, str] | None = None, footer: str = "") -> RenderableType:
    """The board as `lab exam status` draws it; with TITLES, as the class may see it (`lab exam board`).

    With TITLES a lab shows by its title and a seat by its state, score and checks: no lab id, cluster or
    check message (those give the fault away).
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if titles is None and board.hidden:  # a running mock exam: the student reads it; titles and clusters only
        titles = {s.lab: s.title for s in board.seats}
    public = titles is not None
    numbered = board.several_tasks
    where_cols = ["#", "TASK", "CLUSTER"] if board.hidden else ["TASK"]
    columns = ["STUDENT", *where_cols] if public else ["STUDENT", *(["#"] if numbered else []), "CLUSTER", "LAB"]
    columns += ["STATE", "SCORE", "CHECKS", "TIME LEFT", "HINTS"] + ([] if public else ["DETAIL"])
    table = Table(
        title=f"exam {board.name}: {board.passed}/{len(board.seats)} fixed; time left {board.time_left}",
        title_justify="left",
    )
    for col in columns:
        table.add_column(col, overflow="fold")
    for s in board.seats:
        if titles is None:
            where = [*([str(s.task)] if numbered else []), s.cluster, s.lab]
        elif board.hidden:
            where = [str(s.task), titles.get(s.lab) or s.title or "-", s.cluster]
        else:
            where = [titles.get(s.lab) or "-"]
        cells = [_STATE_STYLE.get(s.state, s.state), _score(s), s.checks, _left(board, s), str(s.hints)]
        table.add_row(s.student, *where, *cells, *([] if public else [s.detail]))
    parts: list[RenderableType] = [table]
    if numbered:
        results = [
            f"{r.student} {r.score:g}% ({r.fixed}/{r.tasks} fixed{', passed' if r.passed else ''})"
            for r in board.students()
        ]
        parts.append(Text(f"scores (pass mark {board.pass_mark:g}%): " + "; ".join(results)))
        if not board.hidden:
            weakest = [f"{d} {score:g}% ({n} task{'s' if n > 1 else ''})" for d, score, n in board.domains()]
            parts.append(Text("by domain, weakest first: " + "; ".join(weakest)))
    changes = controls_lines(board)
    if changes:
        parts.append(Text("\n".join(["clock:", *(f"  {line}" for line in changes)])))
    if footer:
        parts.append(Text(footer, style="dim"))
    return Group(*parts)


def _show(board: Board, json_out: bool, report: Path | None = None, junit: Path | None = None) -> None:
    if board.hidden and (report is not None or junit is not None):
        from breakfix.errors import UsageError

        raise UsageError(f"mock exam {board.name} is running: its report names the labs, so it is written at the end")
    if json_out:
        emit_json(board.as_dict())
    else:
        console().print(board_view(board))
    if report is not None:
        from breakfix.exam.report import render

        _write(report, render(board, report))
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
        say(f"{len(failures)} task(s) not started; fix what the board says and run `lab exam start` again")
        raise typer.Exit(1)


@exam_app.command("mock")
def exam_mock(
    duration: Annotated[str, typer.Option("--duration", help="Time for the whole mock exam, e.g. 2h.")] = "2h",
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            min=1,
            help="How many tasks (default: one per free cluster; more tasks than clusters run together on them).",
        ),
    ] = None,
    clusters: Annotated[
        list[str] | None,
        typer.Option("--cluster", help="A registered cluster to use (again for more; default: every free one)."),
    ] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", help="Draw the same tasks again (printed at the start).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The mock exam's name (default: mock-DATE-TIME).")] = None,
    pool: Annotated[
        list[str] | None, typer.Option("--from", help="Draw only from this lab (again for more; default: every lab).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """A CKA-style mock exam on your own cluster(s): tasks drawn by the CKA's domain weights, one clock.

    Each task runs on a cluster of its own (one lab at a time runs on a cluster): `lab exam status --grade`
    grades them, `lab exam end` scores you against the pass mark and names your weakest domains."""
    from breakfix.durations import parse_duration
    from breakfix.errors import UsageError
    from breakfix.variants import VariantError, parse_seed

    try:
        parse_duration(duration)
        drawn = None if seed is None else parse_seed(seed)
    except VariantError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    runner = _runner()
    board, failures = runner.mock(clusters or [], count, duration, drawn, name=name, pool=pool)
    _show(board, json_out)
    if not json_out:
        say(
            f"mock exam {board.name}: {len(board.seats)} task(s), pass mark {board.pass_mark:g}%, "
            f"seed {runner.seed_of(board.name)}; read a task with `lab --cluster CLUSTER task`; "
            "`lab exam status --grade` grades them all, `lab exam end` scores you"
        )
    if failures:
        say(f"{len(failures)} task(s) not started; see the board, then `lab exam end {board.name}`")
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


# instructor controls ------------------------------------------------------------------------------
@exam_app.command("pause")
def exam_pause(name: NameArg = None, json_out: JsonOpt = False) -> None:
    """Stop the class clock: nobody's time runs until `lab exam resume` (grades taken meanwhile are marked)."""
    _show(_runner().pause(name), json_out)


@exam_app.command("resume")
def exam_resume(name: NameArg = None, json_out: JsonOpt = False) -> None:
    """Start the class clock again where it stopped: every deadline moves on by the pause."""
    _show(_runner().resume(name), json_out)


@exam_app.command("extend")
def exam_extend(
    name: Annotated[str, typer.Argument(help="Exam name.", autocompletion=_complete_exam)],
    student: Annotated[str, typer.Argument(help="The student who gets extra time.")],
    extra: Annotated[str, typer.Argument(help="How much more, e.g. 10m (added to any extra time given before).")],
    json_out: JsonOpt = False,
) -> None:
    """Give one student extra time (their own deadline moves; the class clock does not)."""
    from breakfix.durations import parse_duration
    from breakfix.errors import UsageError

    try:
        seconds = parse_duration(extra)
    except ValueError as exc:
        raise UsageError(f"extra time: {exc}") from None
    _show(_runner().extend(name, student, seconds), json_out)


# the live board -----------------------------------------------------------------------------------
class Grading:
    """Grade every running lab every EVERY seconds in a thread of its own, so the board keeps ticking meanwhile."""

    def __init__(self, runner: ExamRunner, name: str, every: float) -> None:
        self.runner, self.name, self.every = runner, name, every
        self.rounds = 0
        self.last: float | None = None
        self.problem = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exam-board-grading", daemon=True)

    def start(self) -> Grading:
        """Start grading (the first round at once)."""
        self._thread.start()
        return self

    def _run(self) -> None:
        from breakfix.clock import CLOCK
        from breakfix.errors import BreakfixError

        while not self._stop.is_set():
            try:
                self.runner.status(self.name, grade=True)
                self.rounds, self.last, self.problem = self.rounds + 1, CLOCK.wall(), ""
            except BreakfixError as exc:  # e.g. the exam ended meanwhile: its grades are final
                self.problem = str(exc)
                if "has ended" in self.problem:
                    return
            except Exception as exc:
                self.problem = f"grading failed: {type(exc).__name__}: {exc}"
            self._stop.wait(self.every)

    def stop(self) -> None:
        """Grade no more (a round under way finishes in the background)."""
        self._stop.set()

    def status(self) -> str:
        """One line for the board's foot."""
        when = time.strftime("%H:%M:%S", time.localtime(self.last)) if self.last else "not yet"
        text = f"graded every {self.every:g}s (last: {when})"
        return f"{text}; {self.problem}" if self.problem else text


def lab_titles(runner: ExamRunner, board: Board) -> dict[str, str]:
    """The title of each lab on the board (what the class may see of it)."""
    from breakfix.errors import BreakfixError

    titles: dict[str, str] = {}
    for seat in board.seats:
        with contextlib.suppress(BreakfixError):  # a lab gone from the catalog shows as "-", never by its id
            titles[seat.lab] = runner.catalog.get(seat.lab).spec.title
    return titles


def live_board(
    runner: ExamRunner, name: str, titles: Mapping[str, str], grading: Grading | None, screen: Console
) -> None:
    """Redraw the board on SCREEN every BOARD_REFRESH seconds from the store until Ctrl-C."""
    from rich.live import Live

    from breakfix.clock import CLOCK

    def frame() -> RenderableType:
        foot = [grading.status()] if grading else ["not grading (--grade grades every --every seconds)"]
        foot.append("Ctrl-C stops the board; the exam goes on")
        return board_view(runner.board(name), titles, footer=" · ".join(foot))

    with Live(frame(), console=screen, auto_refresh=False, redirect_stderr=False) as live:
        while True:
            CLOCK.sleep(BOARD_REFRESH)
            live.update(frame(), refresh=True)


def web_board(runner: ExamRunner, name: str, titles: Mapping[str, str], port: int) -> None:
    """Serve the projector page on 127.0.0.1:PORT until Ctrl-C."""
    from breakfix.clock import CLOCK
    from breakfix.errors import BreakfixError

    try:
        from breakfix.exam.view import public_board
        from breakfix.exam.web import BoardServer, create_app
    except ImportError as exc:
        raise BreakfixError(
            f"the web board needs the `board` extra ({exc.name} is missing): pip install 'breakfix[board]'"
        ) from None

    server = BoardServer(create_app(lambda: public_board(runner.board(name), titles, CLOCK.wall())), port)
    url = server.start()
    say(f"exam {name}: the board is on {url} (this machine only); Ctrl-C stops it, the exam goes on")
    try:
        while True:
            CLOCK.sleep(BOARD_REFRESH)
    finally:
        server.stop()


@exam_app.command("board")
def exam_board(
    name: NameArg = None,
    grade: Annotated[
        bool, typer.Option("--grade", help="Also grade every running lab every --every seconds (students see nothing).")
    ] = False,
    every: Annotated[
        float, typer.Option("--every", min=5, help="Seconds between gradings with --grade.")
    ] = GRADE_EVERY,
    web: Annotated[bool, typer.Option("--web", help="Serve the board as a web page on 127.0.0.1 (a projector).")] = (
        False
    ),
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="The web page's port on 127.0.0.1 (0: any free one).")
    ] = WEB_PORT,
) -> None:
    """The live board for the class: students x tasks, state, score, checks, time left, hints; until Ctrl-C.

    It shows lab titles, never what is broken, so it can go on a projector.
    """
    from breakfix.errors import BreakfixError, UsageError

    if port != WEB_PORT and not web:
        raise UsageError("--port is for the web board: add --web")
    if every != GRADE_EVERY and not grade:
        raise UsageError("--every is how often --grade grades: add --grade")
    runner = _runner(log=lambda _m: None)  # grading's progress lines would tear the board
    board = runner.status(name)
    if grade and board.ended is not None:
        raise BreakfixError(f"exam {board.name} has ended: its grades are final (drop --grade)")
    screen = None if web else console()
    if screen is not None and not screen.is_terminal:  # rich would show nothing until the board stops
        raise UsageError(
            "lab exam board redraws a terminal and this output is not one: "
            "`lab exam status --watch SECONDS` prints the board as it goes (or use --web)"
        )
    titles = lab_titles(runner, board)
    grading = Grading(runner, board.name, every).start() if grade else None
    try:
        if web:
            web_board(runner, board.name, titles, port)
        else:
            assert screen is not None
            live_board(runner, board.name, titles, grading, screen)
    except KeyboardInterrupt:
        say("stopped the board; the exam goes on")
    finally:
        if grading is not None:
            grading.stop()


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
    board = _runner().end(name, keep)
    _show(board, json_out, report, junit)
    if board.not_reset:
        for cluster, why in board.not_reset.items():
            say(f"{cluster}: {why}")
        say(f"{len(board.not_reset)} cluster(s) not put back: the report is final; `lab exam end` retries the resets")
        raise typer.Exit(1)


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
