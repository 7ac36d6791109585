"""The lease on the cluster's marker: one machine, one state folder, one registered name runs a lab at a time."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from breakfix import runner
from breakfix.clusters import LEASE, MARKER_NAME, MARKER_NAMESPACE, LeaseHeld, hold_lease, lease_holder, read_lease
from breakfix.context import Context
from breakfix.errors import BreakfixError
from breakfix.state import State
from breakfix.transport.node import Node
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import lab_from, marked_ctx


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")


def second(ctx: Context, kube: FakeKube, t: FakeTransport, store: State, name: str = "test") -> Context:
    """The same cluster seen from another state folder (another machine) or under another registered name."""
    store.add_cluster(name, "/dev/null", "inventory", "m1")
    logs: list[str] = []
    other = Context(dataclasses.replace(ctx.cluster, name=name), store, kube=kube, log=logs.append)
    other._nodes["cp1"] = Node("cp1", "control-plane", t, "10.0.0.2")
    other.logs = logs  # type: ignore[attr-defined]
    return other


def lease_of(kube: FakeKube) -> dict[str, Any] | None:
    return read_lease(kube)[1]


def test_start_takes_the_lease_grade_renews_it_reset_frees_it(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    lease = lease_of(kube)
    assert lease is not None and lease["session"] == session.id and lease["lab"] == "demo"
    assert lease["cluster"] == "test" and lease["holder"].endswith(f"/{ctx.store.get_setting('state_id')}/test")
    t.files["/etc/app.conf"] = b"good"
    runner.grade(ctx, lab, ctx.store.session(session.id))
    renewed = lease_of(kube)
    assert renewed is not None and renewed["expires"] >= (session.deadline or 0) + 3000
    assert renewed["since"] == lease["since"]
    runner.reset(ctx)
    cm = kube.get("v1", "ConfigMap", MARKER_NAME, MARKER_NAMESPACE)
    assert cm is not None and LEASE not in (cm["metadata"].get("annotations") or {})
    assert cm["data"]["id"] == "m1"  # the marker itself stays


def test_a_second_machine_is_refused_while_a_lab_runs(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab)
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))
    held = r"cluster test is in use: lab demo \(session 1\) for .*registered as test, since"
    with pytest.raises(LeaseHeld, match=held):
        runner.start(other, lab)
    assert other.store.journal("test") == [] and other.store.active_session("test") is None
    assert t.files["/etc/app.conf"] == b"bad" and len(ctx.store.journal("test")) == 2
    with pytest.raises(BreakfixError, match=r"lab demo was started on test from .*`lab reset --take-over`"):
        runner.reset(other)  # nothing of its own to undo: it names the running lab and leaves it alone
    assert lease_of(kube) is not None and t.files["/etc/app.conf"] == b"bad"
    assert other.store.journal("test") == [] and other.store.active_session("test") is None


def test_a_second_registered_name_for_the_cluster_is_refused(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab)
    alias = second(ctx, kube, t, ctx.store, name="alias")  # its own file lock: only the lease stops it
    with pytest.raises(LeaseHeld, match="registered as test"):
        runner.start(alias, lab)
    assert alias.store.journal("alias") == []


def test_an_expired_lease_is_taken_over_and_the_old_holder_waits_for_the_new_one(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, setup=[], grade=[{"tests.steps.file_is": {"path": "/etc/app.conf", "content": "good"}}])
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    first = runner.start(ctx, lab)
    cm = kube.objects[("v1", "ConfigMap", MARKER_NAMESPACE, MARKER_NAME)]
    stale = json.loads(cm["metadata"]["annotations"][LEASE])
    cm["metadata"]["annotations"][LEASE] = json.dumps({**stale, "expires": 1.0})  # its machine went away
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))
    runner.start(other, lab)
    assert any("taking over an expired lease on test" in line for line in other.logs)  # type: ignore[attr-defined]
    with pytest.raises(LeaseHeld, match="in use"):
        runner.grade(ctx, lab, ctx.store.session(first.id))
    with pytest.raises(LeaseHeld, match="reset that lab first"):  # undoing under the new lab would break it
        runner.reset(ctx)
    assert len(ctx.store.journal("test")) == 1  # the break, still to undo once the other lab is gone
    runner.reset(other)
    runner.reset(ctx)
    assert t.files["/etc/app.conf"] == b"good" and lease_of(kube) is None


def test_two_takers_at_once_cannot_both_win(tmp_path: Path) -> None:
    """Both read the marker before either writes: the second write is refused by its stale resourceVersion."""
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))
    real_get = kube.get
    raced: list[bool] = []

    def get_then_race(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        obj = real_get(*args, **kwargs)
        if not raced:  # the other machine takes the lease between this read and this write
            raced.append(True)
            hold_lease(kube, other.store, "test", 7, "demo", 9e9)
        return obj

    kube.get = get_then_race  # type: ignore[method-assign]
    with pytest.raises(LeaseHeld, match=r"taken at the same moment: lab demo \(session 7\).*`lab reset` frees it"):
        hold_lease(kube, ctx.store, "test", 1, "demo", 9e9)
    kube.get = real_get  # type: ignore[method-assign]
    lease = lease_of(kube)
    assert lease is not None and lease["session"] == 7


def test_fake_kube_refuses_a_stale_resource_version() -> None:
    kube = FakeKube()
    made = kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {}})
    kube.replace({**made, "data": {"x": "1"}})
    from breakfix.errors import ApiRefused

    with pytest.raises(ApiRefused, match="modified") as err:
        kube.replace({**made, "data": {"x": "2"}})
    assert err.value.status == 409


def test_status_renews_the_lease_of_a_running_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    from breakfix.api import Breakfix

    lab = lab_from(tmp_path)
    ctx, _t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab)
    cm = kube.objects[("v1", "ConfigMap", MARKER_NAMESPACE, MARKER_NAME)]
    lease = json.loads(cm["metadata"]["annotations"][LEASE])
    cm["metadata"]["annotations"][LEASE] = json.dumps({**lease, "expires": lease["expires"] - 5000})

    @contextlib.contextmanager
    def context(self: Breakfix, lab: object = None, session: object = None) -> Any:
        yield ctx

    monkeypatch.setattr(Breakfix, "context", context)
    monkeypatch.setattr(Breakfix, "cluster", lambda self: ctx.cluster)
    status = Breakfix(store=ctx.store).status()
    assert status.status_text == "active"
    renewed = lease_of(kube)
    assert renewed is not None and renewed["expires"] > lease["expires"] - 100


def test_parallel_commands_on_a_new_state_folder_agree_on_who_they_are(tmp_path: Path) -> None:
    """An exam starts every student's lab in parallel: all must write the same holder into their leases."""
    stores = [State(tmp_path / "state") for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        holders = list(pool.map(lambda s: lease_holder(s, "c").rsplit("/", 2)[1], stores))
    assert len(set(holders)) == 1
    assert lease_holder(State(tmp_path / "state"), "c").split("/")[1] == holders[0]
