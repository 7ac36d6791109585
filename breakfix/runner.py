"""The lab life cycle: preflight, setup, break, confirm, grade, reset, and the self-test `verify`."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breakfix import journal_copy, node_files, object_fingerprint
from breakfix.bypasses import Bypass, graded_targets, plan, plan_routing, routed_services
from breakfix.catalog import Lab
from breakfix.clock import CLOCK
from breakfix.clusters import (
    LEASE_GRACE,
    LeaseHeld,
    check_marker,
    describe_lease,
    hold_lease,
    lease_holder,
    read_lease,
    release_lease,
    taken_over,
)
from breakfix.collateral import (
    BEFORE,
    STARTED,
    Fingerprint,
    fingerprint,
    guard_checks,
    node_changes,
    restore,
    stray_processes,
)
from breakfix.context import Context, SessionState
from breakfix.durations import format_duration
from breakfix.errors import BreakfixError, ClusterError, StepError, api_not_ready
from breakfix.footprint import refuse_clashes
from breakfix.grading import fault_live, parallel, run_checks, wait_for
from breakfix.lock import cluster_lock
from breakfix.results import CheckResult, GradeReport
from breakfix.state import DRAWN, RUNNING, TASK, TOGETHER, Session, SessionStatus
from breakfix.steps import Step
from breakfix.undo import replay, verify_restored


def preflight(ctx: Context, lab: Lab, need_marker: bool = True) -> None:
    """Check capabilities, API access, the lab marker and every node before touching anything."""
    missing = sorted(set(lab.spec.requires) - ctx.cluster.capabilities)
    if missing:
        raise ClusterError(
            f"lab {lab.id} needs {', '.join(missing)}, which cluster {ctx.cluster.name} "
            f"({ctx.cluster.provider}) does not offer"
        )
    ctx.kube.version()
    if need_marker:
        check_marker(ctx.kube, ctx.store, ctx.cluster.name)

    def probe(name: str) -> None:
        ctx.node(name).check("true", timeout=30)

    parallel(probe, [n.name for n in ctx.cluster.nodes], name="probe")


def run_steps(ctx: Context, steps: list[Step], phase: str) -> None:
    """Run breaker steps in order, journaling under PHASE."""
    ctx.phase = phase
    for number, step in enumerate(steps, 1):
        ctx.log(f"  {phase}: {step.title}" if ctx.spoilers else f"  {phase}: step {number} of {len(steps)}")
        try:
            ctx.call(step, phase)
        except BreakfixError:
            raise
        except Exception as exc:
            raise StepError(f"{phase} step {step.ref} failed: {type(exc).__name__}: {exc}") from exc


VARIANT = "variant"  # session data: the seed and the values of a lab with variables


def variant_of(session: Session) -> tuple[int | None, dict[str, Any]]:
    """The seed and the values a session's lab was drawn with ((None, {}) for a lab without variables)."""
    found = session.data.get(VARIANT)
    if not isinstance(found, dict) or not isinstance(found.get("seed"), int):
        return None, {}
    values = found.get("values")
    return found["seed"], dict(values) if isinstance(values, dict) else {}


def render_task(ctx: Context, lab: Lab) -> str:
    """The task text with the cluster's variables filled in."""
    from breakfix.steps import render

    return str(render(lab.spec.task, ctx.variables())).strip()


def locked(ctx: Context) -> AbstractContextManager[None]:
    """This machine's lock on the context's cluster: one command changes it at a time."""
    return cluster_lock(ctx.store.path.parent, ctx.cluster.name)


def start(ctx: Context, lab: Lab, student: str | None = None, exam: str | None = None) -> Session:
    """Set up and break the cluster, prove the fault is live, start the clock; roll back on any failure.

    A rollback undoes only what this start journaled, never older entries."""
    return start_together(ctx, [(lab, ctx.lab_dir)], student, exam)[0]


def start_together(
    ctx: Context,
    labs: list[tuple[Lab, Path | None]],
    student: str | None = None,
    exam: str | None = None,
    drawn: bool = False,
    numbers: list[int] | None = None,
) -> list[Session]:
    """Start several labs on one cluster, one after the other (each with its lab folder), under one clock.

    Labs that would interfere are refused first (breakfix.footprint). The first lab's session holds the
    cluster's lease and the fingerprint taken before them all; each lab journals under its own session.
    When any of them fails to start, all of them are rolled back. NUMBERS: the tasks' numbers (an exam's),
    1, 2, ... by default."""
    with locked(ctx):
        return _start(ctx, labs, student, exam, drawn, numbers or list(range(1, len(labs) + 1)))


