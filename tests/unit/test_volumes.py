"""Data folders, pinned volumes and the checks that an app really reads its data (on fakes)."""

from __future__ import annotations

from typing import Any

import pytest

from breakers import volumes as volume_breakers
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.state import State
from breakfix.transport.node import Node
from graders import volumes
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

FOLDER = "/var/lib/breakfix/ledger"


def written(files: dict[str, bytes] | None = None) -> tuple[SessionState, FakeTransport, Node, str]:
    """The ledger data written on a fake worker w1; returns the state, the node's files and the token."""
    t = FakeTransport(files)
    t.expect(f"install -d -m 755 {FOLDER}")
    ctx = make_ctx(FakeTransport())
    node = Node("w1", "worker", t)
    state = SessionState(State(), None)
    volume_breakers.write_data(node, ChangeLog(ctx, "setup"), state, "ledger", FOLDER)
    token = state.get("data:ledger")["token"]
    return state, t, node, token


def test_write_data_journals_the_folder_and_the_page_and_keeps_a_token() -> None:
    t = FakeTransport()
    t.expect(f"install -d -m 755 {FOLDER}")
    ctx = make_ctx(FakeTransport())
    state = SessionState(State(), None)
    volume_breakers.write_data(Node("w1", "worker", t), ChangeLog(ctx, "setup"), state, "ledger", FOLDER)
    data = state.get("data:ledger")
    assert data["node"] == "w1" and data["path"] == f"{FOLDER}/index.html"
    assert data["token"].startswith("ledger-") and data["token"].encode() in t.files[data["path"]]
    kinds = [e.kind for e in ctx.store.journal("test")]
    assert kinds == ["command", "file"]  # the folder's removal, then the page's
    assert ctx.store.journal("test")[0].record["undo"] == f"rm -rf -- {FOLDER}"
    # another session writes another token: a copy of an old page does not pass for this one's data
    state2 = SessionState(State(), None)
    t2 = FakeTransport()
    t2.expect(f"install -d -m 755 {FOLDER}")
    volume_breakers.write_data(Node("w1", "worker", t2), ChangeLog(ctx, "setup"), state2, "ledger", FOLDER)
    assert state2.get("data:ledger")["token"] != data["token"]


def test_write_data_refuses_a_folder_that_exists_or_is_not_its_own() -> None:
    ctx = make_ctx(FakeTransport())
    node = Node("w1", "worker", FakeTransport({FOLDER: b""}))
    state = SessionState(State(), None)
    with pytest.raises(StepError, match="already exists"):
        volume_breakers.write_data(node, ChangeLog(ctx, "setup"), state, "ledger", FOLDER)
    for bad in ("/var/lib", "relative/path"):
        with pytest.raises(StepError, match="absolute path of its own"):
            volume_breakers.write_data(node, ChangeLog(ctx, "setup"), state, "ledger", bad)
    with pytest.raises(StepError, match="plain file name"):
        volume_breakers.write_data(node, ChangeLog(ctx, "setup"), state, "ledger", FOLDER, file="a/b")
    assert ctx.store.journal("test") == []


def test_create_volume_pins_the_folder_to_its_node() -> None:
    kube = FakeKube({"PersistentVolume"})
    ctx = make_ctx(FakeTransport(), kube)
    node = Node("w1", "worker", FakeTransport())
    volume_breakers.create_volume(node, ChangeLog(ctx, "break"), "ledger-pv", FOLDER, "manual")
    pv = kube.get("v1", "PersistentVolume", "ledger-pv")
    assert pv is not None
    spec = pv["spec"]
    assert spec["local"] == {"path": FOLDER} and spec["accessModes"] == ["ReadWriteOnce"]
    term = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["w1"]}
    volume_breakers.create_volume(
        node, ChangeLog(ctx, "break"), "pv2", FOLDER, "manual", access_modes=["ReadWriteMany"], source="hostPath"
    )
    pv2 = kube.get("v1", "PersistentVolume", "pv2")
    assert pv2 is not None and pv2["spec"]["hostPath"]["path"] == FOLDER
    assert pv2["spec"]["accessModes"] == ["ReadWriteMany"]
    assert [e.record["previous"] for e in ctx.store.journal("test")] == [None, None]  # undo deletes them


def test_serves_data_wants_this_sessions_page() -> None:
    state, _t, _node, token = written()
    kube = FakeKube()
    kube.proxied["ledger/ledger:80/"] = (200, f"<p>{token}</p>")
    assert volumes.serves_data(kube, state, "ledger", "ledger", "ledger").ok
    kube.proxied["ledger/ledger:80/"] = (200, "<h1>breakfix web</h1>")  # the image's own page: not the data
    result = volumes.serves_data(kube, state, "ledger", "ledger", "ledger")
    assert result.status == "fail" and "not with the ledger data" in result.message
    kube.proxied["ledger/ledger:80/"] = (404, "404 Not Found")  # an empty volume
    result = volumes.serves_data(kube, state, "ledger", "ledger", "ledger")
    assert result.status == "fail" and "HTTP 404" in result.message
    assert volumes.serves_data(kube, SessionState(State(), None), "ledger", "ledger", "ledger").status == "error"


