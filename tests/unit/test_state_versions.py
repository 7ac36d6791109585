"""The store's layout version: old stores are brought up to date, a newer breakfix's store is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from breakfix import state
from breakfix.errors import BreakfixError
from breakfix.state import State


def version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_a_new_store_carries_the_current_version(tmp_path: Path) -> None:
    State(tmp_path / "state.db").add_cluster("c", "/inv", "kind", "m")
    assert version(tmp_path / "state.db") == state.SCHEMA_VERSION


def test_a_store_from_before_versions_gets_the_new_tables_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(
        state.SCHEMA.replace("CREATE TABLE IF NOT EXISTS exam_controls", "CREATE TABLE IF NOT EXISTS old_x")
    )
    db.execute("DROP TABLE old_x")
    db.execute("INSERT INTO clusters VALUES ('c', '/inv', 'kind', 'm', 0)")
    db.commit()
    db.close()
    store = State(path)
    assert [c["name"] for c in store.clusters()] == ["c"]
    assert version(path) == state.SCHEMA_VERSION
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM exam_controls").fetchone() == (0,)
    db.close()


def test_migrations_run_in_order_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.db"
    State(path).add_cluster("c", "/inv", "kind", "m")
    monkeypatch.setattr(state, "SCHEMA_VERSION", state.SCHEMA_VERSION + 2)
    monkeypatch.setattr(
        state,
        "MIGRATIONS",
        {
            state.SCHEMA_VERSION - 1: "ALTER TABLE clusters ADD COLUMN note TEXT DEFAULT 'x'",
            state.SCHEMA_VERSION: "UPDATE clusters SET note = note || 'y'",
        },
    )
    State(path).clusters()
    State(path).clusters()  # a second open runs nothing again
    db = sqlite3.connect(path)
    assert db.execute("SELECT note FROM clusters").fetchone() == ("xy",)
    db.close()
    assert version(path) == state.SCHEMA_VERSION


def test_a_store_of_a_newer_breakfix_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    State(path).add_cluster("c", "/inv", "kind", "m")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {state.SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(BreakfixError, match="written by a newer breakfix") as info:
        State(path).clusters()
    assert "\n" not in str(info.value) and path.exists() and not list(tmp_path.glob("*.corrupt-*"))
