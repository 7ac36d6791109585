"""Several labs on one cluster (`lab start A B`), on fakes: one clock, a journal per lab, one reset for all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from breakfix import footprint, runner
from breakfix.api import Breakfix
from breakfix.catalog import Lab, load_catalog, load_lab
from breakfix.clusters import read_lease
from breakfix.errors import BreakfixError, StepError
from breakfix.state import State
from tests.unit.contexts import LAB, marked_ctx
from tests.unit.test_lease import second

pytestmark = pytest.mark.usefixtures("fast_clock")


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test steps may share a cluster here (real labs' footprints are tested in test_footprint)."""
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")
    monkeypatch.setattr(footprint, "IN_NAMESPACES", footprint.IN_NAMESPACES | {"tests.steps.write"})


def a_lab(tmp_path: Path, lab_id: str, path: str, **change: object) -> Lab:
    """The demo lab under another id, breaking the file PATH."""
    spec = yaml.safe_load(yaml.safe_dump(LAB))
    spec.update(id=lab_id, title=f"Lab {lab_id}", time_limit="5m", setup=[])
    spec["break"] = [{"tests.steps.write": {"path": path, "content": "bad"}}]
    spec["confirm"] = [{"tests.steps.file_is": {"path": path, "content": "good", "expect": "fail", "within": "5s"}}]
    spec["grade"] = [{"tests.steps.file_is": {"path": path, "content": "good", "weight": 2}}]
    spec["solve"] = [{"tests.steps.write": {"path": path, "content": "good"}}]
    spec["cheats"] = {"wrong": [{"tests.steps.write": {"path": path, "content": "meh"}}]}
    spec.update(change)
    folder = tmp_path / lab_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab.yaml").write_text(yaml.safe_dump(spec))
    return load_lab(folder / "lab.yaml")


def test_two_labs_start_under_one_clock_grade_apart_and_reset_together(tmp_path: Path) -> None:
    one, two = a_lab(tmp_path, "one", "/etc/one.conf"), a_lab(tmp_path, "two", "/etc/two.conf")
    ctx, t, kube = marked_ctx({"/etc/one.conf": b"good", "/etc/two.conf": b"good"})
    first, second = runner.start_together(ctx, [(one, one.folder), (two, two.folder)])
    assert t.files["/etc/one.conf"] == t.files["/etc/two.conf"] == b"bad"
    assert first.started is not None and first.deadline == second.deadline == pytest.approx(first.started + 600)
    assert (first.data["task"], second.data["task"]) == (1, 2)
    assert second.data["together"] == first.id and ctx.store.lead_of(second).id == first.id
    assert [s.id for s in ctx.store.open_sessions("test")] == [first.id, second.id]
    assert {e.session for e in ctx.store.journal("test")} == {first.id, second.id}  # each lab its own entries
    _cm, lease = read_lease(kube)
    assert lease is not None and lease["session"] == first.id and lease["lab"] == "one+two"

    t.files["/etc/two.conf"] = b"good"  # the student fixes the second task only
    assert not runner.grade(ctx, one, ctx.store.session(first.id)).passed
    assert runner.grade(ctx, two, ctx.store.session(second.id)).passed
    assert ctx.store.session(second.id).status == "solved" and ctx.store.session(first.id).status == "active"
    _cm, lease = read_lease(kube)
    assert lease is not None and lease["session"] == first.id  # grading task 2 renews the first one's lease

    runner._on_session(ctx, ctx.store.session(first.id))
    assert runner.reset(ctx) == 2
    assert t.files["/etc/one.conf"] == t.files["/etc/two.conf"] == b"good"
    assert ctx.store.open_sessions("test") == [] and ctx.store.journal("test") == []
    assert {ctx.store.session(s).status for s in (first.id, second.id)} == {"closed"}
    assert read_lease(kube)[1] is None


def test_a_lab_that_fails_to_start_rolls_back_every_lab_started_with_it(tmp_path: Path) -> None:
    one = a_lab(tmp_path, "one", "/etc/one.conf")
    never = a_lab(  # its fault never shows: the start fails after the first lab broke its file
        tmp_path,
        "never",
        "/etc/two.conf",
        confirm=[{"tests.steps.file_is": {"path": "/etc/two.conf", "content": "bad", "expect": "fail"}}],
    )
    ctx, t, _kube = marked_ctx({"/etc/one.conf": b"good", "/etc/two.conf": b"good"})
    with pytest.raises(StepError, match="did not show"):
        runner.start_together(ctx, [(one, one.folder), (never, never.folder)])
    assert t.files["/etc/one.conf"] == t.files["/etc/two.conf"] == b"good"
    assert ctx.store.journal("test") == [] and ctx.store.open_sessions("test") == []
    assert [s.status for s in ctx.store.sessions("test")] == ["aborted", "aborted"]


def test_labs_that_clash_are_refused_before_anything_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(footprint, "IN_NAMESPACES", footprint.IN_NAMESPACES - {"tests.steps.write"})
    one, two = a_lab(tmp_path, "one", "/etc/one.conf"), a_lab(tmp_path, "two", "/etc/two.conf")
    ctx, t, _kube = marked_ctx({"/etc/one.conf": b"good", "/etc/two.conf": b"good"})
    with pytest.raises(BreakfixError, match="cannot run together on test: one needs the cluster to itself"):
        runner.start_together(ctx, [(one, one.folder), (two, two.folder)])
    assert t.files["/etc/one.conf"] == b"good" and ctx.store.sessions("test") == []


def test_one_lab_alone_is_not_marked_as_started_with_others(tmp_path: Path) -> None:
    one = a_lab(tmp_path, "one", "/etc/one.conf")
    ctx, _t, _kube = marked_ctx({"/etc/one.conf": b"good"})
    session = runner.start(ctx, one)
    assert "together" not in session.data and "task" not in session.data
    assert ctx.store.together(session) == [session]


def test_another_machine_takes_labs_started_together_over_from_the_copy(tmp_path: Path) -> None:
    """The journal copy on the cluster holds every lab's changes: a take-over puts all of them back."""
    one, two = a_lab(tmp_path, "one", "/etc/one.conf"), a_lab(tmp_path, "two", "/etc/two.conf")
    ctx, t, kube = marked_ctx({"/etc/one.conf": b"good", "/etc/two.conf": b"good"})
    runner.start_together(ctx, [(one, one.folder), (two, two.folder)])
    other = second(ctx, kube, t, State(tmp_path / "machine2" / "state.db"))
    assert runner.reset(other, take_over=True) == 2
    assert t.files["/etc/one.conf"] == t.files["/etc/two.conf"] == b"good"
    assert other.store.open_sessions("test") == [] and read_lease(kube)[1] is None
    taken = other.store.sessions("test")[0]
    assert taken.lab == "one" and "together" not in taken.data  # the first machine's session numbers stay there


def test_reading_the_solution_of_any_lab_run_together_costs_that_labs_score() -> None:
    store = State()
    store.add_cluster("c1", "/nowhere/c1.yaml", "inventory", "m")
    lead = store.new_session("c1", "svc-wrong-selector")
    other = store.new_session("c1", "secret-key-missing")
    store.update_session(lead.id, status="active", data={"together": lead.id, "task": 1})
    store.update_session(other.id, status="active", data={"together": lead.id, "task": 2})
    lab_id, text = Breakfix(store=store, catalog=load_catalog()).solution("secret-key-missing")
    assert lab_id == "secret-key-missing" and text
    assert store.session(other.id).data.get("solution_viewed") and not store.session(lead.id).data.get(
        "solution_viewed"
    )
