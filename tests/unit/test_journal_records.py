"""Journal records, one class per kind of change: written with their layout's version, read back typed, and
refused with one line when this breakfix cannot read them (a newer layout, an unknown kind, a field lost)."""

from __future__ import annotations

from typing import Any

import pytest

from breakfix.changes import ChangeLog
from breakfix.errors import BreakfixError
from breakfix.journal_records import (
    VERSION,
    CommandChange,
    FileChange,
    JournalRecordError,
    ObjectChange,
    UnitChange,
    parse,
    to_record,
)
from breakfix.state import JournalEntry
from breakfix.transport.base import FileStat
from breakfix.undo import describe, replay
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

CHANGES = [
    FileChange("cp1", "/etc/a", True, "aGk=", "digest", 0o644, 0, 0),
    FileChange("cp1", "/etc/new", False, None, None, None, None, None),
    UnitChange("w1", "kubelet", True, True, False, "restart"),
    CommandChange("cp1", "swapon -a", "swapoff -a", 30.0),
    ObjectChange("v1", "Service", "web", "shop", {"kind": "Service"}, "uid-1"),
    ObjectChange("rbac.authorization.k8s.io/v1", "ClusterRole", "view", None, None),
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.describe())
def test_each_change_reads_back_as_written(change: Any) -> None:
    kind, record = to_record(change)
    assert record["v"] == VERSION and kind == change.KIND
    assert parse(kind, record) == change


def test_the_object_record_keeps_kubernetes_spelling_and_its_old_layout_reads() -> None:
    _, record = to_record(CHANGES[4])
    assert record["apiVersion"] == "v1" and "api_version" not in record
    old = {"apiVersion": "v1", "kind": "Service", "name": "web", "namespace": "shop", "previous": None}  # no v, uid
    assert parse("object", old) == ObjectChange("v1", "Service", "web", "shop", None, None)


def test_a_unit_record_from_before_actions_and_masks_were_kept_reads_as_a_plain_change() -> None:
    old = parse("unit", {"node": "w1", "unit": "kubelet", "active": True, "enabled": True})
    assert old == UnitChange("w1", "kubelet", True, True, False, None) and not old.restarts_on_undo
    assert UnitChange("w1", "kubelet", True, True, False, "restart").restarts_on_undo
    assert not UnitChange("w1", "kubelet", False, True, False, "restart").restarts_on_undo


def test_a_file_record_gives_its_stat_only_when_it_was_read() -> None:
    assert CHANGES[0].stat == FileStat(0o644, 0, 0)
    assert CHANGES[1].stat is None


@pytest.mark.parametrize(
    ("kind", "record", "said"),
    [
        ("snapshot", {"node": "cp1"}, "a change of kind 'snapshot', which this breakfix does not know"),
        ("unit", {"v": VERSION + 1, "node": "w1"}, f"layout {VERSION + 1}, written by a newer breakfix"),
        ("unit", {"v": "2", "node": "w1"}, "layout '2', written by a newer breakfix"),
        ("command", {"node": "cp1", "command": "true"}, "its command record lacks 'undo'"),
        ("command", {"node": "cp1", "command": "true", "undo": ["x"]}, "its command record's 'undo' is ['x']"),
        ("unit", {"node": "w1", "unit": "kubelet", "active": 1, "enabled": True}, "'active' is 1"),
        (
            "file",
            {
                "node": "cp1",
                "path": "/a",
                "existed": True,
                "content": None,
                "sha256": None,
                "mode": 420,
                "uid": 0,
                "gid": 0,
            },
            "keeps no content for a file that existed",
        ),
        (
            "file",
            {
                "node": "cp1",
                "path": "/a",
                "existed": True,
                "content": "",
                "sha256": "x",
                "mode": 420.0,
                "uid": 0,
                "gid": 0,
            },
            "'mode' is 420.0",
        ),
    ],
)
def test_a_record_this_breakfix_cannot_read_is_refused_naming_the_entry(
    kind: str, record: dict[str, Any], said: str
) -> None:
    entry = JournalEntry(7, "lab", 1, "break", kind, record)
    with pytest.raises(JournalRecordError, match="journal entry 7 \\(break\\)") as caught:
        entry.change  # noqa: B018
    assert said in str(caught.value) and "\n" not in str(caught.value)
    assert describe(entry) == f"journal entry 7 ({kind})"


def test_reset_stops_at_a_record_from_a_newer_breakfix_and_keeps_the_journal() -> None:
    kube = FakeKube({"ConfigMap"})
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "default"}})
    ctx = make_ctx(FakeTransport(), kube)
    kind, record = to_record(CommandChange("cp1", "true", "true"))
    ctx.store.journal_add("test", None, "break", kind, {**record, "v": VERSION + 1})  # the oldest change
    ChangeLog(ctx, "break").delete_object("v1", "ConfigMap", "old", "default")  # newer: replay would start here
    with pytest.raises(BreakfixError, match="written by a newer breakfix") as caught:
        replay(ctx)
    assert "none of the 2 changes were undone: the journal keeps them all" in str(caught.value)
    assert len(ctx.store.journal("test")) == 2  # nothing lost: that breakfix can still undo it all
    assert kube.get("v1", "ConfigMap", "old", "default") is None  # not undone either
