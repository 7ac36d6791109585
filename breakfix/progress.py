"""Progress over time, read from the store: every attempt, per-domain stats, and what to practise next."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from breakfix.api import Breakfix, shown_lab_id
from breakfix.model import CKA_DOMAIN_WEIGHTS
from breakfix.results import CheckResult, GradeReport
from breakfix.state import OPEN, Session, SessionStatus, State

#: How much each CKA domain weighs in the exam (percent).
DOMAIN_WEIGHTS = CKA_DOMAIN_WEIGHTS
#: Days before a solved lab comes back, by how many times it was solved cleanly (1, 2, 3, 4, 5+).
REVIEW_DAYS = (1, 3, 7, 14, 30)
DAY = 86400.0
SLOW = 0.5  # a fix that takes more than half the lab's time limit is slow
OUTCOMES = {
    SessionStatus.solved: "solved",
    SessionStatus.closed: "reset",
    SessionStatus.aborted: "aborted",
    SessionStatus.verified: "verified",
}


@dataclass(frozen=True)
class LabInfo:
    """What progress needs to know of a lab: never its summary (that names the fault)."""

    id: str
    title: str
    domain: str
    time_limit: float = 900.0
    requires: frozenset[str] = frozenset()


@dataclass
class Attempt:
    """One attempt at one lab, as `lab history` prints it."""

    id: int
    lab: str
    title: str
    domain: str
    cluster: str
    student: str | None
    when: float
    outcome: str
    score: float | None
    time_to_fix: float | None
    hints_used: int
    solution_viewed: bool

    @property
    def clean(self) -> bool:
        """Solved with full marks, no hint and without reading the solution."""
        return self.outcome == "solved" and self.hints_used == 0 and not self.solution_viewed and self.score == 100.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _stored_report(lab: str, score: int, max_score: int) -> GradeReport:
    """A report that adds up to a stored grade's score, so `lab grade`'s own scoring applies to it."""
    checks = [CheckResult("pass", "", weight=score), CheckResult("fail", "", weight=max(0, max_score - score))]
    return GradeReport(lab, checks)


def best_score(store: State, session: Session) -> float | None:
    """The attempt's best score as `lab grade` scores it (hints cost, reading the solution zeroes); None if ungraded."""
    scores = [
        Breakfix.session_score(_stored_report(session.lab, int(g["score"]), int(g["max_score"])), session)
        for g in store.grades(session.id)
    ]
    return max(scores) if scores else None


def outcome(session: Session) -> str:
    """solved, not solved (still open or graded and failed), reset, aborted or verified."""
    if session.status == SessionStatus.verified:
        return "verified"
    if session.solved_at is not None or session.status == SessionStatus.solved:
        return "solved"
    if session.status in (SessionStatus.starting, SessionStatus.active):
        return "not solved"
    return OUTCOMES.get(session.status, session.status)


def history(
    store: State,
    labs: Mapping[str, LabInfo],
    lab: str | None = None,
    domain: str | None = None,
    limit: int | None = None,
    include_verified: bool = False,
) -> list[Attempt]:
    """Every attempt, newest first; `lab verify` self-tests are left out unless asked for."""
    found: list[Attempt] = []
    for s in store.sessions(limit=1_000_000):
        info = labs.get(s.lab, LabInfo(s.lab, "", "unknown"))
        kind = outcome(s)
        # a lab the student did not choose (an exam's, a drawn one) is named by its title until it is over
        shown = s.lab if s.status not in OPEN or shown_lab_id(s) else "-"
        if (kind == "verified" and not include_verified) or (lab and shown != lab):
            continue
        if domain and info.domain != domain:
            continue
        fixed = s.solved_at - s.started if s.solved_at is not None and s.started is not None else None
        found.append(
            Attempt(
                s.id,
                shown,
                info.title,
                info.domain,
                s.cluster,
                s.student,
                s.started or s.created,
                kind,
                best_score(store, s),
                round(fixed, 1) if fixed is not None else None,
                s.hints_used,
                bool(s.data.get("solution_viewed")),
            )
        )
    found.sort(key=lambda a: (a.when, a.id), reverse=True)
    return found[:limit] if limit else found


# stats --------------------------------------------------------------------------------------------
@dataclass
class Stats:
    """Attempts, solves, best score, median time to fix and trend of one lab or one domain."""

    name: str
    attempts: int = 0
    solved: int = 0
    best_score: float | None = None
    median_time_to_fix: float | None = None
    trend: float | None = None  # mean score of the last 3 attempts minus that of the earlier ones
    labs_solved: int | None = None  # a domain's: how many of its labs were solved at least once
    labs_total: int | None = None  # a domain's: how many labs the catalog has in it
    labs: list[Stats] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        if not self.labs:
            out.pop("labs")
        return out


def trend(scores_oldest_first: list[float]) -> float | None:
    """Mean of the last 3 scores minus the mean of the earlier ones; None with fewer than 4 scores."""
    if len(scores_oldest_first) < 4:
        return None
    last, earlier = scores_oldest_first[-3:], scores_oldest_first[:-3]
    return round(statistics.fmean(last) - statistics.fmean(earlier), 1)