def _start(
    ctx: Context,
    labs: list[tuple[Lab, Path | None]],
    student: str | None,
    exam: str | None,
    drawn: bool,
    numbers: list[int],
) -> list[Session]:
    store, cluster = ctx.store, ctx.cluster.name
    active = store.active_session(cluster)
    if active is not None:
        which = "a lab" if active.exam or active.data.get(DRAWN) else f"lab {active.lab}"  # drawn: its id is hidden
        raise BreakfixError(f"{which} is still running on {cluster}: `lab reset --cluster {cluster}` first")
    if store.journal(cluster):
        raise BreakfixError(
            f"cluster {cluster} has unfinished changes in its journal: run `lab reset --cluster {cluster}` first"
        )
    if not labs:
        raise BreakfixError("no lab to start")
    refuse_clashes([lab for lab, _folder in labs], cluster)
    ctx.log(f"preflight: {cluster} ({ctx.cluster.provider}, {len(ctx.cluster.nodes)} nodes)")
    for lab, _folder in labs:
        preflight(ctx, lab)
    mark = store.journal_last_id(cluster)  # what this start journals comes after it
    sessions = [store.new_session(cluster, lab.id, student, exam) for lab, _folder in labs]
    lead = sessions[0]
    limit = sum(lab.spec.time_limit for lab, _folder in labs)
    try:  # the cluster's own lease: another machine, or another name for this cluster, is refused here
        until = time.time() + limit + LEASE_GRACE
        hidden = drawn or exam is not None  # the marker is readable on the cluster: no id that names a fault
        named = f"{len(labs)} lab(s)" if hidden else "+".join(lab.id for lab, _f in labs)
        hold_lease(ctx.kube, store, cluster, lead.id, named, until, ctx.log)
    except BaseException:
        for session in sessions:
            store.update_session(session.id, status=SessionStatus.aborted.value, ended=time.time())
        raise
    try:
        _on_session(ctx, lead)
        take_fingerprint(ctx)
        for number, (lab, folder), session in zip(numbers, labs, sessions, strict=True):
            _on_session(ctx, session, folder)
            if drawn:
                ctx.state.set(DRAWN, True)
            if len(labs) > 1:
                ctx.state.set(TOGETHER, lead.id)
                ctx.state.set(TASK, number)
                ctx.log(f"task {number} ({len(labs)} in all)")
            if lab.seed is not None:  # a variant: its seed replays the attempt, its values show in exam reports
                ctx.state.set(VARIANT, {"seed": lab.seed, "values": lab.values})
            _break_one(ctx, lab)
        started = _started_fingerprint(ctx)
        for session in sessions:
            _on_session(ctx, session)
            ctx.state.set(STARTED, started)
            if session is not lead:  # each lab's guard compares with the cluster before them all
                ctx.state.set(BEFORE, store.session(lead.id).data.get(BEFORE))
    except BaseException as exc:
        ctx.log(f"rolling back: {exc if str(exc) else type(exc).__name__}")
        try:
            _on_session(ctx, lead)
            replay(ctx, after=mark)
            journal_copy.clear(ctx)
            free_lease(ctx)
        finally:
            for session in sessions:
                store.update_session(session.id, status=SessionStatus.aborted.value, ended=time.time())
        raise
    now = time.time()
    for session in sessions:
        store.update_session(session.id, status=SessionStatus.active.value, started=now, deadline=now + limit)
    _on_session(ctx, lead)
    return [store.session(session.id) for session in sessions]


def _on_session(ctx: Context, session: Session, folder: Path | None = None) -> None:
    """Point CTX at SESSION: its journal entries, its saved values and (FOLDER) its lab's files."""
    ctx.session_id = session.id
    ctx.state = SessionState(ctx.store, session.id)
    if folder is not None:
        ctx.lab_dir = folder


