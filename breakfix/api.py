"""The typed API behind the `lab` command: every command is one function here."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breakfix import runner
from breakfix.catalog import Catalog, Lab, build_variant, cluster_variables, load_catalog, load_one, materialize
from breakfix.clusters import adopt, check_marker, resolve_cluster
from breakfix.context import Context
from breakfix.errors import BreakfixError, UsageError
from breakfix.inventory import ClusterSpec
from breakfix.kube import KubeClient
from breakfix.lock import cluster_lock
from breakfix.providers.base import Pausable, Snapshots
from breakfix.results import GradeReport
from breakfix.state import DRAWN, RUNNING, TASK, Session, SessionStatus, State

HINT_PENALTY = 0.1  # each hint taken costs a tenth of the score


def shown_lab_id(session: Session | None) -> str | None:
    """The lab's id as its student may see it: none in an exam, or for a lab drawn for them, where it would name
    the fault (its title does not)."""
    return session.lab if session is not None and not session.exam and not session.data.get(DRAWN) else None


def shown_lab(session: Session, title: str) -> str:
    """How the running lab is named to its student: `id (title)`, or only the title in an exam."""
    lab_id = shown_lab_id(session)
    return f"{lab_id} ({title})" if lab_id else title


@dataclass
class Status:
    """Where the student stands on the active lab."""

    cluster: str
    session: Session | None
    lab_title: str = ""
    time_left: str = "-"
    grades: int = 0
    journal_entries: int = 0
    seed: int | None = None  # a lab with variables: `lab start LAB --seed SEED` replays the attempt
    #: labs started together: each one's session and title, in task order (empty for one lab)
    tasks: list[tuple[Session, str]] = field(default_factory=list)

    @property
    def status_text(self) -> str:
        """The session's status as a student reads it: idle, active, solved, reset unfinished, ..."""
        if self.session is None:
            return "idle"
        return "reset unfinished" if runner.reset_unfinished(self.session) else self.session.status.value

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        s = self.session
        return {
            "cluster": self.cluster,
            "lab": shown_lab_id(s),
            "title": self.lab_title,
            "status": self.status_text,
            "time_left": self.time_left,
            "hints_used": s.hints_used if s else 0,
            "grades": self.grades,
            "started": s.started if s else None,
            "deadline": s.deadline if s else None,
            "journal_entries": self.journal_entries,
            **({"seed": self.seed} if self.seed is not None else {}),
            **({"tasks": [task_dict(t, title) for t, title in self.tasks]} if self.tasks else {}),
        }


def task_number(session: Session, index: int) -> int:
    """A task's number among the labs run together: the exam's numbering, else its place (INDEX, from 1)."""
    number = session.data.get(TASK)
    return number if isinstance(number, int) else index


def task_dict(session: Session, title: str) -> dict[str, Any]:
    """One of several labs run together, as `lab status -o json` shows it."""
    return {
        "task": session.data.get(TASK),
        "lab": shown_lab_id(session),
        "title": title,
        "status": session.status.value,
        "hints_used": session.hints_used,
    }