def _stats(name: str, attempts: Iterable[Attempt]) -> Stats:
    ordered = sorted(attempts, key=lambda a: (a.when, a.id))
    times = [a.time_to_fix for a in ordered if a.time_to_fix is not None]
    scores = [a.score if a.score is not None else 0.0 for a in ordered]
    graded = [a.score for a in ordered if a.score is not None]
    return Stats(
        name,
        len(ordered),
        sum(a.outcome == "solved" for a in ordered),
        max(graded) if graded else None,
        round(statistics.median(times), 1) if times else None,
        trend(scores),
    )


def stats(attempts: list[Attempt], labs: Mapping[str, LabInfo]) -> list[Stats]:
    """Per CKA domain (weightiest first), each with its labs' stats; aborted attempts do not count."""
    counted = [a for a in attempts if a.outcome not in ("aborted", "verified")]
    out = []
    domains = list(DOMAIN_WEIGHTS) + sorted({a.domain for a in counted} - set(DOMAIN_WEIGHTS))
    for domain in domains:
        mine = [a for a in counted if a.domain == domain]
        entry = _stats(domain, mine)
        entry.labs_total = sum(info.domain == domain for info in labs.values())
        entry.labs_solved = len({a.lab for a in mine if a.outcome == "solved"})
        for lab_id in sorted({a.lab for a in mine}):
            entry.labs.append(_stats(lab_id, [a for a in mine if a.lab == lab_id]))
        out.append(entry)
    return out


def bar(fraction: float, width: int = 20) -> str:
    """A plain-text bar: FRACTION (0-1) of WIDTH filled."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "#" * filled + "." * (width - filled)


# next ---------------------------------------------------------------------------------------------
@dataclass
class Pick:
    """A lab to practise next and why, in one line that does not name the fault."""

    lab: str
    title: str
    domain: str
    reason: str
    due: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def weakness(domain: str, labs: Mapping[str, LabInfo], attempts: list[Attempt]) -> float:
    """The domain's exam weight times the share of its labs not yet solved."""
    mine = [info.id for info in labs.values() if info.domain == domain]
    if not mine:
        return 0.0
    solved = {a.lab for a in attempts if a.outcome == "solved"}
    return DOMAIN_WEIGHTS.get(domain, 0) * (1 - len(solved & set(mine)) / len(mine))


def _days(seconds: float) -> str:
    days = seconds / DAY
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}"


def next_labs(
    labs: Mapping[str, LabInfo],
    attempts: list[Attempt],
    now: float | None = None,
    capabilities: frozenset[str] | None = None,
) -> list[Pick]:
    """Labs to practise, best first: never tried (weakest domain first), failed or slow, then due for review.

    CAPABILITIES (the chosen cluster's, when known) leaves out labs it cannot run."""
    now = time.time() if now is None else now
    runnable = {k: v for k, v in labs.items() if capabilities is None or v.requires <= capabilities}
    counted = [a for a in attempts if a.outcome not in ("aborted", "verified")]
    by_lab: dict[str, list[Attempt]] = {}
    for a in sorted(counted, key=lambda a: (a.when, a.id)):
        by_lab.setdefault(a.lab, []).append(a)
    weak = {d: weakness(d, runnable, counted) for d in {i.domain for i in runnable.values()}}
    order = sorted(runnable.values(), key=lambda i: (-weak[i.domain], -DOMAIN_WEIGHTS.get(i.domain, 0), i.id))
    untried: list[Pick] = []
    failing: list[Pick] = []
    due: list[Pick] = []
    later: list[Pick] = []
    for info in order:
        mine = by_lab.get(info.id, [])
        if not mine:
            first = not untried or untried[0].domain == info.domain
            why = f"never tried; {info.domain} is your weakest area" if first else f"never tried ({info.domain})"
            untried.append(Pick(info.id, info.title, info.domain, why))
            continue
        solves = [a for a in mine if a.outcome == "solved"]
        times = [a.time_to_fix for a in solves if a.time_to_fix is not None]
        if not solves:
            failing.append(Pick(info.id, info.title, info.domain, f"not solved yet in {len(mine)} attempt(s)"))
            continue
        if mine[-1].outcome != "solved":
            failing.append(Pick(info.id, info.title, info.domain, "your last attempt did not solve it"))
            continue
        if mine[-1].solution_viewed:
            failing.append(Pick(info.id, info.title, info.domain, "your last attempt needed the walk-through"))
            continue
        if times and statistics.median(times) > SLOW * info.time_limit:
            failing.append(
                Pick(info.id, info.title, info.domain, f"solved, but slowly (median {statistics.median(times):.0f}s)")
            )
            continue
        clean = sum(a.clean for a in solves)
        interval = REVIEW_DAYS[min(max(clean, 1), len(REVIEW_DAYS)) - 1] * DAY
        when = solves[-1].when + (solves[-1].time_to_fix or 0.0) + interval
        reason = f"review: solved cleanly {clean} time(s), last solved {_days(now - solves[-1].when)} ago"
        (due if when <= now else later).append(Pick(info.id, info.title, info.domain, reason, when))
    due.sort(key=lambda p: p.due or 0.0)
    later.sort(key=lambda p: p.due or 0.0)
    for pick in later:
        pick.reason = f"nothing else is due; its review comes in {_days((pick.due or now) - now)}"
    return untried + failing + due + later
