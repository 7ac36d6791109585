"""The exam clock: pauses stop everyone's time, extra time moves one student's deadline (pure arithmetic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breakfix.exam.clock import Control, ExamClock, describe

T0 = 1_000_000.0
HOUR = 3600.0


def clock(*controls: Control, ended: float | None = None, started: float | None = T0) -> ExamClock:
    return ExamClock.of(started, HOUR, ended, controls)


def test_without_controls_the_deadline_is_start_plus_duration() -> None:
    c = clock()
    assert c.elapsed(T0 + 600) == 600 and c.left(T0 + 600) == HOUR - 600
    assert c.deadline(T0 + 600) == T0 + HOUR == c.deadline(T0 + 5000)
    assert not c.late(T0 + HOUR) and c.late(T0 + HOUR + 1)
    assert c.left(T0 + HOUR + 90) == -90
    assert c.paused_since is None and c.pauses() == [] and c.solved_in(T0 + 61.04) == 61.0


def test_before_the_start_there_is_no_clock() -> None:
    c = clock(started=None)
    assert c.left(T0) is None and c.deadline(T0) is None and c.solved_in(T0) is None
    assert c.elapsed(T0) == 0 and not c.late(T0 + 10 * HOUR)


def test_time_left_stands_still_while_paused_and_the_deadline_moves_by_the_pause() -> None:
    paused = clock(Control(T0 + 600, "pause"))
    assert paused.paused_since == T0 + 600
    assert paused.left(T0 + 600) == paused.left(T0 + 900) == paused.left(T0 + 5000) == HOUR - 600
    assert paused.deadline(T0 + 900) == T0 + 900 + HOUR - 600  # if it ran on from now
    assert paused.paused_at(T0 + 600) and paused.paused_at(T0 + 5000) and not paused.paused_at(T0 + 599)

    resumed = clock(Control(T0 + 600, "pause"), Control(T0 + 900, "resume"))
    assert resumed.paused_since is None and resumed.pauses() == [(T0 + 600, T0 + 900)]
    assert resumed.paused_for(T0 + 2000) == 300 and resumed.paused_for(T0 + 700) == 100
    assert resumed.left(T0 + 1000) == HOUR - 700
    assert resumed.deadline(T0 + 1000) == T0 + HOUR + 300
    assert resumed.paused_at(T0 + 899) and not resumed.paused_at(T0 + 900)
    assert not resumed.late(T0 + HOUR + 299) and resumed.late(T0 + HOUR + 301)  # the pause does not count


def test_extra_time_is_for_one_student_and_adds_up() -> None:
    c = clock(
        Control(T0 + 60, "extend", "bob", 600),
        Control(T0 + 120, "pause"),
        Control(T0 + 180, "resume"),
        Control(T0 + 240, "extend", "bob", 300),
    )
    assert c.extra("bob") == 900 and c.extra("alice") == 0 and c.extra(None) == 0
    assert c.allowed("bob") == HOUR + 900 and c.allowed() == HOUR
    assert c.deadline(T0 + 300, "bob") == T0 + HOUR + 60 + 900
    assert c.deadline(T0 + 300, "alice") == c.deadline(T0 + 300) == T0 + HOUR + 60
    late_for_alice = T0 + HOUR + 61
    assert c.late(late_for_alice, "alice") and not c.late(late_for_alice, "bob")


def test_the_end_stops_the_clock_even_during_a_pause() -> None:
    c = clock(Control(T0 + 600, "pause"), ended=T0 + 1000)
    assert c.paused_since is None  # an ended exam is not "paused"
    assert c.elapsed(T0 + 5000) == 600 and c.left(T0 + 5000) == HOUR - 600
    assert c.deadline(T0 + 5000) == T0 + HOUR + 400  # the pause until the end counts as a pause
    ran = clock(ended=T0 + 1000)
    assert ran.elapsed(T0 + 9999) == 1000


def test_a_second_pause_or_a_stray_resume_changes_nothing() -> None:
    c = clock(
        Control(T0 + 10, "resume"),
        Control(T0 + 100, "pause"),
        Control(T0 + 150, "pause"),
        Control(T0 + 200, "resume"),
        Control(T0 + 250, "resume"),
    )
    assert c.pauses() == [(T0 + 100, T0 + 200)]


def test_what_each_control_changed_in_words() -> None:
    pause, resume, extend = Control(T0, "pause"), Control(T0 + 420, "resume"), Control(T0 + 500, "extend", "bob", 600)
    c = clock(pause, resume, extend)
    assert [describe(x, c) for x in c.controls] == [
        "paused the class clock",
        "resumed the class clock after 7m",
        "gave bob 10m more",
    ]
    assert Control.from_row(extend.as_dict()) == extend
    with pytest.raises(ValueError, match="not an exam control"):
        Control.from_row({"at": T0, "action": "rewind", "student": None, "seconds": None})


@given(
    st.lists(st.tuples(st.floats(0, 600, allow_nan=False), st.booleans()), max_size=12),
    st.floats(0, 10_000, allow_nan=False),
)
def test_exam_time_plus_pauses_is_wall_time_and_never_runs_backwards(
    steps: list[tuple[float, bool]], probe: float
) -> None:
    at, controls = T0, []
    for gap, pause in steps:
        at += gap
        controls.append(Control(at, "pause" if pause else "resume"))
    c = clock(*controls)
    t = T0 + probe
    assert c.elapsed(t) + c.paused_for(t) == pytest.approx(t - T0)
    assert c.elapsed(t + 1) >= c.elapsed(t)
    left = c.left(t)
    assert left is not None and left == pytest.approx(HOUR - c.elapsed(t))
    if c.paused_since is not None and t >= c.paused_since:  # paused: time left stands still from the pause on
        assert c.left(t + 100) == pytest.approx(left)
