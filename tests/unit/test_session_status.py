"""Session statuses are one enum; the store keeps the same words, so stores written before load unchanged."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from breakfix.state import OPEN, RUNNING, SessionStatus, State

BREAKFIX = Path(__file__).resolve().parents[2] / "breakfix"


def test_stored_words_are_unchanged() -> None:
    assert [s.value for s in SessionStatus] == ["starting", "active", "solved", "closed", "aborted", "verified"]
    assert set(RUNNING) < set(OPEN)


def test_a_store_written_with_plain_words_loads_as_the_enum(tmp_path: Path) -> None:
    store = State(tmp_path / "state.db")
    sid = store.new_session("c1", "lab-a").id
    assert store.session(sid).status is SessionStatus.starting
    with sqlite3.connect(tmp_path / "state.db") as db:  # as an older breakfix wrote it
        db.execute("UPDATE sessions SET status='solved' WHERE id=?", (sid,))
    session = store.active_session("c1")
    assert session is not None and session.status is SessionStatus.solved
    store.update_session(sid, status=SessionStatus.closed.value)
    assert store.active_session("c1") is None
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT status FROM sessions WHERE id=?", (sid,)).fetchone() == ("closed",)


def test_no_status_is_spelled_as_a_bare_string_in_the_engine() -> None:
    words = "|".join(s.value for s in SessionStatus)
    bare = re.compile(rf"""status\s*(==|!=|=)\s*["']({words})["']|status\s+(not\s+)?in\s+\(["']""")
    found = [
        f"{path.relative_to(BREAKFIX)}:{n}"
        for path in BREAKFIX.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []
