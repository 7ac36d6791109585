"""Faults around the lab cycle: racing starts, a failed start beside other entries, an interrupted reset."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

import pytest

from breakfix import runner
from breakfix.api import Status
from breakfix.changes import ChangeLog
from breakfix.errors import BreakfixError, StepError
from breakfix.lock import ClusterBusy, cluster_lock, holder, lock_path
from tests.fakes import FakeTransport
from tests.unit.contexts import lab_from, make_ctx, marked_ctx


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")


@pytest.mark.usefixtures("fast_clock")
def test_failed_start_undoes_only_its_own_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A start that rolls back leaves entries journaled before it began (another writer's) alone."""
    lab = lab_from(
        tmp_path, confirm=[{"tests.steps.file_is": {"path": "/etc/app.conf", "content": "x", "within": "1s"}}]
    )
    ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good", "/etc/other.conf": b"mine"})
    real_preflight = runner.preflight

    def preflight_then_other_writer(*args: object, **kwargs: object) -> None:
        real_preflight(*args, **kwargs)  # type: ignore[arg-type]
        ChangeLog(ctx, "break").write_file(ctx.node("cp1"), "/etc/other.conf", "theirs")

    monkeypatch.setattr(runner, "preflight", preflight_then_other_writer)
    with pytest.raises(StepError, match="did not show"):
        runner.start(ctx, lab)
    assert t.files["/etc/app.conf"] == b"good"
    assert t.files["/etc/other.conf"] == b"theirs"  # not this start's change: not undone by its rollback
    assert [e.record["path"] for e in ctx.store.journal("test")] == ["/etc/other.conf"]


def test_two_starts_racing_on_one_cluster_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two starts at once (two stores on one state folder, as two processes): one runs, the other is refused."""
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    other = make_ctx(t, kube)  # its own State on the same database, like a second `lab` process
    real_preflight = runner.preflight

    def slow_preflight(*args: object, **kwargs: object) -> None:
        time.sleep(0.5)  # both starts have passed the "nothing running" checks by now (without a lock)
        real_preflight(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "preflight", slow_preflight)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def race(c: object) -> None:
        barrier.wait(timeout=5)
        try:
            outcomes.append(runner.start(c, lab))  # type: ignore[arg-type]
        except BreakfixError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=race, args=(c,)) for c in (ctx, other)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    refused = [o for o in outcomes if isinstance(o, BreakfixError)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert isinstance(refused[0], ClusterBusy) and f"pid {os.getpid()}" in str(refused[0])
    assert "since" in str(refused[0]) and "\n" not in str(refused[0])
    assert len(ctx.store.journal("test")) == 2 and t.files["/etc/app.conf"] == b"bad"
    assert runner.reset(ctx) == 2 and t.files["/etc/app.conf"] == b"good"
    assert ctx.store.journal("test") == []


def test_a_held_lock_refuses_reset_naming_its_holder(isolated_state: Path) -> None:
    ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    path = lock_path(isolated_state, "test")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": 4242, "command": "lab start demo", "since": time.time()}))
    with path.open("r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process, as far as flock is concerned
        with pytest.raises(ClusterBusy, match=r"cluster test is busy: pid 4242 \(`lab start demo`\) since \d"):
            runner.reset(ctx)
        with pytest.raises(ClusterBusy), cluster_lock(isolated_state, "test", wait=0.3):
            pass
    with cluster_lock(isolated_state, "test"), cluster_lock(isolated_state, "test"):  # again by the same thread
        assert f"pid {os.getpid()}" in holder(path)
    assert isinstance(t, FakeTransport) and t.files["/etc/app.conf"] == b"good"


def test_interrupted_reset_cannot_be_graded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the middle of a reset: grade refuses (run reset again), status says so; a second reset ends it."""
    lab = lab_from(tmp_path)
    ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    t.files["/etc/app.conf"] = b"good"  # the student's fix
    real_replay = runner.replay

    def interrupted(*_a: object, **_k: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "replay", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.reset(ctx)
    now = ctx.store.active_session("test")
    assert now is not None and now.id == session.id
    assert Status("test", now).status_text == "reset unfinished"
    assert Status("test", now).as_dict()["status"] == "reset unfinished"
    with pytest.raises(BreakfixError, match=r"did not finish: run `lab reset` again"):
        runner.grade(ctx, lab, now)
    assert ctx.store.session(session.id).status == "active" and ctx.store.grades(session.id) == []
    monkeypatch.setattr(runner, "replay", real_replay)
    assert runner.reset(ctx) == 2
    assert ctx.store.active_session("test") is None and ctx.store.journal("test") == []


SLOW_GRADE = """
import contextlib, pathlib, sys, time
from breakfix import api, runner
from breakfix.catalog import load_lab
from breakfix.cli.main import main
from tests.unit.contexts import marked_ctx

lab = load_lab(pathlib.Path(sys.argv[1]))
ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good"})
runner.start(ctx, lab)

def blocked_read(path):  # a node that stopped answering: the read blocks for a minute
    print("GRADING", file=sys.stderr, flush=True)
    time.sleep(60)
    return b"good"

t.read_bytes = blocked_read

@contextlib.contextmanager
def context(self, lab=None, session=None):
    yield ctx

api.Breakfix.context = context
api.Breakfix.lab = lambda self, lab_id: lab
api.Breakfix.cluster = lambda self: ctx.cluster
sys.exit(main(["grade"]))
"""


def test_ctrl_c_during_a_blocked_grade_returns_at_once_and_says_what_is_left(
    tmp_path: Path, isolated_state: Path
) -> None:
    """SIGINT to `lab grade` while a check waits on a node: exit 130 within a second or two, with the line."""
    import signal
    import subprocess
    import sys

    lab_from(tmp_path)
    env = {**os.environ, "BREAKFIX_STATE_DIR": str(isolated_state), "BREAKFIX_STEP_MODULES": "tests.steps"}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_GRADE, str(tmp_path / "demo" / "lab.yaml")],
        cwd=root,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        assert line.strip() == "GRADING", line + proc.stderr.read()
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
        took = time.monotonic() - sent
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, err
    assert "lab: interrupted; 2 change(s) to test are journaled: `lab reset` undoes them" in err, err
    assert took < 3, took


def test_ctrl_c_line_names_an_unfinished_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from breakfix.api import Breakfix
    from breakfix.cli import interrupt

    lab = lab_from(tmp_path)
    ctx, _t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    monkeypatch.setattr(Breakfix, "cluster", lambda self: ctx.cluster)
    assert interrupt.summary(None) == "lab: interrupted; nothing is journaled for test: the cluster has nothing to undo"
    runner.start(ctx, lab)
    assert interrupt.summary(None).endswith("2 change(s) to test are journaled: `lab reset` undoes them")

    def interrupted(*_a: object, **_k: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "replay", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.reset(ctx)
    assert interrupt.summary(None) == (
        "lab: interrupted; the reset of test did not finish (2 change(s) journaled): run `lab reset`"
    )
