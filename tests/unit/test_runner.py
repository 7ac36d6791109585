"""The lab cycle on fakes: start (setup, break, confirm), grade, reset, verify, and rollbacks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from breakfix import runner
from breakfix.clusters import MARKER_NAME, MARKER_NAMESPACE
from breakfix.errors import BreakfixError, LabFileError, NotALabCluster, StepError
from breakfix.results import HELD_BACK
from tests.unit.contexts import CP_TAINT, LAB, FakeClock, lab_from, marked_ctx, node_obj

pytestmark = pytest.mark.usefixtures("fast_clock")  # confirm, settle and API waits run their course at once


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")


def test_start_grade_reset(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    assert session.status == "active" and session.deadline == pytest.approx(session.started + 300)
    assert t.files["/etc/app.conf"] == b"bad"
    report = runner.grade(ctx, lab, session)
    # the lab's checks weigh 3, the engine's four guard checks 1 each; the guard passes on an untouched cluster
    assert not report.passed and report.score == 1 + 4 and report.max_score == 3 + 4
    t.files["/etc/app.conf"] = b"good"  # the student's fix
    report = runner.grade(ctx, lab, ctx.store.session(session.id))
    assert report.passed and ctx.store.session(session.id).status == "solved"
    assert len(ctx.store.grades(session.id)) == 2
    assert runner.reset(ctx) == 2
    assert t.files["/etc/app.conf"] == b"good" and kube.get("v1", "ConfigMap", "ledger", "default") is None
    assert ctx.store.active_session("test") is None


def test_failure_details_are_held_back_while_the_fault_is_live(tmp_path: Path) -> None:
    """What a grader says of the broken state names the fault: a student sees it only once that fault is gone."""
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    report = runner.grade(ctx, lab, session)
    assert report.fault_live
    shown = report.for_student()
    failing = [c for c in shown.checks if not c.ok]
    assert failing and all(c.message == HELD_BACK and not c.hint for c in failing)
    assert [c.message for c in report.checks if not c.ok] != [c.message for c in failing]  # recorded in full
    recorded = ctx.store.grades(session.id)[-1]
    assert HELD_BACK not in str(recorded)
    t.files["/etc/app.conf"] = b"good"  # the fault is gone, but something else broke: details help now
    kube.delete("v1", "ConfigMap", "ledger", "default")
    report = runner.grade(ctx, lab, ctx.store.session(session.id))
    assert not report.passed and not report.fault_live and report.for_student() is report


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


def test_fault_not_shown_rolls_back(tmp_path: Path, fast_clock: FakeClock) -> None:
    # the break writes "bad" but the confirm waits for a *passing* check that never comes
    lab = lab_from(
        tmp_path, confirm=[{"tests.steps.file_is": {"path": "/etc/app.conf", "content": "x", "within": "1s"}}]
    )
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    with pytest.raises(StepError, match="did not show"):
        runner.start(ctx, lab)
    assert fast_clock.slept == [3.0]  # one poll, then the 1s `within` had run out
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


def test_guard_fails_a_fix_that_changes_nodes_and_reset_puts_them_back(tmp_path: Path) -> None:
    """A label or a taint the student changed fails the engine's guard, whatever the lab checks; reset restores it."""
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    t.files["/etc/app.conf"] = b"good"
    assert runner.grade(ctx, lab, session).passed
    kube.patch(
        "v1", "Node", "cp1", None, {"metadata": {"labels": {"breakfix.dev/parked": "true"}}, "spec": {"taints": None}}
    )
    report = runner.grade(ctx, lab, ctx.store.session(session.id))
    guard = {c.name: c for c in report.checks if c.name.startswith("guard:")}
    kept = guard["guard: nodes keep their labels and taints"]
    assert not report.passed and not kept.ok
    assert "cp1: label breakfix.dev/parked added" in kept.message
    assert "taint node-role.kubernetes.io/control-plane:NoSchedule removed" in kept.message
    assert guard["guard: nodes stay Ready"].ok and guard["guard: no new cluster-admins"].ok
    runner.reset(ctx)
    live = kube.get("v1", "Node", "cp1")
    assert live is not None and "breakfix.dev/parked" not in live["metadata"]["labels"]
    assert live["spec"]["taints"] == [CP_TAINT]


