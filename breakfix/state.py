"""What breakfix remembers, in SQLite under the XDG state folder: clusters, sessions, grades, journal."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.journal_records import Change, parse
from breakfix.paths import state_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS clusters (
  name TEXT PRIMARY KEY, inventory TEXT NOT NULL, provider TEXT NOT NULL,
  marker TEXT NOT NULL, added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, lab TEXT NOT NULL,
  status TEXT NOT NULL, created REAL NOT NULL, started REAL, deadline REAL, ended REAL,
  hints_used INTEGER NOT NULL DEFAULT 0, solved_at REAL, student TEXT, exam TEXT,
  data TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS grades (
  id INTEGER PRIMARY KEY AUTOINCREMENT, session INTEGER NOT NULL, at REAL NOT NULL,
  score INTEGER NOT NULL, max_score INTEGER NOT NULL, passed INTEGER NOT NULL, checks TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exams (
  name TEXT PRIMARY KEY, file TEXT NOT NULL, spec TEXT NOT NULL, created REAL NOT NULL,
  started REAL, deadline REAL, ended REAL, problems TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS exam_controls (
  id INTEGER PRIMARY KEY AUTOINCREMENT, exam TEXT NOT NULL, at REAL NOT NULL, action TEXT NOT NULL,
  student TEXT, seconds REAL);
CREATE TABLE IF NOT EXISTS journal (
  id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, session INTEGER,
  phase TEXT NOT NULL, kind TEXT NOT NULL, record TEXT NOT NULL, created REAL NOT NULL);
"""


#: The store's layout, kept in `PRAGMA user_version`: 0 is a store from before versions were kept.
SCHEMA_VERSION = 1
#: What takes a store from version N-1 to N, after SCHEMA has added any new table (e.g. an ALTER TABLE).
MIGRATIONS: dict[int, str] = {}


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the store up to SCHEMA_VERSION, one version at a time; refuse one written by a newer breakfix."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        db.close()
        raise BreakfixError(
            f"breakfix's state store {path} was written by a newer breakfix (layout {found}, this one knows "
            f"{SCHEMA_VERSION}): upgrade breakfix, or set BREAKFIX_STATE_DIR to use another store"
        )
    db.executescript(SCHEMA)
    for version in range(found + 1, SCHEMA_VERSION + 1):
        db.executescript(f"BEGIN; {MIGRATIONS.get(version, '')}; PRAGMA user_version = {version}; COMMIT;")


class SessionStatus(StrEnum):
    """Where a session is; the values are what the store keeps (old stores load unchanged)."""

    starting = "starting"  # breaking the cluster; not yet confirmed
    active = "active"  # the fault is live and the clock runs
    solved = "solved"  # graded as fixed; the changes are still on the cluster until reset
    closed = "closed"  # reset: the cluster is as it was
    aborted = "aborted"  # the start failed and was rolled back
    verified = "verified"  # a `lab verify` run that finished


#: Sessions whose changes may still be on the cluster.
OPEN = (SessionStatus.starting, SessionStatus.active, SessionStatus.solved)
#: Sessions the student works on: graded, hinted, timed.
RUNNING = (SessionStatus.active, SessionStatus.solved)
ACTIVE = (SessionStatus.starting, SessionStatus.active)


#: Session data of a lab started with others on one cluster: the first session's id, and the lab's task number.
TOGETHER = "together"
TASK = "task"
#: Session data of a lab drawn at random for its student (`lab start --count`): its id stays hidden.
DRAWN = "drawn"


def _failpoint(stage: str, count: int) -> None:
    """Crash tests: BREAKFIX_FAILPOINT=journal:N:before|after kills this process with SIGKILL there."""
    point = os.environ.get("BREAKFIX_FAILPOINT")
    if point and point == f"journal:{count}:{stage}":
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Session:
    """One attempt at one lab on one cluster."""

    id: int
    cluster: str
    lab: str
    status: SessionStatus
    created: float
    started: float | None
    deadline: float | None
    ended: float | None
    hints_used: int
    solved_at: float | None
    student: str | None
    exam: str | None
    data: dict[str, Any]


@dataclass
class JournalEntry:
    """One change made to a cluster, written before the change."""

    id: int
    cluster: str
    session: int | None
    phase: str
    kind: str
    record: dict[str, Any]

    @property
    def change(self) -> Change:
        """The record, typed (JournalRecordError when this breakfix cannot read it)."""
        return parse(self.kind, self.record, f"journal entry {self.id} ({self.phase})")