def _break_one(ctx: Context, lab: Lab) -> None:
    """Set up and break one lab, and wait until its fault shows."""
    run_steps(ctx, lab.steps["setup"], "setup")
    journal_copy.save(ctx)  # a reset from another machine, or after this store was lost, can undo it
    run_steps(ctx, lab.steps["break"], "break")
    journal_copy.save(ctx)
    ctx.log("confirming the fault is live...")
    shown = wait_for(ctx, lab.steps["confirm"], "waiting for the fault to show")
    if not all(shown):
        bad = next(st for st, ok in zip(lab.steps["confirm"], shown, strict=True) if not ok)
        which = f" ({bad.title})" if ctx.spoilers else ""
        raise StepError(f"the fault did not show within {bad.within:.0f}s{which}; nothing was left broken")


def lead_of(ctx: Context, session: Session) -> Session:
    """The first session of the labs SESSION was started with (SESSION itself when it runs alone)."""
    return ctx.store.lead_of(session)


def _started_fingerprint(ctx: Context) -> Fingerprint | None:
    """The cluster as the break left it; None when the break took the API away (an empty store, a dead server):
    the guard then compares with the cluster before the lab."""
    try:
        return fingerprint(ctx.kube)
    except BreakfixError as exc:
        if ctx.spoilers:
            ctx.log(f"  the cluster's state after the break cannot be read ({exc}): the guard compares with before")
        return None


def _refuse_if_taken(ctx: Context) -> None:
    """Refuse to undo this machine's changes while another holder's lab runs on top of them (it goes first)."""
    try:
        _cm, lease = read_lease(ctx.kube)
    except BreakfixError:  # the API server down may be this lab's doing: undo what was journaled here
        return
    if (
        lease is not None
        and lease.get("holder") != lease_holder(ctx.store, ctx.cluster.name)
        and float(lease.get("expires", 0)) > time.time()
    ):
        raise LeaseHeld(
            f"cluster {ctx.cluster.name} now runs {describe_lease(lease)}, on top of this machine's changes: "
            "reset that lab first, then run `lab reset` here"
        )


def _handed_over(ctx: Context) -> bool:
    """Whether another machine took this machine's running lab over and reset it: then this journal is void
    (its undos would put back objects into namespaces that are gone), and the session ends here too."""
    session = ctx.store.active_session(ctx.cluster.name)
    try:
        who = taken_over(ctx.kube, ctx.store, ctx.cluster.name, session.id) if session else None
    except BreakfixError:
        return False
    if session is None or who is None:
        return False
    for entry in ctx.store.journal(ctx.cluster.name):
        ctx.store.journal_drop(entry.id)
    for each in ctx.store.open_sessions(ctx.cluster.name):
        ctx.store.update_session(each.id, status=SessionStatus.closed.value, ended=time.time())
    ctx.log(f"lab {session.lab} was taken over and reset from {who}: nothing is left to undo from here")
    return True


def free_lease(ctx: Context) -> None:
    """Give up this machine's lease on the cluster (it runs out by itself when the API cannot be reached)."""
    try:
        release_lease(ctx.kube, ctx.store, ctx.cluster.name)
    except BreakfixError as exc:
        ctx.log(f"could not free the cluster's lease ({exc}); it runs out by itself")


def lease_label(ctx: Context, session: Session) -> str:
    """What the cluster's lease says runs there: the labs' ids, or only how many when the student did not
    choose them (an exam, a draw): the marker can be read on the cluster, and an id names the fault."""
    together = ctx.store.together(session)
    if any(s.exam or s.data.get(DRAWN) for s in together):
        return f"{len(together)} lab(s)"
    return "+".join(s.lab for s in together)


def renew_lease(ctx: Context, session: Session) -> None:
    """Keep the lab's lease on the cluster while it runs; refuse when another holder took the cluster."""
    until = max(time.time(), session.deadline or 0.0) + LEASE_GRACE
    try:
        who = taken_over(ctx.kube, ctx.store, ctx.cluster.name, session.id)
        if who is not None:  # taking the lease again would hold a cluster this lab no longer runs on
            raise LeaseHeld(f"lab {session.lab} was taken over and reset from {who}: `lab reset` closes it here")
        hold_lease(ctx.kube, ctx.store, ctx.cluster.name, session.id, lease_label(ctx, session), until, ctx.log)
    except LeaseHeld:
        raise
    except BreakfixError:  # the API server down is often the lab's fault: the lease outlasts the deadline anyway
        pass


def checks_of(ctx: Context, lab: Lab) -> list[CheckResult]:
    """The lab's checks, run concurrently, then the engine's guard against collateral damage."""
    checks = run_checks(ctx, lab.steps["grade"])
    return checks + guard_checks(ctx.kube, ctx.state.get(BEFORE), ctx.state.get(STARTED))