def test_guard_counts_a_new_cluster_admin_and_reset_removes_it(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    t.files["/etc/app.conf"] = b"good"
    kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "w1-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        }
    )
    report = runner.grade(ctx, lab, session)
    admins = next(c for c in report.checks if c.name == "guard: no new cluster-admins")
    assert not report.passed and "w1-admin" in admins.message and report.score == report.max_score - 1
    assert next(c for c in report.checks if c.name == "guard: kube-system keeps running").ok
    runner.reset(ctx)
    assert kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "w1-admin") is None


def test_labels_and_taints_the_lab_itself_set_are_fine(tmp_path: Path) -> None:
    """The guard allows each node field as before the lab or as the lab left it, and nothing else."""
    from breakfix.collateral import node_changes

    def fp(labels: dict[str, str], taints: dict[str, str]) -> dict[str, object]:
        return {
            "nodes": {"w1": {"labels": labels, "taints": taints, "cordoned": False, "ready": True}},
            "admins": [],
            "system": {},
        }

    before = fp({"a": "1"}, {})
    started = fp({"a": "1", "lab": "x"}, {"breakfix.dev/maintenance:NoSchedule": "true"})
    assert node_changes(before, started, started) == []
    assert node_changes(before, started, before) == []  # the fix lifted what the lab put there
    renamed = fp({"a": "1"}, {"node.kubernetes.io/maintenance:NoSchedule": "true"})
    assert node_changes(before, started, renamed) == ["w1: taint node.kubernetes.io/maintenance:NoSchedule added"]
    managed = fp({"a": "1"}, {})
    managed_node = node_obj("w1", [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
    from breakfix.collateral import _taints

    assert _taints(managed_node) == {} and node_changes(before, started, managed) == []


def test_guard_fails_when_kube_system_runs_fewer_pods_than_before(tmp_path: Path) -> None:
    """Scaling CoreDNS down or parking kube-proxy is damage, whatever the lab's own checks say."""
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    system = {"namespace": "kube-system"}
    kube.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", **system},
                 "spec": {"replicas": 2}, "status": {"availableReplicas": 2}})  # fmt: skip
    kube.create({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "kube-proxy", **system},
                 "status": {"desiredNumberScheduled": 2, "numberAvailable": 2}})  # fmt: skip
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "broken", "namespace": "kube-system"},
            "spec": {"replicas": 1},
            "status": {},
        }
    )  # fmt: skip  (not running before the lab: not judged)
    session = runner.start(ctx, lab)
    t.files["/etc/app.conf"] = b"good"
    assert runner.grade(ctx, lab, session).passed
    kube.patch(
        "apps/v1", "Deployment", "coredns", "kube-system", {"spec": {"replicas": 0}, "status": {"availableReplicas": 0}}
    )
    kube.patch(
        "apps/v1",
        "DaemonSet",
        "kube-proxy",
        "kube-system",
        {"status": {"desiredNumberScheduled": 0, "numberAvailable": 0}},
    )
    report = runner.grade(ctx, lab, ctx.store.session(session.id))
    system = next(c for c in report.checks if c.name == "guard: kube-system keeps running")
    assert not report.passed and not system.ok
    assert "Deployment/coredns 0/2 available (was 2/2)" in system.message
    assert "DaemonSet/kube-proxy 0/2 available (was 2/2)" in system.message and "broken" not in system.message