def test_data_intact_notices_a_lost_or_rewritten_page() -> None:
    state, t, node, _token = written()
    assert volumes.data_intact([node], state, "ledger").ok
    t.files[f"{FOLDER}/index.html"] = b"<p>ledger-0000</p>"
    assert "rewritten" in volumes.data_intact([node], state, "ledger").message
    del t.files[f"{FOLDER}/index.html"]
    assert "gone" in volumes.data_intact([node], state, "ledger").message
    assert volumes.data_intact([], state, "ledger").status == "error"


def _cluster(volume: dict[str, Any], node: str = "w1", phase: str = "Bound", path: str = FOLDER) -> FakeKube:
    """A Deployment whose one running pod on NODE mounts VOLUME; claim `data` (PHASE) on pv1 of PATH."""
    kube = FakeKube({"Deployment", "Pod", "PersistentVolumeClaim", "PersistentVolume"})
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "ledger", "namespace": "ledger"},
            "spec": {"selector": {"matchLabels": {"app": "ledger"}}},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ledger-1", "namespace": "ledger", "labels": {"app": "ledger"}},
            "spec": {"nodeName": node, "volumes": [{"name": "data", **volume}]},
            "status": {"phase": "Running"},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "ledger"},
            "spec": {"volumeName": "pv1" if phase == "Bound" else None},
            "status": {"phase": phase},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "pv1"},
            "spec": {"local": {"path": path}, "accessModes": ["ReadWriteOnce"]},
        }
    )
    return kube


CLAIM = {"persistentVolumeClaim": {"claimName": "data"}}


def test_data_through_claim_passes_only_for_the_datas_volume_on_its_node() -> None:
    state, *_ = written()
    assert volumes.data_through_claim(_cluster(CLAIM), state, "ledger", "ledger", "ledger").ok
    cases = {
        "mounts no PersistentVolumeClaim": _cluster({"hostPath": {"path": FOLDER}}),
        "mounts no PersistentVolumeClaim ": _cluster({"emptyDir": {}}),
        "runs on cp1, but the data is on w1": _cluster(CLAIM, node="cp1"),
        "claim data is not Bound": _cluster(CLAIM, phase="Pending"),
        "claim data's volume is not the one that holds the data": _cluster(CLAIM, path="/var/lib/fresh"),
    }
    for message, kube in cases.items():
        result = volumes.data_through_claim(kube, state, "ledger", "ledger", "ledger")
        assert result.status == "fail" and message.strip() in result.message, result.message


def test_data_through_claim_wants_a_running_pod() -> None:
    state, *_ = written()
    kube = _cluster(CLAIM)
    kube.objects[("v1", "Pod", "ledger", "ledger-1")]["status"]["phase"] = "Pending"
    assert "has no running pod" in volumes.data_through_claim(kube, state, "ledger", "ledger", "ledger").message
    assert "does not exist" in volumes.data_through_claim(kube, state, "ledger", "other", "ledger").message


def test_volume_modes_within_refuses_a_node_folder_offered_as_shareable() -> None:
    state, *_ = written()
    kube = _cluster(CLAIM)
    assert volumes.volume_modes_within(kube, state, "ledger", ["ReadWriteOnce"]).ok
    kube.objects[("v1", "PersistentVolume", None, "pv1")]["spec"]["accessModes"] = ["ReadWriteOnce", "ReadWriteMany"]
    result = volumes.volume_modes_within(kube, state, "ledger", ["ReadWriteOnce"])
    assert result.status == "fail" and "offers ReadWriteMany" in result.message
    # a volume of another folder may offer what it likes
    kube.objects[("v1", "PersistentVolume", None, "pv1")]["spec"]["local"]["path"] = "/srv/nfs"
    assert volumes.volume_modes_within(kube, state, "ledger", ["ReadWriteOnce"]).ok


def test_data_through_claim_with_a_named_claim_refuses_a_second_claim_for_the_folder() -> None:
    """A task that names the app's claim: a new claim bound to a volume of the same folder is a way round it."""
    state, *_ = written()
    assert volumes.data_through_claim(_cluster(CLAIM), state, "ledger", "ledger", "ledger", claim="data").ok
    result = volumes.data_through_claim(_cluster(CLAIM), state, "ledger", "ledger", "ledger", claim="ledger-data")
    assert result.status == "fail" and "mounts the claim(s) data, not ledger-data" in result.message
