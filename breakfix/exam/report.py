"""The exam report an instructor keeps: a Markdown table and a JUnit file with one suite per student."""

from __future__ import annotations

import time

from breakfix.durations import format_duration
from breakfix.exam.clock import changes
from breakfix.exam.session import Board
from breakfix.variants import describe


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at)) if at else "-"


def _clock_lines(board: Board) -> list[str]:
    """The instructor's changes to the clock (pauses, extra time), as a paragraph; none without changes."""
    if board.clock is None or not board.controls:
        return []
    return ["Clock: " + "; ".join(f"{_when(at)} {what}" for at, what in changes(board.clock)) + ".", ""]


def markdown(board: Board) -> str:
    """The board as a Markdown report."""
    lines = [
        f"# Exam {board.name}",
        "",
        f"Started {_when(board.started)}, deadline {_when(board.deadline)}, ended {_when(board.ended)}. "
        f"{board.passed} of {len(board.seats)} students fixed their cluster.",
        "",
        *_clock_lines(board),
    ]
    # labs with variables: each student's values, and the seed that gives their lab again
    varied = any(s.seed is not None for s in board.seats)
    extra = " Values (seed) |" if varied else ""
    lines += [
        f"| Student | Cluster | Lab | Result | Score | Checks | Fixed after | Open checks |{extra}",
        "|---|---|---|---|---|---|---|---|" + ("---|" if varied else ""),
    ]
    for s in board.seats:
        result = "fixed" if s.passed else ("not fixed" if s.passed is False else s.state)
        if s.late:
            result += " (graded after the deadline)"
        score = f"{s.score:g}%" if s.score is not None else "-"
        solved = format_duration(s.solved_in) if s.solved_in is not None else "-"
        detail = s.detail.replace("|", "\\|").replace("\n", " ")
        row = f"| {s.student} | {s.cluster} | {s.lab} | {result} | {score} | {s.checks} | {solved} | {detail} |"
        if varied:
            shown = f"{describe(s.values)} (`lab start {s.lab} --seed {s.seed}`)" if s.seed is not None else "-"
            row += " " + shown.replace("|", "\\|") + " |"
        lines.append(row)
    return "\n".join(lines) + "\n"