def test_reset_names_what_it_cannot_put_back(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    runner.start(ctx, lab)
    kube.delete("v1", "Node", "cp1")
    with pytest.raises(BreakfixError, match="node cp1 is gone"):
        runner.reset(ctx)
    assert ctx.store.active_session("test") is None and t.files["/etc/app.conf"] == b"good"


def test_reset_names_a_component_started_by_hand_and_exits_non_zero(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    ctx.cluster = dataclasses.replace(ctx.cluster, capabilities=frozenset({"systemd"}))
    t.expect(r"for p in /etc/kubernetes .*")  # the node-file fingerprint: none of the watched paths exist here
    t.expect(r"for u in kubelet containerd; .*")
    runner.start(ctx, lab)
    t.expect(r".*pgrep -x.*", stdout="kubelet 4242\n")
    with pytest.raises(BreakfixError, match=r"cp1: kubelet \(pid 4242\) runs outside kubelet.service"):
        runner.reset(ctx)
    assert t.files["/etc/app.conf"] == b"good" and ctx.store.journal("test") == []


def test_start_shows_progress_not_the_fault_unless_asked(tmp_path: Path) -> None:
    """Progress lines name the phase and step number; the breaker and its arguments only with spoilers."""
    lab = lab_from(tmp_path)
    for spoilers in (False, True):
        ctx, _t, _kube = marked_ctx({"/etc/app.conf": b"good"})
        said: list[str] = []
        ctx.log = said.append
        ctx.spoilers = spoilers
        runner.start(ctx, lab)
        text = "\n".join(said)
        assert ("/etc/app.conf" in text) is spoilers and ("bad" in text) is spoilers
        assert ("  break: step 1 of 1" in said) is not spoilers
        runner.reset(ctx)


def test_a_break_that_takes_the_api_away_still_starts_and_the_guard_compares_with_before(tmp_path: Path) -> None:
    """etcd on an empty store or a dead API server: the cluster after the break cannot be read, and need not be."""
    lab = lab_from(tmp_path, **{"break": [*LAB["break"], {"tests.steps.take_api_away": {}}]})  # type: ignore[list-item]
    ctx, t, kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    assert session.status == "active" and ctx.state.get("fingerprint.started") is None
    report = runner.grade(ctx, lab, session, record=False)
    assert not report.passed and any(c.name.startswith("guard") and c.status == "error" for c in report.checks)
    kube.down = False
    t.files["/etc/app.conf"] = b"good"
    assert runner.grade(ctx, lab, session, record=False).passed


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


@pytest.mark.parametrize(("own", "window"), [(None, 45.0), ("150s", 150.0), ("20s", 45.0), ("10m", 300.0)])
def test_a_lab_may_grade_its_cheats_longer_than_the_command_line_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own: str | None, window: float
) -> None:
    """A cheat whose effect shows only after a restart would "fail" in a short window: the lab asks for longer."""
    extra = {"cheat_window": own} if own else {}
    lab = lab_from(tmp_path, **extra)
    seen: list[float] = []
    plain = runner._try_fix

    def spy(ctx: Any, lab: Any, phase: str, steps: Any, window: float, must_pass: bool) -> Any:
        if phase.startswith("cheat:"):
            seen.append(window)
        return plain(ctx, lab, phase, steps, min(window, 1), must_pass)

    monkeypatch.setattr(runner, "_try_fix", spy)
    ctx, _t, _k = marked_ctx({"/etc/app.conf": b"good"})
    phases = runner.verify(ctx, lab, settle=300, cheat_window=45)
    assert seen == [window] and all(p.ok for p in phases)  # never longer than --settle


def test_a_graders_throwaway_object_is_not_a_gap_in_the_labs_journal() -> None:
    assert runner.graders_own("ConfigMap default/breakfix-probe-write-8a60f5b4 was created")
    assert runner.graders_own("Pod breakfix-probe-1a2b3c4d was created")
    assert not runner.graders_own("ConfigMap default/orders-ledger was created")
    assert not runner.graders_own("ConfigMap default/my-breakfix-probe-x was created")
