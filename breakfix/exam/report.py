"""The exam report an instructor keeps: a Markdown table and a JUnit file with one suite per student."""

from __future__ import annotations

import time

from breakfix.durations import format_duration
from breakfix.exam.clock import changes
from breakfix.exam.session import Board


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
        "| Student | Cluster | Lab | Result | Score | Checks | Fixed after | Open checks |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in board.seats:
        result = "fixed" if s.passed else ("not fixed" if s.passed is False else s.state)
        if s.late:
            result += " (graded after the deadline)"
        score = f"{s.score:g}%" if s.score is not None else "-"
        solved = format_duration(s.solved_in) if s.solved_in is not None else "-"
        detail = s.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {s.student} | {s.cluster} | {s.lab} | {result} | {score} | {s.checks} | {solved} | {detail} |")
    return "\n".join(lines) + "\n"
