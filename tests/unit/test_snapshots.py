"""Vagrant snapshots as a fast reset, against a fake `vagrant` that refuses calls it was not told about."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import breakfix.context
from breakfix.api import Breakfix
from breakfix.cli.main import main
from breakfix.clusters import MARKER_NAME, MARKER_NAMESPACE
from breakfix.errors import BreakfixError, ClusterError
from breakfix.providers.base import CLEAN_SNAPSHOT, cluster_dir
from breakfix.providers.vagrant import VagrantProvider, parse_snapshot_list
from breakfix.state import State
from tests.fakes import FakeCommand, FakeKube

# What `vagrant snapshot list --machine-readable` prints: cp1 has two snapshots, w1 one, w2 none.
LISTING = """\
1700000000,cp1,metadata,provider,virtualbox
1700000000,cp1,ui,output,
1700000000,cp1,ui,detail,breakfix-clean
1700000000,cp1,ui,detail,before%!(VAGRANT_COMMA) certs
1700000000,w1,metadata,provider,virtualbox
1700000000,w1,ui,output,
1700000000,w1,ui,detail,breakfix-clean
1700000000,w2,ui,output,No snapshots have been taken yet!
1700000000,w2,ui,detail,You can take a snapshot using `vagrant snapshot save`. Note that\\nnot all providers
"""


@pytest.fixture
def vagrant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCommand:
    fake = FakeCommand("vagrant", tmp_path)
    monkeypatch.setenv("PATH", f"{fake.bin}:/usr/bin:/bin")
    return fake


LIST = ["snapshot", "list", "--machine-readable"]


def test_parse_snapshot_list() -> None:
    assert parse_snapshot_list(LISTING) == {
        "cp1": ["breakfix-clean", "before, certs"],
        "w1": ["breakfix-clean"],
        "w2": [],
    }
    assert parse_snapshot_list("") == {}


def test_list_is_what_every_vm_has(vagrant: FakeCommand) -> None:
    two_vms = "\n".join(line for line in LISTING.splitlines() if ",w2," not in line)
    vagrant.expect((LIST, LISTING, 0), (LIST, two_vms, 0))
    assert VagrantProvider().snapshot_list("lab") == []  # w2 has none
    assert VagrantProvider().snapshot_list("lab") == ["breakfix-clean"]
    assert {c["dotfile"] for c in vagrant.calls} == {str(cluster_dir("lab") / ".vagrant")}


def test_save_replaces_and_restore_skips_provisioners(vagrant: FakeCommand) -> None:
    vagrant.expect(
        (["snapshot", "save", "--force", CLEAN_SNAPSHOT], "", 0),
        (LIST, LISTING.replace(",w2,", ",w1,"), 0),
        (["snapshot", "restore", "--no-provision", CLEAN_SNAPSHOT], "", 0),
    )
    logged: list[str] = []
    VagrantProvider().snapshot_save("lab", CLEAN_SNAPSHOT, logged.append)
    VagrantProvider().snapshot_restore("lab", CLEAN_SNAPSHOT, logged.append)
    assert [c["argv"][:2] for c in vagrant.calls] == [["snapshot", "save"], LIST[:2], ["snapshot", "restore"]]
    assert any("saving snapshot breakfix-clean" in line for line in logged)


def test_restore_refuses_a_snapshot_some_vm_lacks(vagrant: FakeCommand) -> None:
    vagrant.expect((LIST, LISTING, 0))  # a restore call would be refused by the fake
    with pytest.raises(ClusterError, match="no snapshot 'breakfix-clean' on every VM"):
        VagrantProvider().snapshot_restore("lab", CLEAN_SNAPSHOT, print)


def test_unsupported_provider_fails_with_vagrants_reason(vagrant: FakeCommand) -> None:
    refusal = "1700000000,,error-exit,Vagrant::Errors::SnapshotNotSupported,This provider doesn't support snapshots.\n"
    vagrant.expect((["snapshot", "save", "--force", "x"], refusal, 1))
    with pytest.raises(ClusterError, match="saving snapshot x failed"):
        VagrantProvider().snapshot_save("lab", "x", print)


def register(tmp_path: Path, provider: str) -> State:
    inv = tmp_path / f"{provider}.yaml"
    inv.write_text(
        yaml.safe_dump(
            {"all": {"vars": {"breakfix_cluster": "lab", "breakfix_provider": provider}, "hosts": {"cp1": None}}}
        )
    )
    store = State()
    store.add_cluster("lab", str(inv), provider, "m1")
    return store


def test_reset_to_snapshot_voids_the_journal_and_checks_the_marker(
    tmp_path: Path, vagrant: FakeCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = register(tmp_path, "vagrant")
    session = store.new_session("lab", "etcd-datadir")
    store.update_session(session.id, status="active")
    for n in range(3):
        store.journal_add("lab", session.id, "break", "file", {"n": n})
    kube = FakeKube({"ConfigMap"})
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "data": {"id": "m1"},
         "metadata": {"name": MARKER_NAME, "namespace": MARKER_NAMESPACE}}
    )  # fmt: skip
    monkeypatch.setattr(breakfix.context, "KubeClient", lambda *_a: kube)
    vagrant.expect(
        (LIST, LISTING.replace(",w2,", ",w1,"), 0), (["snapshot", "restore", "--no-provision", CLEAN_SNAPSHOT], "", 0)
    )
    assert Breakfix(store=store).reset_to_snapshot(CLEAN_SNAPSHOT) == 3
    assert store.journal("lab") == [] and store.active_session("lab") is None
    assert store.session(session.id).status == "closed"


def test_reset_to_snapshot_refuses_a_cluster_whose_marker_changed(
    tmp_path: Path, vagrant: FakeCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = register(tmp_path, "vagrant")
    kube = FakeKube({"ConfigMap"})  # the snapshot predates the marker: nothing marks it any more
    monkeypatch.setattr(breakfix.context, "KubeClient", lambda *_a: kube)
    vagrant.expect(
        (LIST, LISTING.replace(",w2,", ",w1,"), 0), (["snapshot", "restore", "--no-provision", CLEAN_SNAPSHOT], "", 0)
    )
    with pytest.raises(BreakfixError, match="has no breakfix marker"):
        Breakfix(store=store).reset_to_snapshot(CLEAN_SNAPSHOT)


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ("inventory", "lab was adopted (inventory), not created by breakfix: it has no snapshots;"),
        ("kind", "kind clusters have no snapshots:"),
    ],
)
def test_snapshots_need_a_provider_that_has_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str, message: str
) -> None:
    register(tmp_path, provider)
    for args in (["cluster", "snapshot", "list"], ["reset", "--snapshot"], ["cluster", "snapshot", "save"]):
        assert main(args) == 1
        assert capsys.readouterr().err == f"lab: {message} `lab reset` replays the journal instead\n"


def test_image_is_for_kind_only(capsys: pytest.CaptureFixture[str], vagrant: FakeCommand) -> None:
    (vagrant.bin / "ansible-playbook").symlink_to("/bin/true")
    assert main(["cluster", "up", "--provider", "vagrant", "--image", "kindest/node:v1.34.0"]) == 2
    assert "--image is for kind" in capsys.readouterr().err
    assert vagrant.calls == []
