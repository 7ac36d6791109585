"""The lab cycle on fakes: start (setup, break, confirm), grade, reset, verify, and rollbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from breakfix import runner
from breakfix.catalog import load_lab
from breakfix.clusters import MARKER_NAME, MARKER_NAMESPACE
from breakfix.errors import BreakfixError, LabFileError, NotALabCluster, StepError
from tests.fakes import FakeKube, FakeTransport
from tests.unit.test_changes import make_ctx

LAB = {
    "id": "demo",
    "title": "Demo lab",
    "domain": "troubleshooting",
    "difficulty": "easy",
    "time_limit": "5m",
    "task": "Make /etc/app.conf say good on {{ control_plane }}.",
    "setup": [{"sentinel": {"name": "ledger"}}],
    "break": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "bad"}}],
    "confirm": [
        {"tests.steps.file_is": {"path": "/etc/app.conf", "content": "good", "expect": "fail", "within": "5s"}}
    ],
    "grade": [
        {"tests.steps.file_is": {"path": "/etc/app.conf", "content": "good", "weight": 2}},
        {"graders.api.sentinel_intact": {"name": "ledger"}},
    ],
    "hints": ["look at /etc/app.conf"],
    "solve": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "good"}}],
    "cheats": {"wrong-value": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "meh"}}]},
    "solution": "write good",
}


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")


def lab_from(tmp_path: Path, **change: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "demo" / "lab.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**LAB, **change}))
    return load_lab(path)


def marked_ctx(files: dict[str, bytes]):  # type: ignore[no-untyped-def]
    kube = FakeKube({"ConfigMap"})
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": MARKER_NAME, "namespace": MARKER_NAMESPACE},
            "data": {"id": "m1"},
        }
    )
    t = FakeTransport(files)
    t.expect("true")
    ctx = make_ctx(t, kube)
    ctx.store.add_cluster("test", "/dev/null", "inventory", "m1")
    return ctx, t, kube


def test_start_grade_reset(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    assert session.status == "active" and session.deadline == pytest.approx(session.started + 300)
    assert t.files["/etc/app.conf"] == b"bad"
    report = runner.grade(ctx, lab, session)
    assert not report.passed and report.score == 1 and report.max_score == 3
    t.files["/etc/app.conf"] = b"good"  # the student's fix
    report = runner.grade(ctx, lab, ctx.store.session(session.id))
    assert report.passed and ctx.store.session(session.id).status == "solved"
    assert len(ctx.store.grades(session.id)) == 2
    assert runner.reset(ctx) == 2
    assert t.files["/etc/app.conf"] == b"good" and kube.get("v1", "ConfigMap", "ledger", "default") is None
    assert ctx.store.active_session("test") is None


def test_second_start_is_refused(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, _t, _k = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab)
    with pytest.raises(BreakfixError, match="still running"):
        runner.start(ctx, lab)


def test_unmarked_cluster_is_refused_before_any_change(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    kube.delete("v1", "ConfigMap", MARKER_NAME, MARKER_NAMESPACE)
    with pytest.raises(NotALabCluster):
        runner.start(ctx, lab)
    assert t.files["/etc/app.conf"] == b"good" and ctx.store.journal("test") == []


def test_missing_capability_is_refused(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, requires=["swap"])
    ctx, _t, _k = marked_ctx({"/etc/app.conf": b"good"})
    with pytest.raises(BreakfixError, match="needs swap"):
        runner.start(ctx, lab)


def test_fault_not_shown_rolls_back(tmp_path: Path) -> None:
    # the break writes "bad" but the confirm waits for a *passing* check that never comes
    lab = lab_from(
        tmp_path, confirm=[{"tests.steps.file_is": {"path": "/etc/app.conf", "content": "x", "within": "1s"}}]
    )
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    with pytest.raises(StepError, match="did not show"):
        runner.start(ctx, lab)
    assert t.files["/etc/app.conf"] == b"good" and kube.get("v1", "ConfigMap", "ledger", "default") is None
    assert ctx.store.journal("test") == [] and ctx.store.active_session("test") is None


def test_ctrl_c_after_the_break_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_from(tmp_path)
    ctx, t, _k = marked_ctx({"/etc/app.conf": b"good"})
    seen: list[tuple[bytes, int]] = []

    def interrupted(*_a: object, **_k: object) -> None:  # Ctrl-C while confirm waits, the fault in place
        seen.append((t.files["/etc/app.conf"], len(ctx.store.journal("test"))))
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "wait_for", interrupted)  # the name the runner calls
    with pytest.raises(KeyboardInterrupt):
        runner.start(ctx, lab)
    assert seen == [(b"bad", 2)]  # interrupted after setup and break were journaled and made
    assert t.files["/etc/app.conf"] == b"good" and ctx.store.journal("test") == []
    assert ctx.store.active_session("test") is None


def test_verify_passes_a_good_lab(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, _k = marked_ctx({"/etc/app.conf": b"good"})
    phases = runner.verify(ctx, lab, settle=1)
    assert [(p.name, p.ok) for p in phases] == [
        ("break", True),
        ("grade-after-break", True),
        ("cheat:wrong-value", True),
        ("solve", True),
        ("reset", True),
    ]
    assert t.files["/etc/app.conf"] == b"good"


def test_verify_catches_a_cheat_that_passes(tmp_path: Path) -> None:
    lab = lab_from(
        tmp_path, cheats={"same-as-fix": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "good"}}]}
    )
    ctx, _t, _k = marked_ctx({"/etc/app.conf": b"good"})
    phases = {p.name: p for p in runner.verify(ctx, lab, settle=1)}
    assert not phases["cheat:same-as-fix"].ok and "PASSED" in phases["cheat:same-as-fix"].detail
    assert phases["solve"].ok and phases["reset"].ok


def test_verify_catches_a_broken_reference_fix(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, solve=[{"tests.steps.write": {"path": "/etc/app.conf", "content": "nope"}}])
    ctx, t, _k = marked_ctx({"/etc/app.conf": b"good"})
    phases = {p.name: p for p in runner.verify(ctx, lab, settle=1)}
    assert not phases["solve"].ok and phases["reset"].ok and t.files["/etc/app.conf"] == b"good"


def test_verify_runs_alternatives_and_undoes_each(tmp_path: Path) -> None:
    """An alternative is another valid fix: it must pass, and is put back to broken before the next phase."""
    lab = lab_from(
        tmp_path,
        solve=[{"tests.steps.file_is": {"path": "/etc/app.conf", "content": "bad"}}],  # proves the undo
        alternatives={"by-hand": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "good"}}]},
    )
    ctx, t, _k = marked_ctx({"/etc/app.conf": b"good"})
    phases = runner.verify(ctx, lab, settle=1)
    assert [(p.name, p.ok) for p in phases] == [
        ("break", True),
        ("grade-after-break", True),
        ("cheat:wrong-value", True),
        ("alternative:by-hand", True),
        ("solve", False),  # the alternative was undone: the file is broken again, so a check-only solve fails
        ("reset", True),
    ]
    assert t.files["/etc/app.conf"] == b"good"


def test_verify_catches_an_alternative_that_fails(tmp_path: Path) -> None:
    lab = lab_from(
        tmp_path, alternatives={"half-fix": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "meh"}}]}
    )
    ctx, _t, _k = marked_ctx({"/etc/app.conf": b"good"})
    phases = {p.name: p for p in runner.verify(ctx, lab, settle=1)}
    alt = phases["alternative:half-fix"]
    assert not alt.ok and "FAILED" in alt.detail and not all(c.ok for c in alt.checks)
    assert phases["solve"].ok and phases["reset"].ok


def test_alternative_named_like_a_cheat_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabFileError, match="wrong-value is also the name of a cheat"):
        lab_from(
            tmp_path, alternatives={"wrong-value": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "x"}}]}
        )


@pytest.mark.parametrize("section", ["break", "solve"])
def test_missing_apply_file_is_refused_in_any_section(tmp_path: Path, section: str) -> None:
    with pytest.raises(LabFileError, match=rf"{section}\[0\] apply.file.*nope.yaml does not exist"):
        lab_from(tmp_path, **{section: [{"apply": {"file": "manifests/nope.yaml"}}]})


def test_missing_apply_file_in_a_cheat_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabFileError, match=r"cheats.x\[0\] apply.file"):
        lab_from(tmp_path, cheats={"x": [{"apply": {"file": "manifests/nope.yaml"}}]})


def test_task_text_is_rendered(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, _t, _k = marked_ctx({})
    assert runner.render_task(ctx, lab) == "Make /etc/app.conf say good on cp1."


def test_missing_node_address_is_a_clear_error(tmp_path: Path) -> None:
    lab = lab_from(
        tmp_path, **{"break": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "{{ worker_ip }}"}}]}
    )
    ctx, t, _k = marked_ctx({"/etc/app.conf": b"good"})
    with pytest.raises(BreakfixError, match="needs worker_ip"):
        runner.start(ctx, lab)
    assert t.files["/etc/app.conf"] == b"good" and ctx.store.journal("test") == []