LOST = (
    "the registered clusters, any running lab session and its change journal are gone: register each cluster "
    "again with `lab cluster adopt INVENTORY`; a lab that was running may have left its cluster broken: "
    "`lab reset --take-over` then undoes it from the copy of its journal kept on the cluster"
)


def _create(path: Path) -> None:
    """Create a store with the schema in place, atomically: a zero-byte state.db is never one of ours."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    try:
        db = sqlite3.connect(tmp)
        db.executescript(SCHEMA)
        db.close()
        try:
            os.link(tmp, path)  # fails if another process created it first: then theirs is used
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _set_aside(path: Path, why: str) -> BreakfixError:
    """Move a broken store aside (never delete it) and say what was lost and what to do."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        return BreakfixError(f"breakfix's state store {path} is {why}, and it cannot be moved aside: {exc.strerror}")
    return BreakfixError(
        f"breakfix's state store {path} was {why}; it is kept as {aside} and the next command starts a new one: {LOST}"
    )


def open_store(path: Path) -> sqlite3.Connection:
    """Open (or create) the store, checked: a corrupt or emptied one is moved aside, never silently replaced."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise NotADirectoryError(20, "not a folder")
    except OSError as exc:
        raise BreakfixError(
            f"breakfix's state folder {folder} cannot be used ({exc.strerror or exc}); "
            "set BREAKFIX_STATE_DIR to a writable folder"
        ) from None
    if path.is_dir():
        raise BreakfixError(f"breakfix's state store {path} is a folder, not a file; move it away")
    try:
        if not path.exists():
            _create(path)
    except (OSError, sqlite3.Error) as exc:
        raise BreakfixError(f"breakfix's state store {path} cannot be created ({exc}); check {folder}") from None
    if path.stat().st_size == 0:
        raise _set_aside(path, "empty (zero bytes: truncated?)")
    if not (os.access(path, os.R_OK | os.W_OK) and os.access(folder, os.W_OK | os.X_OK)):
        raise BreakfixError(
            f"breakfix's state store {path} (or its folder) is read-only for this user; "
            "breakfix must write it: fix its permissions or set BREAKFIX_STATE_DIR"
        )
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    except sqlite3.Error as exc:
        raise BreakfixError(f"breakfix's state store {path} cannot be opened: {exc}") from None
    try:
        check = db.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(str(check[0] if check else "no answer")[:200])
        db.execute("PRAGMA synchronous=FULL")
        _migrate(db, path)
    except sqlite3.OperationalError as exc:
        db.close()
        if "readonly" in str(exc) or "read-only" in str(exc):
            raise BreakfixError(
                f"breakfix's state store {path} is read-only ({exc}); fix its permissions or set BREAKFIX_STATE_DIR"
            ) from None
        if "locked" in str(exc) or "busy" in str(exc):
            raise BreakfixError(f"breakfix's state store {path} is busy ({exc}); try again") from None
        raise _set_aside(path, f"damaged ({exc})") from None
    except sqlite3.DatabaseError as exc:
        db.close()
        raise _set_aside(path, f"damaged ({exc})") from None
    return db


class State:
    """The SQLite store; safe to use from the grading threads."""

    def __init__(self, path: Path | None = None) -> None:
        folder = state_dir()
        self.path = path or folder / "state.db"
        self._db = open_store(self.path)
        self._lock = threading.RLock()
        self._writes = 0

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # clusters -----------------------------------------------------------------
    def add_cluster(self, name: str, inventory: str, provider: str, marker: str) -> None:
        """Register (or update) a lab cluster."""
        self._q("INSERT OR REPLACE INTO clusters VALUES (?,?,?,?,?)", (name, inventory, provider, marker, time.time()))

    def remove_cluster(self, name: str) -> None:
        """Forget a cluster."""
        self._q("DELETE FROM clusters WHERE name=?", (name,))

    def clusters(self) -> list[dict[str, Any]]:
        """Every registered cluster."""
        rows = self._q("SELECT name, inventory, provider, marker, added FROM clusters ORDER BY name")
        return [dict(zip(("name", "inventory", "provider", "marker", "added"), r, strict=True)) for r in rows]

    def get_setting(self, key: str) -> str | None:
        """A stored setting."""
        rows = self._q("SELECT value FROM settings WHERE key=?", (key,))
        return str(rows[0][0]) if rows else None

    def set_setting(self, key: str, value: str | None) -> None:
        """Store or clear a setting."""
        if value is None:
            self._q("DELETE FROM settings WHERE key=?", (key,))
        else:
            self._q("INSERT OR REPLACE INTO settings VALUES (?,?)", (key, value))

    def setting_once(self, key: str, value: str) -> str:
        """The stored setting, storing VALUE first when there is none (the first writer wins a race)."""
        self._q("INSERT OR IGNORE INTO settings VALUES (?,?)", (key, value))
        stored = self.get_setting(key)
        assert stored is not None
        return stored

    # sessions -----------------------------------------------------------------
    _COLS = "id, cluster, lab, status, created, started, deadline, ended, hints_used, solved_at, student, exam, data"

    def _session(self, row: tuple[Any, ...]) -> Session:
        head = row[:-1]
        return Session(
            int(head[0]),
            str(head[1]),
            str(head[2]),
            SessionStatus(head[3]),
            head[4],
            head[5],
            head[6],
            head[7],
            int(head[8]),
            head[9],
            head[10],
            head[11],
            json.loads(row[-1]),
        )

    def new_session(self, cluster: str, lab: str, student: str | None = None, exam: str | None = None) -> Session:
        """Open a session in 'starting' status."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO sessions (cluster, lab, status, created, student, exam) VALUES (?,?,?,?,?,?)",
                (cluster, lab, SessionStatus.starting.value, time.time(), student, exam),
            )
            sid = cur.lastrowid
        assert sid is not None
        return self.session(sid)

    def session(self, sid: int) -> Session:
        """A session by id."""
        rows = self._q(f"SELECT {self._COLS} FROM sessions WHERE id=?", (sid,))
        return self._session(rows[0])

    def active_session(self, cluster: str) -> Session | None:
        """The cluster's session that is starting or running, if any; of several labs run together, the first
        (it holds the cluster's lease and the fingerprint taken before them all)."""
        found = self.open_sessions(cluster)
        return found[0] if found else None

    def open_sessions(self, cluster: str) -> list[Session]:
        """The cluster's sessions whose changes may still be on it (the labs it runs together), oldest first."""
        rows = self._q(
            f"SELECT {self._COLS} FROM sessions WHERE cluster=? AND status IN ({','.join('?' * len(OPEN))}) "
            "ORDER BY id",
            (cluster, *(s.value for s in OPEN)),
        )
        return [self._session(r) for r in rows]

    def lead_of(self, session: Session) -> Session:
        """The first session of the labs SESSION was started with (SESSION itself when it runs alone)."""
        lead = session.data.get(TOGETHER)
        if not isinstance(lead, int) or lead == session.id:
            return session
        rows = self._q(f"SELECT {self._COLS} FROM sessions WHERE id=? AND cluster=?", (lead, session.cluster))
        return self._session(rows[0]) if rows else session

    def together(self, session: Session) -> list[Session]:
        """The open sessions of the labs SESSION was started with, itself included, oldest first."""
        lead = self.lead_of(session).id
        return [s for s in self.open_sessions(session.cluster) if s.id == lead or s.data.get(TOGETHER) == lead]

    def sessions(self, cluster: str | None = None, limit: int = 50) -> list[Session]:
        """Recent sessions, newest first."""
        if cluster:
            rows = self._q(
                f"SELECT {self._COLS} FROM sessions WHERE cluster=? ORDER BY id DESC LIMIT ?", (cluster, limit)
            )
        else:
            rows = self._q(f"SELECT {self._COLS} FROM sessions ORDER BY id DESC LIMIT ?", (limit,))
        return [self._session(r) for r in rows]

    def update_session(self, sid: int, **fields: Any) -> None:
        """Change some fields of a session."""
        if "data" in fields:
            fields["data"] = json.dumps(fields["data"])
        sets = ", ".join(f"{k}=?" for k in fields)
        self._q(f"UPDATE sessions SET {sets} WHERE id=?", (*fields.values(), sid))

    def add_grade(self, sid: int, score: int, max_score: int, passed: bool, checks: list[dict[str, Any]]) -> int:
        """Record one grading attempt."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO grades (session, at, score, max_score, passed, checks) VALUES (?,?,?,?,?,?)",
                (sid, time.time(), score, max_score, int(passed), json.dumps(checks)),
            )
        return int(cur.lastrowid or 0)

    def grades(self, sid: int) -> list[dict[str, Any]]:
        """Every grading attempt of a session, oldest first."""
        rows = self._q("SELECT at, score, max_score, passed, checks FROM grades WHERE session=? ORDER BY id", (sid,))
        return [
            {"at": r[0], "score": r[1], "max_score": r[2], "passed": bool(r[3]), "checks": json.loads(r[4])}
            for r in rows
        ]

    # exams --------------------------------------------------------------------
    _EXAM_COLS = ("name", "file", "spec", "created", "started", "deadline", "ended", "problems")

    def add_exam(self, name: str, file: str, spec: dict[str, Any]) -> None:
        """Record a new exam; its clock is set later with update_exam(started=..., deadline=...)."""
        self._q(
            "INSERT INTO exams (name, file, spec, created) VALUES (?,?,?,?)",
            (name, file, json.dumps(spec), time.time()),
        )

    def exam(self, name: str) -> dict[str, Any] | None:
        """An exam by name, its spec decoded."""
        rows = self._q(f"SELECT {', '.join(self._EXAM_COLS)} FROM exams WHERE name=?", (name,))
        if not rows:
            return None
        row = dict(zip(self._EXAM_COLS, rows[0], strict=True))
        row["spec"] = json.loads(row["spec"])
        row["problems"] = json.loads(row["problems"])
        return row

    def exams(self) -> list[str]:
        """Every exam's name, newest first."""
        return [str(r[0]) for r in self._q("SELECT name FROM exams ORDER BY created DESC")]

    def update_exam(self, name: str, **fields: Any) -> None:
        """Set the exam's started, deadline or ended time, or its problems (student -> what went wrong)."""
        if "problems" in fields:
            fields["problems"] = json.dumps(fields["problems"])
        sets = ", ".join(f"{k}=?" for k in fields)
        self._q(f"UPDATE exams SET {sets} WHERE name=?", (*fields.values(), name))

    def drop_exam(self, name: str) -> None:
        """Forget an exam that never started (its sessions stay, closed)."""
        self._q("DELETE FROM exams WHERE name=?", (name,))
        self._q("DELETE FROM exam_controls WHERE exam=?", (name,))

    def exam_sessions(self, name: str) -> list[Session]:
        """The newest session of each student's task in the exam (a lab on a cluster), oldest first."""
        rows = self._q(f"SELECT {self._COLS} FROM sessions WHERE exam=? ORDER BY id", (name,))
        newest = {(s.student, s.cluster, s.lab): s for s in (self._session(r) for r in rows)}
        return sorted(newest.values(), key=lambda s: s.id)

    def add_exam_control(
        self, name: str, at: float, action: str, student: str | None = None, seconds: float | None = None
    ) -> None:
        """Note an instructor's control of an exam's clock: pause, resume, or extra time for one student."""
        self._q(
            "INSERT INTO exam_controls (exam, at, action, student, seconds) VALUES (?,?,?,?,?)",
            (name, at, action, student, seconds),
        )

    def exam_controls(self, name: str) -> list[dict[str, Any]]:
        """Every control of an exam's clock, oldest first."""
        cols = ("at", "action", "student", "seconds")
        rows = self._q(f"SELECT {', '.join(cols)} FROM exam_controls WHERE exam=? ORDER BY id", (name,))
        return [dict(zip(cols, r, strict=True)) for r in rows]

    # journal ------------------------------------------------------------------
    def journal_add(self, cluster: str, session: int | None, phase: str, kind: str, record: dict[str, Any]) -> int:
        """Write a journal entry durably; returns its id."""
        with self._lock:
            self._writes += 1
            count = self._writes
        _failpoint("before", count)
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO journal (cluster, session, phase, kind, record, created) VALUES (?,?,?,?,?,?)",
                (cluster, session, phase, kind, json.dumps(record), time.time()),
            )
        _failpoint("after", count)
        return int(cur.lastrowid or 0)

    def journal(self, cluster: str, after: int = 0) -> list[JournalEntry]:
        """The cluster's journal entries with id > AFTER, oldest first."""
        rows = self._q(
            "SELECT id, cluster, session, phase, kind, record FROM journal WHERE cluster=? AND id>? ORDER BY id",
            (cluster, after),
        )
        return [JournalEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def journal_drop(self, entry_id: int) -> None:
        """Remove an entry once it has been undone."""
        self._q("DELETE FROM journal WHERE id=?", (entry_id,))

    def journal_last_id(self, cluster: str) -> int:
        """The newest entry id, 0 when the journal is empty."""
        rows = self._q("SELECT COALESCE(MAX(id), 0) FROM journal WHERE cluster=?", (cluster,))
        return int(rows[0][0])
