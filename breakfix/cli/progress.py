"""`lab history`, `lab stats`, `lab next` and `lab doctor`: progress over time, and whether this machine is ready."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from breakfix.cli.output import emit, table

if TYPE_CHECKING:
    from breakfix.inventory import ClusterSpec
    from breakfix.progress import LabInfo
    from breakfix.state import State


class Data(StrEnum):
    """-o for the progress commands."""

    json = "json"
    yaml = "yaml"


DataOpt = Annotated[Data | None, typer.Option("--output", "-o", help="json or yaml for scripts.")]
LabOpt = Annotated[str | None, typer.Option("--lab", help="Only this lab.")]
DomainOpt = Annotated[str | None, typer.Option("--domain", help="Only this CKA domain, e.g. storage.")]


def _cluster_name() -> str | None:
    from breakfix.cli.main import _options

    return _options["cluster"]


def _chosen_cluster(store: State) -> ClusterSpec | None:
    """The chosen cluster from the registry and its inventory (no network), or None when none is chosen."""
    from breakfix.clusters import resolve_cluster
    from breakfix.errors import BreakfixError

    try:
        return resolve_cluster(store, _cluster_name())
    except BreakfixError:
        if _cluster_name():
            raise
        return None


def _labs() -> dict[str, LabInfo]:
    """The catalog as progress sees it, from the `lab list` cache when it is current (no lab file parsed)."""
    from breakfix.cli import listing
    from breakfix.progress import LabInfo

    rows, _errors = listing.summaries()
    return {
        r["id"]: LabInfo(r["id"], r["title"], r["domain"], float(r["time_limit_seconds"]), frozenset(r["requires"]))
        for r in rows
    }


def _domain(domain: str | None) -> str | None:
    """DOMAIN, checked against the CKA domains (exit 2 for a typo)."""
    from breakfix.errors import UsageError
    from breakfix.progress import DOMAIN_WEIGHTS

    if domain is not None and domain not in DOMAIN_WEIGHTS:
        raise UsageError(f"--domain {domain!r} is not a CKA domain (one of {', '.join(DOMAIN_WEIGHTS)})")
    return domain


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _seconds(value: float | None) -> str:
    from breakfix.durations import format_duration

    return "-" if value is None else format_duration(value)


def history_command(
    lab: LabOpt = None,
    domain: DomainOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="At most this many attempts.")] = None,
    verified: Annotated[bool, typer.Option("--verified", help="Also list `lab verify` self-tests.")] = False,
    output: DataOpt = None,
) -> None:
    """Every attempt, newest first: outcome, best score (as `lab grade` scores it), time to fix, hints."""
    from breakfix.progress import history
    from breakfix.state import State

    found = history(State(), _labs(), lab=lab, domain=_domain(domain), limit=limit, include_verified=verified)
    if output is not None:
        emit([a.as_dict() for a in found], output.value)
        return
    if not found:
        print("no attempts yet: `lab next` suggests a lab to start")
        return
    rows = [
        [
            _when(a.when),
            a.lab,
            a.domain,
            a.cluster,
            a.outcome,
            _score(a.score),
            _seconds(a.time_to_fix),
            str(a.hints_used),
        ]
        for a in found
    ]
    table("History", ["when", "lab", "domain", "cluster", "outcome", "best score", "time to fix", "hints"], rows)


def _trend(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{'+' if value > 0 else ''}{value:g}"


def stats_command(domain: DomainOpt = None, output: DataOpt = None) -> None:
    """Per CKA domain and per lab: attempts, solved, best score, median time to fix, trend (last 3 vs earlier)."""
    from breakfix.progress import DOMAIN_WEIGHTS, bar, history, stats
    from breakfix.state import State

    domain = _domain(domain)
    labs = _labs()
    found = [s for s in stats(history(State(), labs), labs) if domain is None or s.name == domain]
    if output is not None:
        emit([s.as_dict() for s in found], output.value)
        return
    rows = []
    for d in found:
        cells = [str(d.attempts), str(d.solved), _score(d.best_score), _seconds(d.median_time_to_fix), _trend(d.trend)]
        rows.append([d.name, *cells])
        for s in d.labs:
            cells = [str(s.attempts), str(s.solved), _score(s.best_score), _seconds(s.median_time_to_fix)]
            rows.append([f"  {s.name}", *cells, _trend(s.trend)])
    table("Progress", ["domain / lab", "attempts", "solved", "best score", "median time to fix", "trend"], rows)
    width = max((len(d.name) for d in found), default=0)
    print("\nlabs solved per domain (exam weight):")
    for d in found:
        total, solved = d.labs_total or 0, d.labs_solved or 0
        share = solved / total if total else 0.0
        weight = DOMAIN_WEIGHTS.get(d.name)
        print(f"  {d.name:<{width}} {bar(share)} {solved}/{total}" + (f" ({weight}%)" if weight else ""))


def next_command(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many suggestions.")] = 1,
    output: DataOpt = None,
) -> None:
    """What to practise next, and why (never tried in your weakest domain, failed or slow, or due for review)."""
    from breakfix.progress import history, next_labs
    from breakfix.state import State

    store = State()
    labs = _labs()
    spec = _chosen_cluster(store)
    picks = next_labs(labs, history(store, labs), capabilities=spec.capabilities if spec else None)[:count]
    if output is not None:
        emit([p.as_dict() for p in picks], output.value)
        return
    if not picks:
        where = f" that {spec.name} can run" if spec else ""
        print(f"no lab{where} to suggest")
        return
    for p in picks:
        print(f"{p.lab} ({p.title}): {p.reason}")
    print(f"start it with `lab start {picks[0].lab}`")


def doctor_command(output: DataOpt = None) -> None:
    """Check this machine: Python, docker, kind/vagrant/kubectl, inotify limits, memory, the cluster's SSH hosts."""
    from breakfix.doctor import diagnose
    from breakfix.state import State

    spec = _chosen_cluster(State())
    checks = diagnose(spec=spec)
    if output is not None:
        emit([c.as_dict() for c in checks], output.value)
    else:
        for c in checks:
            print(c.line())
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the progress commands to APP."""
    app.command("history")(history_command)
    app.command("stats")(stats_command)
    app.command("next")(next_command)
    app.command("doctor")(doctor_command)
