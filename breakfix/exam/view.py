"""The board as a class may see it (a projector): students x tasks, scores, the clock; never a spoiler.

A lab shows by its title (never its id or summary, which name the fault) and a check by its title only:
no check messages, no problems, no cluster names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from breakfix.exam.board import Board, Seat

#: Keys whose values move with the wall clock; a board that differs only in them has not changed.
VOLATILE = frozenset({"now", "left"})


def titles_of(board: Board, titles: Mapping[str, str]) -> list[dict[str, str]]:
    """The exam's tasks (labs, in the order the students got them) with the title the class sees."""
    labs: list[str] = []
    for seat in board.seats:
        if seat.lab not in labs:
            labs.append(seat.lab)
    return [{"lab": lab, "title": titles.get(lab) or f"Task {i}"} for i, lab in enumerate(labs, 1)]


def _cell(seat: Seat) -> dict[str, Any]:
    checks = seat.report.checks if seat.report else []
    return {
        "state": seat.state,
        "graded": seat.report is not None,
        "passed": seat.passed,
        "score": seat.score,
        "checks_passed": sum(1 for c in checks if c.ok),
        "checks_total": len(checks),
        "checks": [{"title": c.name, "ok": c.ok} for c in checks],
        "late": seat.late,
        "graded_while_paused": seat.paused_grade,
        "graded_at": seat.graded_at,
    }


def public_board(board: Board, titles: Mapping[str, str], now: float) -> dict[str, Any]:
    """The board for the projector page (JSON-ready): no lab ids, summaries, messages or clusters.

    With one task per student a column is a lab; with several (each student's own draw) a column is a task
    number and each cell names its lab by title."""
    numbered = board.several_tasks
    if numbered:
        tasks = [{"lab": "", "title": f"Task {n}"} for n in range(1, max(s.task for s in board.seats) + 1)]
    else:
        tasks = titles_of(board, titles)
    column = {t["lab"]: i for i, t in enumerate(tasks)}
    paused = board.paused_since is not None
    clock = board.clock
    students: dict[str, dict[str, Any]] = {}
    for seat in board.seats:
        row = students.setdefault(
            seat.student,
            {
                "student": seat.student,
                "cells": [None] * len(tasks),
                "hints": 0,
                "extra": seat.extra,
                "left": seat.left,
                "deadline": None if paused or clock is None else clock.deadline(now, seat.student),
            },
        )
        if numbered:
            row["cells"][seat.task - 1] = {**_cell(seat), "title": titles.get(seat.lab) or seat.title}
        else:
            row["cells"][column[seat.lab]] = _cell(seat)
        row["hints"] += seat.hints
    for row in students.values():
        mine = [c for c in row["cells"] if c is not None]  # the student's own tasks
        scores = [c["score"] for c in mine if c["score"] is not None]
        row["score"] = round(sum(scores) / len(mine), 1) if scores else None  # an ungraded task counts 0
        row["fixed"] = sum(1 for c in row["cells"] if c is not None and c["passed"])
        if board.ended is not None:
            row["deadline"] = None
    left = None if board.ended is not None else (clock.left(now) if clock is not None else board.left())
    return {
        "exam": board.name,
        "now": now,
        "started": board.started,
        "ended": board.ended,
        "paused": paused,
        "left": left,
        "deadline": None if paused or board.ended is not None or clock is None else clock.deadline(now),
        "tasks": [{"title": t["title"]} for t in tasks],
        "fixed": board.passed,
        "seats": len(board.seats),
        "students": list(students.values()),
    }


def steady(view: Any) -> Any:
    """VIEW without the values that move with the wall clock (to tell whether anything else changed)."""
    if isinstance(view, dict):
        return {k: steady(v) for k, v in view.items() if k not in VOLATILE}
    if isinstance(view, list):
        return [steady(v) for v in view]
    return view