class Breakfix:
    """One command's worth of breakfix: the store, the catalog and the chosen cluster."""

    def __init__(
        self,
        cluster: str | None = None,
        store: State | None = None,
        log: Callable[[str], None] | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.store = store or State()
        self.cluster_name = cluster
        self.log = log
        self._catalog = catalog
        self._cluster: ClusterSpec | None = None
        self.spoilers = False  # progress lines name each step and its arguments (`lab start --spoilers`)

    @property
    def catalog(self) -> Catalog:
        """Every lab that loaded, plus the errors of those that did not."""
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    def lab(self, lab_id: str) -> Lab:
        """A lab by id (close names suggested when unknown); only its own folder is read unless all were loaded."""
        if self._catalog is None:
            return load_one(lab_id)
        return self.catalog.get(lab_id)

    def cluster(self) -> ClusterSpec:
        """The cluster this command acts on."""
        if self._cluster is None:
            self._cluster = resolve_cluster(self.store, self.cluster_name)
        return self._cluster

    @contextmanager
    def context(self, lab: Lab | None = None, session: Session | None = None) -> Iterator[Context]:
        """A context for running steps; closes node connections afterwards."""
        with ExitStack() as stack:
            folder = stack.enter_context(self._files_of(lab)) if lab is not None else None
            ctx = Context(self.cluster(), self.store, session.id if session else None, folder, log=self.log)
            ctx.spoilers = self.spoilers
            try:
                yield ctx
            finally:
                ctx.close()

    def variant(self, lab_id: str, seed: int | None) -> Lab:
        """The lab as this cluster runs it for SEED: its variables drawn (a fresh seed when None); a lab without
        variables as it is, whatever SEED."""
        lab = self.lab(lab_id)
        if not lab.has_variables:
            return lab
        from breakfix.variants import random_seed

        return lab.variant(random_seed() if seed is None else seed, [w.name for w in self.cluster().workers])

    def lab_of(self, session: Session) -> Lab:
        """A session's lab with the values it was started with."""
        lab = self.lab(session.lab)
        seed, values = runner.variant_of(session)
        if seed is None or not lab.has_variables:
            return lab
        return build_variant(lab, seed, values)

    def words(self) -> dict[str, str]:
        """The cluster's {{ variables }} from its registered inventory (no network); neutral words without one."""
        try:
            spec: ClusterSpec | None = self.cluster()
        except BreakfixError:
            spec = None
        return cluster_variables(spec)

    def active(self, required: bool = True, task: int | None = None) -> Session | None:
        """The cluster's running session; of several labs run together, the one numbered TASK."""
        found = self.tasks()
        if not found:
            if required:
                raise BreakfixError(f"no lab is running on {self.cluster().name}: start one with `lab start LAB`")
            return None
        numbered = {task_number(s, i): s for i, s in enumerate(found, 1)}
        numbers = " or ".join(str(n) for n in numbered)
        if task is None:
            if len(found) > 1 and required:
                raise UsageError(
                    f"{len(found)} labs run together on {self.cluster().name}: say which with --task {numbers}"
                )
            return found[0]
        if task not in numbered:
            raise UsageError(
                f"--task {task}: {self.cluster().name} runs "
                + (f"tasks {numbers}" if len(found) > 1 else "one lab: leave --task out")
            )
        return numbered[task]

    def tasks(self) -> list[Session]:
        """The labs running on the cluster, in the order they were started (one unless started together)."""
        return self.store.open_sessions(self.cluster().name)

    # commands ---------------------------------------------------------------
    def start(
        self, lab_id: str, student: str | None = None, exam: str | None = None, seed: int | None = None
    ) -> tuple[Session, str]:
        """Break the cluster for a lab; returns the session and the task text.

        A lab with variables draws its values from SEED (a fresh one when None); other labs ignore it."""
        lab = self.variant(lab_id, seed)
        with self.context(lab) as ctx:
            session = runner.start(ctx, lab, student=student, exam=exam)
            return session, runner.render_task(ctx, lab)

    def start_together(
        self,
        lab_ids: list[str],
        student: str | None = None,
        seed: int | None = None,
        drawn: bool = False,
        exam: str | None = None,
        numbers: list[int] | None = None,
    ) -> list[tuple[Session, str]]:
        """Break the cluster for several labs at once, under one clock; returns each session and task text.

        Labs with variables draw their values from SEED (a fresh one when None), each its own. DRAWN: the
        student did not choose the labs, so their ids (which name the faults) stay hidden until the reset.
        NUMBERS: the tasks' numbers (an exam's), 1, 2, ... by default."""
        from breakfix.variants import random_seed

        chosen = random_seed() if seed is None else seed
        labs = [self.variant(lab_id, chosen) for lab_id in lab_ids]
        with ExitStack() as stack:
            folders = [stack.enter_context(self._files_of(lab)) for lab in labs]
            with self.context(None) as ctx:
                plan: list[tuple[Lab, Path | None]] = list(zip(labs, folders, strict=True))
                sessions = runner.start_together(ctx, plan, student, exam=exam, drawn=drawn, numbers=numbers)
                return [(s, runner.render_task(ctx, lab)) for s, lab in zip(sessions, labs, strict=True)]

    def draw_together(self, count: int, domains: list[str], seed: int) -> list[str]:
        """COUNT labs drawn from SEED that the cluster can run together (only DOMAINS' when given), or refused."""
        import random

        from breakfix.footprint import compatible, footprint

        if count < 1:
            raise UsageError(f"--count {count}: give a number of labs from 1 up")
        known = {lab.spec.domain for lab in self.catalog.labs.values()}
        unknown = sorted(set(domains) - known)
        if unknown:
            raise UsageError(f"--domain {unknown[0]}: no such domain (the catalog has {', '.join(sorted(known))})")
        offered = self.cluster().capabilities
        pool = sorted(
            (
                lab
                for lab in self.catalog.labs.values()
                if set(lab.spec.requires) <= offered and (not domains or lab.spec.domain in domains)
            ),
            key=lambda lab: lab.id,
        )
        rng = random.Random(seed)
        rng.shuffle(pool)
        chosen: list[Lab] = []
        for lab in pool:  # a lab with variables is judged by its own variant for this seed
            candidate = self.variant(lab.id, seed)
            if count > 1 and footprint(candidate).alone:  # it would leave no room for the others
                continue
            if compatible(chosen, candidate):
                chosen.append(candidate)
            if len(chosen) == count:
                return [lab.id for lab in chosen]
        raise BreakfixError(
            f"only {len(chosen)} of the labs {self.cluster().name} can run"
            + (f" in {', '.join(domains)}" if domains else "")
            + f" fit on it together, not {count}: ask for fewer (a lab on the nodes or the control plane runs alone, "
            "and two labs never share a namespace)"
        )

    @contextmanager
    def _files_of(self, lab: Lab) -> Iterator[Path]:
        """The folder steps read LAB's files from: a variant's rendered copy, or the lab's own folder."""
        if not lab.values:
            yield lab.folder
            return
        rendered = Path(tempfile.mkdtemp(prefix="breakfix-variant-"))
        try:
            materialize(lab, rendered)
            yield rendered
        finally:
            shutil.rmtree(rendered, ignore_errors=True)

    def task(self, number: int | None = None) -> tuple[Session, str]:
        """The running lab's task text (of several labs run together, task NUMBER)."""
        session = self.active(task=number)
        assert session is not None
        lab = self.lab_of(session)
        with self.context(lab, session) as ctx:
            return session, runner.render_task(ctx, lab)

    def status(self) -> Status:
        """The running lab, its clock and attempts."""
        cluster = self.cluster().name
        session = self.store.active_session(cluster)
        entries = len(self.store.journal(cluster))
        if session is None:
            return Status(cluster, None, journal_entries=entries)
        if session.status in RUNNING and not runner.reset_unfinished(session):
            with self.context(None, session) as ctx:
                if isinstance(ctx.kube, KubeClient):
                    ctx.kube.timeout = 5.0  # status stays quick while a lab keeps the API server away
                runner.renew_lease(ctx, session)  # a running lab keeps the cluster's lease
        title = self.title_of(session)
        grades = len(self.store.grades(session.id))
        seed = runner.variant_of(session)[0]
        found = self.store.together(session)
        tasks = [(s, self.title_of(s)) for s in found] if len(found) > 1 else []
        return Status(cluster, session, title, runner.time_left(session), grades, entries, seed, tasks)

    def title_of(self, session: Session) -> str:
        """The title of a session's lab ("" when the lab is no longer in the catalog)."""
        return self.catalog.labs[session.lab].spec.title if session.lab in self.catalog.labs else ""

    def hint(self, task: int | None = None) -> tuple[int, int, str]:
        """The next hint: (number, total, text); each one costs points (of several labs, task TASK's)."""
        session = self.active(task=task)
        assert session is not None
        lab = self.lab_of(session)
        hints = lab.spec.hints
        if not hints:
            raise BreakfixError(f"lab {session.lab} has no hints")
        if session.hints_used >= len(hints):
            last = lab.hint_text(len(hints) - 1, self.words())
            return len(hints), len(hints), last + "\n(that was the last hint; `lab solution` shows the answer)"
        number = session.hints_used + 1
        self.store.update_session(session.id, hints_used=number)
        return number, len(hints), lab.hint_text(number - 1, self.words())

    def grade(self, task: int | None = None) -> tuple[GradeReport, float]:
        """Grade the running lab (of several, task TASK); returns the report and the score after hint penalties."""
        session = self.active(task=task)
        assert session is not None
        return self._grade(session)

    def grade_tasks(self) -> list[tuple[Session, GradeReport, float]]:
        """Grade every lab running on the cluster, one after the other, in task order."""
        found = self.tasks()
        if not found:
            raise BreakfixError(f"no lab is running on {self.cluster().name}: start one with `lab start LAB`")
        return [(session, *self._grade(session)) for session in found]

    def _grade(self, session: Session) -> tuple[GradeReport, float]:
        if session.status == SessionStatus.starting:
            raise BreakfixError(f"lab {session.lab} did not finish starting (interrupted?): run `lab reset`")
        lab = self.lab_of(session)
        with self.context(lab, session) as ctx:
            report = runner.grade(ctx, lab, session)
        return report, self.session_score(report, session)

    @staticmethod
    def session_score(report: GradeReport, session: Session) -> float:
        """The attempt's score: 0 once the walk-through was read while the lab ran, else final_score."""
        if session.data.get("solution_viewed"):
            return 0.0
        return Breakfix.final_score(report, session.hints_used)

    @staticmethod
    def final_score(report: GradeReport, hints_used: int) -> float:
        """Percentage score with the hint penalty applied."""
        if not report.max_score:
            return 0.0
        raw = 100.0 * report.score / report.max_score
        return round(max(0.0, raw * (1 - HINT_PENALTY * hints_used)), 1)

    def reset(self, take_over: bool = False) -> int:
        """Undo every change; returns how many journal entries were undone (TAKE_OVER: see runner.reset)."""
        session = self.store.active_session(self.cluster().name)
        with self.context(None, session) as ctx:  # the journal has all it needs: no catalog, no lab files
            return runner.reset(ctx, take_over)

    def snapshots(self) -> Snapshots:
        """The cluster's provider, when it can save and restore whole clusters."""
        hint = "`lab reset` replays the journal instead"
        provider = self._created_by_breakfix(f"it has no snapshots; {hint}")
        if not isinstance(provider, Snapshots):
            raise BreakfixError(f"{self.cluster().provider} clusters have no snapshots: {hint}")
        return provider

    def _created_by_breakfix(self, lacks: str) -> object:
        """The provider that created the cluster; an adopted cluster is refused with what it LACKS."""
        from breakfix.providers import REGISTRY, get_provider

        spec = self.cluster()
        if spec.provider not in REGISTRY:
            raise BreakfixError(f"{spec.name} was adopted ({spec.provider}), not created by breakfix: {lacks}")
        return get_provider(spec.provider)

    def _pausable(self) -> Pausable:
        provider = self._created_by_breakfix("stop and start its machines yourself")
        if not isinstance(provider, Pausable):
            raise BreakfixError(f"{self.cluster().provider} clusters cannot be stopped and started by breakfix")
        return provider

    def stop_cluster(self) -> None:
        """Stop the cluster's machines to free this one; labs, journal and data are kept for `start_cluster`."""
        name = self.cluster().name
        provider = self._pausable()
        with cluster_lock(self.store.path.parent, name):
            provider.stop(name, self.log or (lambda _m: None))

    def start_cluster(self, timeout: float = 600) -> float:
        """Start a stopped cluster and wait until every node is Ready and kube-system serves; returns the wait."""
        from breakfix.cluster_ready import wait_until_ready

        name = self.cluster().name
        provider = self._pausable()
        log = self.log or (lambda _m: None)
        with cluster_lock(self.store.path.parent, name):
            provider.start(name, log)
            self._cluster = None  # node addresses may have moved: read the rewritten inventory
            with self.context() as ctx:
                return wait_until_ready(ctx.kube, log, timeout)

    def reset_to_snapshot(self, label: str) -> int:
        """Restore snapshot LABEL (faster than undoing, and it undoes anything); returns the journal entries dropped."""
        cluster = self.cluster().name
        provider = self.snapshots()
        with cluster_lock(self.store.path.parent, cluster):
            return self._reset_to_snapshot(cluster, label, provider)

    def _reset_to_snapshot(self, cluster: str, label: str, provider: Snapshots) -> int:
        provider.snapshot_restore(cluster, label, self.log or (lambda _m: None))
        dropped = 0
        for entry in self.store.journal(cluster):
            self.store.journal_drop(entry.id)
            dropped += 1
        session = self.store.active_session(cluster)
        for each in self.store.open_sessions(cluster):
            self.store.update_session(each.id, status=SessionStatus.closed.value, ended=time.time())
        with self.context(None, session) as ctx:
            runner.wait_for_api(ctx)
            check_marker(ctx.kube, self.store, cluster)
            runner.free_lease(ctx)  # a snapshot taken while this machine held the lease brings it back
        return dropped

    def solution(self, lab_id: str | None = None, task: int | None = None) -> tuple[str, str]:
        """The reference walk-through of a lab (the running one by default); reading it costs a running lab's score."""
        if lab_id is None:
            session = self.active(task=task)
            assert session is not None
            lab_id = session.lab
            running = [session]
        else:  # the lab named may be running on any registered cluster: `--cluster` must not dodge the cost
            lab_id = self.lab(lab_id).id
            found = (s for c in self.store.clusters() for s in self.store.open_sessions(c["name"]))
            running = [s for s in found if s.lab == lab_id]
        for session in running:
            if session.status == SessionStatus.active:
                self.store.update_session(session.id, data={**session.data, "solution_viewed": time.time()})
        # the running attempt's values (here, or on the cluster where the lab runs); else words like <port>
        mine = [s for s in running if s.cluster == self.cluster_name] or running
        lab = self.lab_of(mine[0]) if mine else self.lab(lab_id)
        return lab.id, lab.solution_for(self.words())

    def verify(
        self,
        lab_id: str,
        settle: float = 300,
        cheat_window: float = 90,
        on_phase: Callable[[runner.VerifyPhase], None] | None = None,
        seed: int | None = None,
        bypass_window: float = 30,
    ) -> list[runner.VerifyPhase]:
        """Self-test a lab on the cluster (a lab with variables: the variant of SEED, a fresh one when None)."""
        lab = self.variant(lab_id, seed)
        with self.context(lab) as ctx:
            return runner.verify(
                ctx, lab, settle=settle, on_phase=on_phase, cheat_window=cheat_window, bypass_window=bypass_window
            )

    def adopt(self, inventory: Path, name: str | None = None) -> ClusterSpec:
        """Mark and register a cluster described by an inventory."""
        return adopt(self.store, inventory, name)

    # registered clusters ---------------------------------------------------------
    def clusters(self) -> list[dict[str, Any]]:
        """The registered clusters (name, provider, inventory)."""
        return self.store.clusters()

    def default_cluster(self) -> str | None:
        """The cluster commands act on when none is chosen."""
        return self.store.get_setting("default_cluster")

    def use_cluster(self, name: str) -> None:
        """Make a registered cluster the default."""
        resolve_cluster(self.store, name)
        self.store.set_setting("default_cluster", name)

    def unfinished(self, name: str) -> bool:
        """Whether a cluster has journaled changes not yet undone."""
        return bool(self.store.journal(name))

    def forget_cluster(self, name: str) -> None:
        """Unregister a cluster (and stop it being the default)."""
        self.store.remove_cluster(name)
        if self.default_cluster() == name:
            self.store.set_setting("default_cluster", None)