def grade(ctx: Context, lab: Lab, session: Session | None, record: bool = True) -> GradeReport:
    """Run the lab's checks and the collateral-damage guard, and record the attempt."""
    if session is not None and reset_unfinished(ctx.store.session(session.id)):
        raise BreakfixError(f"the reset of lab {session.lab} did not finish: run `lab reset` again")
    if record and session is not None and session.status in RUNNING:
        renew_lease(ctx, lead_of(ctx, session))
    checks = checks_of(ctx, lab)
    report = GradeReport(lab.id, checks)
    if not report.passed:  # what a student sees then must not name the fault: see GradeReport.for_student
        report.fault_live = fault_live(ctx, lab.steps["confirm"])
    if session is not None and session.started:
        report.elapsed = round(time.time() - session.started, 1)
    if record and session is not None:
        ctx.store.add_grade(session.id, report.score, report.max_score, report.passed, [c.as_dict() for c in checks])
        if report.passed and session.status == SessionStatus.active:
            ctx.store.update_session(session.id, status=SessionStatus.solved.value, solved_at=time.time())
    return report


RESET_BEGUN = "reset_begun"  # session data: when a reset began; it stays until the reset finishes


def reset_unfinished(session: Session) -> bool:
    """Whether a reset of SESSION began and did not finish (interrupted, or it failed)."""
    return bool(session.data.get(RESET_BEGUN))


def reset(ctx: Context, take_over: bool = False) -> int:
    """Undo everything the journal holds, put nodes back as they were, and close the session.

    What cannot be put back is named, one line each, in the error that ends the reset. Until a reset
    finishes, the session cannot be graded (it is half undone). With no journal here, a lab started from
    another machine (or before this store was lost) is named; TAKE_OVER undoes it from the copy of its
    journal kept on the cluster."""
    with locked(ctx):
        took = 0
        if ctx.store.journal(ctx.cluster.name):
            if _handed_over(ctx):
                return 0
            _refuse_if_taken(ctx)
        else:
            took = journal_copy.take_over(ctx, take_over)  # started elsewhere, or this store was lost
        sessions = ctx.store.open_sessions(ctx.cluster.name)  # several when labs run together
        for session in sessions:
            if ctx.state.session_id == session.id:
                ctx.state.set(RESET_BEGUN, time.time())
            else:
                ctx.store.update_session(session.id, data={**session.data, RESET_BEGUN: time.time()})
        undone = replay(ctx)  # newest first: the labs are undone in the reverse of their start
        if undone or took or sessions:  # a copy of another lab's journal stays where it is
            journal_copy.clear(ctx)
        left = put_back(ctx)
        for session in sessions:
            ctx.store.update_session(session.id, status=SessionStatus.closed.value, ended=time.time())
        free_lease(ctx)
    if left:
        raise ClusterError("reset could not put everything back:\n  " + "\n  ".join(left))
    return undone


FILES = "fingerprint.files"
OBJECTS = "fingerprint.objects"


def _watches_files(ctx: Context) -> bool:
    return "systemd" in ctx.cluster.capabilities


def take_fingerprint(ctx: Context) -> None:
    """Record the cluster as it is before a lab: nodes and admins from the API, each node's watched files."""
    ctx.state.set(BEFORE, fingerprint(ctx.kube))
    ctx.state.set(OBJECTS, object_fingerprint.take(ctx.kube))
    if _watches_files(ctx):
        nodes = ctx.nodes()
        taken = dict(zip([n.name for n in nodes], parallel(node_files.take, nodes, name="fingerprint"), strict=True))
        ctx.state.set(FILES, taken)


def differences(ctx: Context) -> list[str]:
    """What differs from the fingerprint taken before the lab (node labels, taints, files, units)."""
    before = ctx.state.get(BEFORE)
    if before is None:
        return []
    wait_for_api(ctx)
    found = node_changes(before, before, fingerprint(ctx.kube))
    found += object_fingerprint.differences(ctx.state.get(OBJECTS), ctx.kube)
    for name, files in (ctx.state.get(FILES) or {}).items():
        found += node_files.differences(ctx.node(name), files)
    return found


#: The names of the throwaway objects graders make (probe pods, trial ConfigMaps); see graders_own.
PROBE_PREFIX = "breakfix-probe-"


