"""The typed API behind the `lab` command: every command is one function here."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breakfix import runner
from breakfix.catalog import Catalog, Lab, build_variant, cluster_variables, load_catalog, load_one, materialize
from breakfix.clusters import adopt, check_marker, resolve_cluster
from breakfix.context import Context
from breakfix.errors import BreakfixError
from breakfix.inventory import ClusterSpec
from breakfix.kube import KubeClient
from breakfix.lock import cluster_lock
from breakfix.providers.base import Snapshots
from breakfix.results import GradeReport
from breakfix.state import RUNNING, Session, SessionStatus, State

HINT_PENALTY = 0.1  # each hint taken costs a tenth of the score


def shown_lab_id(session: Session | None) -> str | None:
    """The lab's id as its student may see it: none in an exam, where it would name the fault (its title does not)."""
    return session.lab if session is not None and not session.exam else None


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
        rendered = Path(tempfile.mkdtemp(prefix="breakfix-variant-")) if lab is not None and lab.values else None
        try:
            if lab is not None and rendered is not None:  # a variant: steps read its files with the values in
                materialize(lab, rendered)
            folder = rendered or (lab.folder if lab else None)
            ctx = Context(self.cluster(), self.store, session.id if session else None, folder, log=self.log)
            ctx.spoilers = self.spoilers
            try:
                yield ctx
            finally:
                ctx.close()
        finally:
            if rendered is not None:
                shutil.rmtree(rendered, ignore_errors=True)

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

    def active(self, required: bool = True) -> Session | None:
        """The cluster's running session."""
        session = self.store.active_session(self.cluster().name)
        if session is None and required:
            raise BreakfixError(f"no lab is running on {self.cluster().name}: start one with `lab start LAB`")
        return session

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

    def task(self) -> tuple[Session, str]:
        """The running lab's task text."""
        session = self.active()
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
        title = self.catalog.labs[session.lab].spec.title if session.lab in self.catalog.labs else ""
        grades = len(self.store.grades(session.id))
        seed = runner.variant_of(session)[0]
        return Status(cluster, session, title, runner.time_left(session), grades, entries, seed)

    def hint(self) -> tuple[int, int, str]:
        """The next hint: (number, total, text); each one costs points."""
        session = self.active()
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

    def grade(self) -> tuple[GradeReport, float]:
        """Grade the running lab; returns the report and the score after hint penalties (0-100)."""
        session = self.active()
        assert session is not None
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
        from breakfix.providers import REGISTRY, get_provider

        spec = self.cluster()
        if spec.provider not in REGISTRY:
            raise BreakfixError(
                f"{spec.name} was adopted ({spec.provider}), not created by breakfix: it has no snapshots; "
                "`lab reset` replays the journal instead"
            )
        provider = get_provider(spec.provider)
        if not isinstance(provider, Snapshots):
            raise BreakfixError(f"{spec.provider} clusters have no snapshots: `lab reset` replays the journal instead")
        return provider

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
        if session is not None:
            self.store.update_session(session.id, status=SessionStatus.closed.value, ended=time.time())
        with self.context(None, session) as ctx:
            runner.wait_for_api(ctx)
            check_marker(ctx.kube, self.store, cluster)
            runner.free_lease(ctx)  # a snapshot taken while this machine held the lease brings it back
        return dropped

    def solution(self, lab_id: str | None = None) -> tuple[str, str]:
        """The reference walk-through of a lab (the running one by default); reading it costs a running lab's score."""
        if lab_id is None:
            session = self.active()
            assert session is not None
            lab_id = session.lab
            running = [session]
        else:  # the lab named may be running on any registered cluster: `--cluster` must not dodge the cost
            lab_id = self.lab(lab_id).id
            found = (self.store.active_session(c["name"]) for c in self.store.clusters())
            running = [s for s in found if s is not None and s.lab == lab_id]
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
