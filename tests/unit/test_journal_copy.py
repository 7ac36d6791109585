"""The copy of a running lab's journal kept on the cluster: a reset from another machine, or after the local
store was lost, puts the cluster back from it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from breakfix import journal_copy, runner
from breakfix.clusters import MARKER_NAMESPACE, read_lease
from breakfix.errors import BreakfixError
from breakfix.state import State
from tests.unit.contexts import lab_from, marked_ctx
from tests.unit.test_lease import second

COPY = journal_copy.NODE_FILE


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")


def test_start_keeps_a_copy_on_the_node_and_in_the_api_and_reset_removes_both(tmp_path: Path) -> None:
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab_from(tmp_path))
    copy = json.loads(gzip.decompress(t.files[COPY]))
    assert [(e["phase"], e["kind"]) for e in copy["entries"]] == [("setup", "object"), ("break", "file")]
    assert copy["lab"] == "demo" and copy["session"] == session.id and t.stats[COPY].mode == 0o600
    assert journal_copy.load(ctx) == copy
    assert kube.get("v1", "ConfigMap", journal_copy.CONFIGMAP, MARKER_NAMESPACE) is not None
    runner.reset(ctx)
    assert COPY not in t.files and kube.get("v1", "ConfigMap", journal_copy.CONFIGMAP, MARKER_NAMESPACE) is None


def test_another_machine_takes_the_running_lab_over_and_puts_the_cluster_back(tmp_path: Path) -> None:
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    lab = lab_from(tmp_path)
    runner.start(ctx, lab)
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))  # or this machine, its store lost
    assert runner.reset(other, take_over=True) == 2
    assert t.files["/etc/app.conf"] == b"good" and kube.get("v1", "ConfigMap", "ledger", "default") is None
    assert read_lease(kube)[1] is None  # taken over, then freed by the reset
    assert COPY not in t.files and other.store.journal("test") == []
    assert any("lab demo was started on test from" in line for line in other.logs)  # type: ignore[attr-defined]
    t.files["/etc/app.conf"] = b"changed after the take-over"
    with pytest.raises(BreakfixError, match=r"lab demo was taken over and reset from .*`lab reset` closes it here"):
        runner.grade(ctx, lab, ctx.store.active_session("test"))  # nor does it take the lease again
    assert read_lease(kube)[1] is None
    assert runner.reset(ctx) == 0  # the first machine's journal is void: it replays nothing
    assert t.files["/etc/app.conf"] == b"changed after the take-over"
    assert ctx.store.journal("test") == [] and ctx.store.active_session("test") is None


def test_the_nodes_copy_is_read_while_the_api_server_is_down(tmp_path: Path) -> None:
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab_from(tmp_path))
    kube.down = True
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))
    copy = journal_copy.load(other)
    assert copy is not None and len(copy["entries"]) == 2
    with pytest.raises(BreakfixError, match="--take-over"):
        journal_copy.take_over(other, confirmed=False)  # the lease cannot be read: the copy is all there is
    kube.down = False
    runner.reset(ctx)


def test_an_old_copy_left_behind_is_not_replayed(tmp_path: Path) -> None:
    ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab_from(tmp_path))
    stale = t.files[COPY]
    runner.reset(ctx)
    t.files[COPY] = stale  # the node could not be reached when the reset removed it
    t.files["/etc/app.conf"] = b"changed since, on purpose"
    other = second(ctx, _kube, t, State(tmp_path / "machine2" / "state.db"))
    assert runner.reset(other, take_over=True) == 0  # no lease: that lab is over
    assert t.files["/etc/app.conf"] == b"changed since, on purpose"
    assert any("not the running lab's: left alone" in line for line in other.logs)  # type: ignore[attr-defined]


def test_a_copy_that_is_not_one_is_one_clear_error(tmp_path: Path) -> None:
    ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    t.files[COPY] = b"not gzip"
    with pytest.raises(BreakfixError, match="journal copy on cluster test cannot be read"):
        journal_copy.load(ctx)
    t.files[COPY] = gzip.compress(json.dumps({"version": 99, "entries": []}).encode())
    with pytest.raises(BreakfixError, match="not one this breakfix reads"):
        journal_copy.load(ctx)


def test_a_copy_with_a_record_this_breakfix_cannot_read_is_not_taken_over(tmp_path: Path) -> None:
    """A newer breakfix's records: refused before any is adopted, so the lease stays with that machine."""
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab_from(tmp_path))
    copy = json.loads(gzip.decompress(t.files[COPY]))
    copy["entries"][0]["record"]["v"] = 99
    t.files[COPY] = gzip.compress(json.dumps(copy).encode())
    lease = read_lease(kube)[1]
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))
    with pytest.raises(BreakfixError, match="change 1: its object record is of layout 99, written by a newer breakfix"):
        runner.reset(other, take_over=True)
    assert other.store.journal("test") == [] and other.store.active_session("test") is None
    assert read_lease(kube)[1] == lease  # still the first machine's: it can reset as always
    assert runner.reset(ctx) == 2 and t.files["/etc/app.conf"] == b"good"


def test_an_exams_task_keeps_no_copy_on_the_cluster(tmp_path: Path) -> None:
    """The students of an exam administer their clusters: the journal (the answer) stays with the instructor."""
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab_from(tmp_path), student="ann", exam="week-1")
    assert COPY not in t.files and kube.get("v1", "ConfigMap", journal_copy.CONFIGMAP, MARKER_NAMESPACE) is None
    runner.reset(ctx)


def test_an_emptied_store_without_the_marker_keeps_the_copy_until_taken_over(tmp_path: Path) -> None:
    """A lab that empties etcd takes the marker (and its lease) with it: the node's copy is all there is."""
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab_from(tmp_path))
    kept = dict(kube.objects)
    kube.objects.clear()  # etcd pointed at an empty data dir: no marker, no copy in the API
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))
    with pytest.raises(BreakfixError, match="--take-over"):
        runner.reset(other)
    assert COPY in t.files  # a plain reset elsewhere did not remove the only copy
    kube.objects.update(kept)
    assert runner.reset(other, take_over=True) == 2 and t.files["/etc/app.conf"] == b"good"


def test_a_plain_reset_leaves_another_labs_copy_alone(tmp_path: Path) -> None:
    ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab_from(tmp_path))
    stale = t.files[COPY]
    runner.reset(ctx)
    t.files[COPY] = stale  # left behind: the node was away when the reset removed it
    assert runner.reset(ctx) == 0 and t.files[COPY] == stale  # nothing undone here: not this reset's to remove