def graders_own(difference: str) -> bool:
    """Whether a difference reset found is a grader's throwaway object, not a change the lab's journal missed.

    A grader makes and deletes it in one check; when the store under the API server changes in between
    (an etcd restore), the deletion lands in the other store and the object comes back with the old one.
    Reset removes it all the same (put_back); verify does not count it against the lab."""
    return f"/{PROBE_PREFIX}" in difference or f" {PROBE_PREFIX}" in difference


def put_back(ctx: Context) -> list[str]:
    """Restore what the student changed outside the journal (node labels, taints, cordons, admin bindings,
    the cluster's own objects, node files); name what cannot be put back (a component started by hand)."""
    before = ctx.state.get(BEFORE)
    if before is None:
        return []
    wait_for_api(ctx)
    left = restore(ctx.kube, before, ctx.log)
    left += object_fingerprint.restore(ctx.state.get(OBJECTS), ctx.kube, ctx.log)
    for name, files in (ctx.state.get(FILES) or {}).items():
        left += node_files.restore(ctx.node(name), files, ctx.log)
    if _watches_files(ctx):
        for node in ctx.nodes():
            left += stray_processes(node)
    return left


@dataclass
class VerifyPhase:
    """One phase of a lab self-test and whether it came out as it must."""

    name: str
    ok: bool
    detail: str
    checks: list[CheckResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"phase": self.name, "ok": self.ok, "detail": self.detail, "checks": [c.as_dict() for c in self.checks]}


def _grade_for(ctx: Context, lab: Lab, window: float) -> list[CheckResult]:
    """Grade repeatedly for up to WINDOW seconds and stop at the first full pass (a fix or cheat settling)."""
    deadline = CLOCK.monotonic() + window
    while True:
        checks = checks_of(ctx, lab)
        if all(c.ok for c in checks) or CLOCK.monotonic() >= deadline:
            return checks
        pending = next(c for c in checks if not c.ok)
        ctx.log(f"  settling ({max(0, deadline - CLOCK.monotonic()):.0f}s left): {pending.name}: {pending.message}")
        CLOCK.sleep(min(5.0, max(0.1, deadline - CLOCK.monotonic())))


def _try_fix(ctx: Context, lab: Lab, phase: str, steps: list[Step], window: float, must_pass: bool) -> VerifyPhase:
    """Apply a cheat or an alternative, grade it for WINDOW seconds, then undo just its own changes."""
    what = "the other valid fix" if must_pass else "the bypass" if phase.startswith("bypass:") else "the cheat"
    mark = ctx.store.journal_last_id(ctx.cluster.name)
    try:
        run_steps(ctx, steps, phase)
        checks = _grade_for(ctx, lab, window)
        passes = all(c.ok for c in checks)
        if must_pass:
            result = VerifyPhase(phase, passes, f"{what} {'passes' if passes else 'FAILED grading'}", checks)
        else:
            result = VerifyPhase(phase, not passes, f"{what} {'PASSED' if passes else 'fails'} grading", checks)
    except BreakfixError as exc:
        result = VerifyPhase(phase, False, f"{what} could not be applied: {exc}")
    replay(ctx, after=mark)
    return result


def verify(
    ctx: Context,
    lab: Lab,
    settle: float = 300,
    on_phase: Callable[[VerifyPhase], None] | None = None,
    cheat_window: float = 90,
    bypass_window: float = 30,
) -> list[VerifyPhase]:
    """Self-test a lab: break -> grade fails; each cheat and generic bypass fails; each alternative and solve
    pass; reset -> clean.

    A cheat is graded for CHEAT_WINDOW seconds, or the lab's own `cheat_window` when longer (it fails only if
    no grade in that time passes); a generic bypass (breakfix.bypasses) for BYPASS_WINDOW seconds (0: none
    tried); the reference fix and each alternative (another valid fix, undone again before the next phase) get
    SETTLE seconds to pass. A step that errors is reported as a failed phase."""
    with locked(ctx):
        try:
            return _verify(ctx, lab, settle, on_phase, cheat_window, bypass_window)
        finally:
            free_lease(ctx)


def _verify(
    ctx: Context,
    lab: Lab,
    settle: float,
    on_phase: Callable[[VerifyPhase], None] | None,
    cheat_window: float,
    bypass_window: float = 30,
) -> list[VerifyPhase]:
    phases: list[VerifyPhase] = []
    ctx.spoilers = True  # a self-test is for the lab's author

    def note(phase: VerifyPhase) -> None:
        phases.append(phase)
        if on_phase:
            on_phase(phase)

    started_at = ctx.store.journal_last_id(ctx.cluster.name)
    try:
        session = start(ctx, lab)
    except BreakfixError as exc:
        note(VerifyPhase("break", False, f"the lab did not start: {exc}"))
        return phases
    note(VerifyPhase("break", True, "the fault was confirmed live"))
    try:
        checks = _grade_for(ctx, lab, 0)
        broken = not all(c.ok for c in checks)
        note(
            VerifyPhase(
                "grade-after-break",
                broken,
                "grade fails while broken" if broken else "grade PASSED on the broken cluster",
                checks,
            )
        )
        window = min(settle, max(cheat_window, lab.spec.cheat_window or 0.0))  # the lab may ask for longer
        bypasses: list[Bypass] = []
        if bypass_window > 0:  # planned on the broken cluster
            try:
                bypasses = _bypasses(ctx, lab, started_at)
            except BreakfixError as exc:
                note(VerifyPhase("bypasses", False, f"the generic bypasses could not be planned: {exc}"))
        bypass_window = min(settle, max(bypass_window, lab.spec.cheat_window or 0.0)) if bypass_window > 0 else 0
        for name, steps in lab.cheats.items():  # each must FAIL within the cheat window
            note(_try_fix(ctx, lab, f"cheat:{name}", steps, window, must_pass=False))
        for bypass in (b for b in bypasses if not b.after_fix):  # generic shortcuts: each must FAIL as a cheat
            note(_try_fix(ctx, lab, f"bypass:{bypass.name}", bypass.steps, bypass_window, must_pass=False))
        for name, steps in lab.alternatives.items():  # each must PASS, as the reference fix does
            note(_try_fix(ctx, lab, f"alternative:{name}", steps, settle, must_pass=True))
        try:
            run_steps(ctx, lab.steps["solve"], "solve")
            checks = _grade_for(ctx, lab, settle)
            ok = all(c.ok for c in checks)
            note(
                VerifyPhase(
                    "solve", ok, "the reference fix passes" if ok else "the reference fix FAILED grading", checks
                )
            )
            for bypass in (b for b in bypasses if b.after_fix and ok):  # on the fixed cluster, last of all
                note(_try_fix(ctx, lab, f"bypass:{bypass.name}", bypass.steps, bypass_window, must_pass=False))
        except BreakfixError as exc:
            note(VerifyPhase("solve", False, f"the reference fix could not be applied: {exc}"))
    finally:
        records = ctx.store.journal(ctx.cluster.name, started_at)
        try:
            replay(ctx, after=started_at)
            journal_copy.clear(ctx)
            missed = [m for m in differences(ctx) if not graders_own(m)]  # what the journal did not put back
            unrestored = put_back(ctx)
        finally:
            ctx.store.update_session(session.id, status=SessionStatus.verified.value, ended=time.time())
    wait_for_api(ctx)
    problems = verify_restored(ctx, records) + unrestored + [f"the journal missed: {p}" for p in missed]
    left = ctx.store.journal(ctx.cluster.name, started_at)
    ok = not problems and not left
    note(VerifyPhase("reset", ok, "every change was put back" if ok else "; ".join(problems) or "journal not empty"))
    return phases


def _bypasses(ctx: Context, lab: Lab, started_at: int) -> list[Bypass]:
    """The generic bypasses that apply to the lab's graded workloads and the Services its break changed, as the
    break left them."""
    journal = ctx.store.journal(ctx.cluster.name, started_at)
    targets = graded_targets(lab.steps["grade"], journal, ctx.variables())
    exempt = lab.spec.exempt_bypasses
    return plan(ctx.kube, targets, exempt) + plan_routing(ctx.kube, routed_services(journal), exempt)


def wait_for_api(ctx: Context, timeout: float = 240) -> None:
    """Wait until the API server answers again (a reset often restarts it)."""
    deadline = CLOCK.monotonic() + timeout
    while True:
        try:
            ctx.kube.version()
            return
        except BreakfixError as exc:
            if not api_not_ready(exc) or CLOCK.monotonic() > deadline:
                raise
            CLOCK.sleep(3)


def time_left(session: Session) -> str:
    """How long until the deadline, or how long over it."""
    if not session.deadline:
        return "-"
    left = session.deadline - time.time()
    return format_duration(left) if left >= 0 else f"over by {format_duration(-left)}"
