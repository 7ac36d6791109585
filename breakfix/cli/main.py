"""`lab`: break a Kubernetes cluster on purpose, fix it, get graded."""

from __future__ import annotations

import sys
import tempfile
import traceback
from dataclasses import replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from breakfix import __version__
from breakfix.cli import interrupt
from breakfix.cli.exam import exam_app
from breakfix.cli.new import new_command
from breakfix.cli.output import STATUS_STYLE, emit, emit_json, say, table
from breakfix.cli.progress import register as register_progress
from breakfix.cli.steps import steps_command

if TYPE_CHECKING:
    from breakfix.api import Breakfix
    from breakfix.catalog import Lab
    from breakfix.results import GradeReport
    from breakfix.runner import VerifyPhase

app = typer.Typer(
    name="lab",
    help="Kubernetes troubleshooting practice: break a real cluster, fix it, get graded.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
# commands kept in modules of their own (sub-apps are registered at the end: clusters uses the helpers below)
app.command("steps")(steps_command)
app.command("new")(new_command)
register_progress(app)  # history, stats, next, doctor

_options: dict[str, str | None] = {"cluster": None}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts (the same as -o json).")]


class Output(StrEnum):
    """How a command prints, as kubectl's -o."""

    json = "json"
    yaml = "yaml"
    name = "name"
    wide = "wide"


OutputOpt = Annotated[
    Output | None, typer.Option("--output", "-o", help="json, yaml, name (one a line) or wide, as kubectl's -o.")
]
SpoilersOpt = Annotated[bool, typer.Option("--spoilers", help="Also show what gives the lab away (for lab authors).")]
SeedOpt = Annotated[
    str | None,
    typer.Option(
        "--seed", help="Draw the lab's variables from this seed (a whole number): the same seed, the same lab."
    ),
]


def _seed_for(bf: Breakfix, lab_id: str, text: str | None) -> int | None:
    """--seed as a number, refused (one line) when it is not one or the lab has no variables to draw."""
    from breakfix.errors import UsageError
    from breakfix.variants import VariantError, parse_seed

    if text is None:
        return None
    try:
        seed = parse_seed(text)
    except VariantError as exc:
        raise UsageError(str(exc)) from None
    if not bf.lab(lab_id).has_variables:
        raise UsageError(f"lab {lab_id} has no variables: --seed would change nothing")
    return seed


def _format(output: Output | None, json_out: bool = False, wide: bool = False) -> str:
    """The chosen format: table (the default), wide, json, yaml or name."""
    from breakfix.errors import UsageError

    if json_out and output not in (None, Output.json):
        raise UsageError(f"--json and -o {output} disagree: give one")
    if json_out:
        return "json"
    if output is None:
        return "wide" if wide else "table"
    return output.value


def _bf() -> Breakfix:
    from breakfix.api import Breakfix

    return Breakfix(cluster=_options["cluster"], log=say)


def _complete_lab(incomplete: str) -> list[str]:
    from breakfix.catalog_ids import lab_ids

    return [lab for lab in lab_ids() if lab.startswith(incomplete)]


LabArg = Annotated[str, typer.Argument(help="Lab id, e.g. etcd-datadir.", autocompletion=_complete_lab)]


def _version(value: bool) -> None:
    if value:
        print(f"breakfix {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            "-c",
            envvar="BREAKFIX_CLUSTER",
            help="Registered cluster to act on.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Kubernetes troubleshooting practice: break a real cluster, fix it, get graded."""
    _options["cluster"] = cluster


# catalog ------------------------------------------------------------------------
@app.command("list")
def list_labs(
    domain: Annotated[str | None, typer.Option(help="Only this CKA domain.")] = None,
    difficulty: Annotated[str | None, typer.Option(help="easy, medium or hard.")] = None,
    runnable: Annotated[bool, typer.Option("--runnable", help="Only labs the cluster can run.")] = False,
    details: Annotated[
        bool, typer.Option("--details", help="Show requirements and tasks (the same as -o wide).")
    ] = False,
    spoilers: SpoilersOpt = False,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the labs."""
    from breakfix.cli import listing

    fmt = _format(output, json_out, details)
    rows, errors = listing.summaries()
    caps = _bf().cluster().capabilities if runnable else None
    listing.render(listing.select(rows, domain, difficulty, caps), fmt, errors, spoilers)


def _offline_variables() -> dict[str, str]:
    """{{ variables }} from the chosen cluster's registered inventory (no network), or neutral words."""
    from breakfix.catalog import cluster_variables
    from breakfix.errors import BreakfixError

    try:
        spec = _bf().cluster()
    except BreakfixError:  # no cluster registered or chosen: neutral words
        spec = None
    return cluster_variables(spec)


@app.command()
def show(lab_id: LabArg, spoilers: SpoilersOpt = False, output: OutputOpt = None, json_out: JsonOpt = False) -> None:
    """Describe one lab: task, requirements, checks (no spoilers)."""
    from breakfix.catalog import load_one
    from breakfix.cli.listing import public

    fmt = _format(output, json_out)
    from breakfix.steps import render

    lab = load_one(lab_id)
    words = lab.words(_offline_variables())  # a lab's variables as words like <port>: no value is drawn here
    checks = [  # how a grader judges can name what it looks at (a clock, a selector): kept for --spoilers
        {"check": str(render(s.title, words, keep_unknown=True)), "weight": s.weight}
        | ({"about": s.doc} if spoilers else {})
        for s in lab.steps["grade"]
    ]
    task_text = lab.task_text(_offline_variables())
    data = {
        **public(lab.summary(), spoilers),
        "task": task_text,
        "hints": len(lab.spec.hints),
        "checks": checks,
        # their names tell the shortcut or the fix: counts unless --spoilers
        "cheats_tested": list(lab.cheats) if spoilers else len(lab.cheats),
        "alternatives_tested": list(lab.alternatives) if spoilers else len(lab.alternatives),
    }
    if spoilers:  # what it touches names the area of the fault: for authors
        from breakfix.footprint import footprint

        found = footprint(lab)
        data["shares_a_cluster"] = not found.alone
        data["footprint"] = found.why if found.alone else sorted(found.claims)
    if fmt in ("json", "yaml", "name"):
        emit(data, fmt, names=[lab.id])
        return
    from breakfix.durations import format_duration

    print(f"{lab.id}: {lab.spec.title}")
    print(
        f"  domain {lab.spec.domain}, {lab.spec.difficulty}, {format_duration(lab.spec.time_limit)}, "
        f"needs: {', '.join(lab.spec.requires) or 'any cluster'}"
    )
    if spoilers:
        print(f"  summary: {lab.spec.summary}")
    print(f"\n{task_text}\n")
    print(f"graded by {len(checks)} checks; {len(lab.spec.hints)} hints available")
    for c in checks:
        print(f"  - {c['check']} (weight {c['weight']})" + (f": {c['about']}" if "about" in c else ""))
    if fmt == "wide" or spoilers:
        cheats = ", ".join(lab.cheats) if spoilers else str(len(lab.cheats))
        alts = ", ".join(lab.alternatives) if spoilers else str(len(lab.alternatives))
        print(f"verified against shortcuts (cheats): {cheats or '0'}; other valid fixes: {alts or '0'}")
    if spoilers:
        claims = data["footprint"]
        shared = (
            f"may run with others; claims {', '.join(claims)}" if data["shares_a_cluster"] else f"runs alone ({claims})"
        )
        print(f"on a cluster (`lab start A B`): {shared}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of lab.yaml, every breaker's and grader's arguments included (for editors)."""
    import json

    from breakfix.lab_schema import lab_schema

    print(json.dumps(lab_schema(), indent=2))


# the lab cycle ----------------------------------------------------------------------
TaskOpt = Annotated[
    int | None, typer.Option("--task", "-t", help="Which of the labs started together (1, 2, ...); see `lab status`.")
]


@app.command()
def start(
    lab_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Lab ids, e.g. etcd-datadir; several run together.", autocompletion=_complete_lab),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", help="Draw this many labs that can run together on the cluster.")
    ] = None,
    domain: Annotated[
        list[str] | None, typer.Option("--domain", help="With --count: draw only from this CKA domain (repeatable).")
    ] = None,
    student: Annotated[str | None, typer.Option(help="Name recorded with the attempt.")] = None,
    spoilers: Annotated[
        bool, typer.Option("--spoilers", help="Name each step and its arguments (for lab authors: gives it away).")
    ] = False,
    seed: SeedOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Break the cluster for one lab (or several together), confirm the fault, show the task, start the clock."""
    from breakfix.errors import UsageError

    bf = _bf()
    bf.spoilers = spoilers
    named = lab_ids or []
    if named and (count is not None or domain):
        raise UsageError("name the labs, or draw them with --count (and --domain): not both")
    if domain and count is None:
        raise UsageError("--domain chooses what --count draws: give --count too")
    if not named and count is None:
        raise UsageError("name a lab (`lab list` shows them), or draw some with --count N")
    if count is not None or len(named) > 1:
        _start_together(bf, named, count, domain or [], student, seed, json_out)
        return
    lab_id = named[0]
    chosen = _seed_for(bf, lab_id, seed)
    session, task = bf.start(lab_id, student, seed=chosen)
    from breakfix.runner import variant_of

    drawn = variant_of(session)[0]
    if json_out:
        emit_json(
            {
                "session": session.id,
                "lab": session.lab,
                "cluster": session.cluster,
                "deadline": session.deadline,
                "task": task,
                **({"seed": drawn} if drawn is not None else {}),
            }
        )
        return
    from breakfix.durations import format_duration

    limit = format_duration((session.deadline or 0) - (session.started or 0))
    again = f" (seed {drawn}: `lab start {lab_id} --seed {drawn}` gives it again)" if drawn is not None else ""
    print(f"\n== {lab_id} on {session.cluster}: you have {limit}{again} ==\n\n{task}\n")
    print("When you think it is fixed: `lab grade`.  Stuck: `lab hint`.  Give up: `lab reset`.")


def _start_together(
    bf: Breakfix,
    named: list[str],
    count: int | None,
    domains: list[str],
    student: str | None,
    seed_text: str | None,
    json_out: bool,
) -> None:
    """`lab start A B C` or `lab start --count N`: several labs on one cluster, under one clock."""
    from breakfix.api import shown_lab, task_number
    from breakfix.durations import format_duration
    from breakfix.errors import UsageError
    from breakfix.variants import VariantError, parse_seed, random_seed

    try:
        seed = parse_seed(seed_text) if seed_text is not None else random_seed()
    except VariantError as exc:
        raise UsageError(str(exc)) from None
    drawn = count is not None
    ids = bf.draw_together(count, domains, seed) if count is not None else named
    started = bf.start_together(ids, student, seed=seed, drawn=drawn)
    if json_out:
        emit_json(
            {
                "cluster": started[0][0].cluster,
                "deadline": started[0][0].deadline,
                "seed": seed,
                "tasks": [
                    {"task": task_number(s, n), "session": s.id, "lab": None if drawn else s.lab, "task_text": text}
                    for n, (s, text) in enumerate(started, 1)
                ],
            }
        )
        return
    first = started[0][0]
    limit = format_duration((first.deadline or 0) - (first.started or 0))
    again = "`lab start --count {} {}--seed {}`".format(count, "".join(f"--domain {d} " for d in domains), seed)
    replay = again if drawn else f"`lab start {' '.join(named)} --seed {seed}`"
    labs = f"{len(started)} labs" if len(started) > 1 else "1 lab"
    print(f"\n== {labs} on {first.cluster}: you have {limit} (seed {seed}: {replay}) ==")
    for n, (session, text) in enumerate(started, 1):
        print(f"\n-- task {task_number(session, n)}: {shown_lab(session, bf.title_of(session))} --\n\n{text}")
    print(
        "\nWhen you think they are fixed: `lab grade` (every task).  Stuck: `lab hint --task N`.  "
        "Give up: `lab reset` (all of them)."
    )


@app.command()
def task(number: TaskOpt = None) -> None:
    """Show the running lab's task again (every task, when labs run together)."""
    from breakfix.api import shown_lab, task_number

    bf = _bf()
    running = bf.tasks()
    if number is None and len(running) > 1:
        for n, session in enumerate(running, 1):
            number = task_number(session, n)
            _, text = bf.task(number)
            print(f"-- task {number}: {shown_lab(session, bf.title_of(session))} --\n\n{text}\n")
        return
    session, text = bf.task(number)
    from breakfix.api import shown_lab_id

    print(f"{shown_lab_id(session) or bf.lab_of(session).spec.title}:\n\n{text}")


@app.command()
def status(output: OutputOpt = None, json_out: JsonOpt = False) -> None:
    """The running lab, time left, hints used and grading attempts."""
    from breakfix.api import shown_lab, shown_lab_id, task_number

    fmt = _format(output, json_out)
    st = _bf().status()
    if fmt in ("json", "yaml", "name"):
        names = [shown_lab_id(t) for t, _title in st.tasks] if st.tasks else [shown_lab_id(st.session)]
        emit(st.as_dict(), fmt, names=[n for n in names if n])
        return
    if st.session is None:
        from breakfix.cli.fast import idle_line

        print(idle_line(st.cluster, st.journal_entries))
        return
    s = st.session
    if st.tasks:
        print(f"{st.cluster}: {len(st.tasks)} labs run together; time left {st.time_left}")
        for n, (each, title) in enumerate(st.tasks, 1):
            print(
                f"  task {task_number(each, n)}: {shown_lab(each, title)} is {each.status.value}; "
                f"hints used {each.hints_used}"
            )
        return
    print(
        f"{st.cluster}: {shown_lab(s, st.lab_title)} is {st.status_text}; "
        f"time left {st.time_left}; "
        f"hints used {s.hints_used}; graded {st.grades} times"
        + (f"; seed {st.seed}" if st.seed is not None else "")
        + ("; run `lab reset` again" if st.status_text == "reset unfinished" else "")
    )
    if fmt == "wide":
        print(f"  session {s.id}; started {s.started}; deadline {s.deadline}; journal entries {st.journal_entries}")


@app.command()
def hint(number: TaskOpt = None) -> None:
    """Show the next hint (each one costs 10% of the score)."""
    hint_number, total, text = _bf().hint(number)
    print(f"hint {hint_number}/{total}: {text}")


def _print_report(report: GradeReport, score: float, name: str | None = None, several: bool = False) -> None:
    rows = [
        [
            STATUS_STYLE[c.status],
            c.name,
            c.message + (f"\n  hint: {c.hint}" if c.hint and not c.ok else ""),
            str(c.weight),
        ]
        for c in report.checks
    ]
    table(f"{name or report.lab}: {report.score}/{report.max_score} points", ["", "CHECK", "RESULT", "WEIGHT"], rows)
    from breakfix.durations import format_duration

    if several:
        took = f" in {format_duration(report.elapsed)}" if report.elapsed is not None else ""
        print(f"Fixed{took}. Score {score:g}%." if report.passed else f"Not fixed yet. Score so far {score:g}%.")
    elif report.passed:
        took = f" in {format_duration(report.elapsed)}" if report.elapsed is not None else ""
        print(f"Fixed{took}. Score {score:g}%. `lab reset` puts the cluster back for the next lab.")
    else:
        print(f"Not fixed yet. Score so far {score:g}%.")


EXIT_NOT_FIXED = 1
EXIT_CANNOT_GRADE = 3


@app.command()
def grade(
    output: OutputOpt = None,
    json_out: JsonOpt = False,
    junit: Annotated[Path | None, typer.Option(help="Also write a JUnit XML report here.")] = None,
) -> None:
    """Check the cluster, check by check (every task when labs run together); exit 0 fixed, 1 not fixed,
    3 could not grade (see the README)."""
    from breakfix.api import shown_lab, shown_lab_id, task_number
    from breakfix.errors import BreakfixError, UsageError

    fmt = _format(output, json_out)
    if junit is not None and not junit.parent.is_dir():  # before the attempt is recorded
        raise UsageError(f"--junit {junit}: the folder {junit.parent} does not exist")
    bf = _bf()
    try:
        graded = bf.grade_tasks()
    except BreakfixError as exc:
        if exc.exit_code == EXIT_NOT_FIXED:  # no lab running, cluster unreachable...: not graded at all
            exc.exit_code = EXIT_CANNOT_GRADE
        raise
    # the attempts were recorded in full; what is shown names no fault (nor, in an exam, the lab)
    shown = [(s, replace(r.for_student(), lab=shown_lab_id(s) or bf.title_of(s)), score) for s, r, score in graded]
    several = len(shown) > 1
    if junit:
        from breakfix.cli.junit import write_junit

        write_junit([r for _s, r, _score in shown], junit)
    if fmt in ("json", "yaml", "name"):
        dicts = [{**r.as_dict(), "score_percent": score} for _s, r, score in shown]
        if several:
            numbers = [task_number(s, n) for n, (s, _r, _score) in enumerate(shown, 1)]
            payload: object = {"tasks": [{"task": n, **d} for n, d in zip(numbers, dicts, strict=True)]}
        else:
            payload = dicts[0]
        emit(payload, fmt, names=[c.name for _s, r, _score in shown for c in r.checks])
    else:
        for n, (session, report, score) in enumerate(shown, 1):
            title = shown_lab(session, bf.title_of(session))
            name = f"task {task_number(session, n)}: {title}" if several else report.lab
            _print_report(report, score, name, several)
        if several:
            mean = sum(score for _s, _r, score in shown) / len(shown)
            fixed = sum(1 for _s, r, _score in shown if r.passed)
            print(
                f"\n{fixed} of {len(shown)} tasks fixed; score {mean:.1f}%."
                + (" `lab reset` puts the cluster back." if fixed == len(shown) else "")
            )
    if not all(r.passed for _s, r, _score in shown):
        could_not = any(c.status == "error" for _s, r, _score in shown for c in r.checks)
        raise typer.Exit(EXIT_CANNOT_GRADE if could_not else EXIT_NOT_FIXED)


@app.command()
def reset(
    snapshot: Annotated[
        bool, typer.Option("--snapshot", help="Restore the cluster's clean snapshot instead (Vagrant clusters).")
    ] = False,
    label: Annotated[str, typer.Option(help="The snapshot --snapshot restores.")] = "breakfix-clean",
    take_over: Annotated[
        bool,
        typer.Option(
            "--take-over",
            help="Undo a lab started from another machine (or before this machine's store was lost), from the "
            "copy of its journal kept on the cluster.",
        ),
    ] = False,
) -> None:
    """Put back everything breakfix changed on the cluster (also after a crash)."""
    if snapshot:
        dropped = _bf().reset_to_snapshot(label)
        print(f"reset: restored snapshot {label}" + (f"; {dropped} journaled change(s) are void" if dropped else ""))
        return
    n = _bf().reset(take_over)
    print(f"reset: {n} change(s) undone; the cluster is as it was." if n else "reset: nothing to undo.")


@app.command()
def solution(
    lab_id: Annotated[
        str | None,
        typer.Argument(
            help="Lab id (the running one by default).",
            autocompletion=_complete_lab,
        ),
    ] = None,
    number: TaskOpt = None,
) -> None:
    """Show the reference walk-through (during a running lab this sets its score to 0)."""
    lid, text = _bf().solution(lab_id, number)
    print(f"# {lid}: solution\n\n{text.strip()}")


def _cluster_problem(bf: Breakfix) -> str | None:
    """What keeps any lab from starting on the cluster (unfinished changes, no API server), or None."""
    from breakfix.errors import BreakfixError

    name = bf.cluster().name
    if bf.store.active_session(name) is not None or bf.store.journal(name):
        return f"cluster {name} has unfinished changes: run `lab reset`"
    try:
        with bf.context() as ctx:
            ctx.kube.version()
    except BreakfixError as exc:
        return f"the API server of {name} does not answer: {exc}"
    return None


def _verify_stopped(lab_id: str, problem: str) -> Exception:
    """One line for a cluster-level failure: no later lab could start either (exit 3)."""
    from breakfix.errors import ClusterError

    err = ClusterError(f"verify stopped at {lab_id}: {problem}")
    err.exit_code = EXIT_CANNOT_GRADE
    return err


@app.command()
def verify(
    lab_id: Annotated[str | None, typer.Argument(help="Lab id.", autocompletion=_complete_lab)] = None,
    all_labs: Annotated[bool, typer.Option("--all", help="Every lab the cluster can run.")] = False,
    settle: Annotated[float, typer.Option(help="Seconds to wait for a fix to settle.")] = 300,
    cheat_window: Annotated[float, typer.Option(help="Seconds a cheat is graded for (it must fail throughout).")] = 90,
    bypass_window: Annotated[
        float,
        typer.Option(
            help="Seconds each generic bypass (scale to zero, probes or resources off, renamed) is graded "
            "for; 0 skips them."
        ),
    ] = 30,
    json_out: JsonOpt = False,
    record: Annotated[
        bool, typer.Option("--record", help="Write labs/<id>/verified.json for each lab that passes (commit it).")
    ] = False,
    variants: Annotated[
        str | None,
        typer.Option(
            "--variants", help="A lab with variables: prove this many variants, each from a new seed (printed)."
        ),
    ] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", help="A lab with variables: prove the variant of this seed.")
    ] = None,
) -> None:
    """Self-test labs: break fails grading, cheats fail, the fix and its alternatives pass, reset is clean."""
    import time

    from breakfix.errors import UsageError

    bf = _bf()
    if all_labs == (lab_id is not None):
        raise UsageError("give one LAB or --all")
    if variants is not None and seed is not None:
        raise UsageError("give --variants N or --seed S, not both")
    if seed is not None and all_labs:
        raise UsageError("--seed goes with one LAB, not --all")
    count = _variant_count(variants)
    if all_labs:
        caps = bf.cluster().capabilities
        labs = {lab.id: lab for lab in bf.catalog.labs.values() if set(lab.spec.requires) <= caps}
        if not labs:
            offers = ", ".join(sorted(caps)) or "nothing"
            print(
                f"lab: nothing to verify: no lab needs only what cluster {bf.cluster().name} offers ({offers})",
                file=sys.stderr,
            )
            raise typer.Exit(NOTHING_TO_VERIFY)
    else:
        one = bf.lab(lab_id or "")
        labs = {one.id: one}
    ids = list(labs)
    if not all_labs and (variants is not None or seed is not None) and not labs[ids[0]].has_variables:
        which = "--seed" if seed is not None else "--variants"
        raise UsageError(f"lab {ids[0]} has no variables: {which} would change nothing")
    chosen = _seed_for(bf, ids[0], seed) if seed is not None else None  # (one lab: --seed refuses --all)
    if record:  # the content as loaded now, before the verify: an edit made meanwhile is not proven
        from breakfix.proof import content_hash, record_verify

        digests = {lid: content_hash(bf.lab(lid)) for lid in ids}
    results: dict[str, dict[str, object]] = {}
    failed: list[str] = []
    for lid in ids:
        seeds = _verify_seeds(labs[lid], chosen, count)
        began = time.monotonic()
        runs: list[tuple[int | None, bool, list[VerifyPhase]]] = []
        for number, each in enumerate(seeds, 1):
            name = lid if each is None else f"{lid} --seed {each}"
            of = f" (variant {number} of {len(seeds)})" if len(seeds) > 1 else ""
            say(f"verify {name}{of}:")
            if each is not None:
                from breakfix.variants import describe

                say(f"  values: {describe(bf.variant(lid, each).values)}")
            phases = _verify_one(bf, lid, name, each, settle, (cheat_window, bypass_window))
            ok = all(p.ok for p in phases)
            runs.append((each, ok, phases))
            if not ok:
                failed.append(name)
        ok = all(r[1] for r in runs)
        phases = next((r[2] for r in runs if not r[1]), runs[-1][2])  # the first failing variant, else the last
        results[lid] = {"ok": ok, "phases": [p.as_dict() for p in phases]}
        if seeds != [None]:
            results[lid]["variants"] = [
                {"seed": each, "ok": good, "phases": [p.as_dict() for p in done]} for each, good, done in runs
            ]
        if record:
            proven = [each for each, _good, _done in runs if each is not None]
            results[lid]["record"] = record_verify(bf, lid, phases, time.monotonic() - began, digests[lid], proven)
            say(f"  {results[lid]['record']}")
    if json_out:
        emit_json(results)
    else:
        for lid, res in results.items():
            print(f"{'PASS' if res['ok'] else 'FAIL'} {lid}")
        for name in failed:
            if " --seed " in name:
                print(f"  failed: lab verify {name}")
    if failed:
        raise typer.Exit(1)


MAX_VARIANTS = 50
NOTHING_TO_VERIFY = 5  # as pytest's "no tests collected"


def _variant_count(text: str | None) -> int:
    """--variants as a number from 1 to MAX_VARIANTS (1 when not given)."""
    from breakfix.errors import UsageError

    if text is None:
        return 1
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_VARIANTS:
        raise UsageError(f"--variants {text!r}: a whole number from 1 to {MAX_VARIANTS}")
    return int(text)


def _verify_seeds(lab: Lab, seed: int | None, count: int) -> list[int | None]:
    """The seeds to prove a lab with: [None] for a lab without variables, SEED, or COUNT different new ones."""
    from breakfix.variants import random_seed

    if not lab.has_variables:
        return [None]
    if seed is not None:
        return [seed]
    seeds: list[int | None] = []
    while len(seeds) < count:
        drawn = random_seed()
        if drawn not in seeds:
            seeds.append(drawn)
    return seeds


def _verify_one(
    bf: Breakfix, lab_id: str, name: str, seed: int | None, settle: float, windows: tuple[float, float]
) -> list[VerifyPhase]:
    """One lab (or one variant of it) proven; a cluster that cannot start any lab stops the whole verify."""
    from breakfix.errors import ClusterError

    variant = {"seed": seed} if seed is not None else {}  # a lab without variables: verified as it always was
    try:
        phases = bf.verify(
            lab_id,
            settle,
            windows[0],
            bypass_window=windows[1],
            on_phase=lambda p: say(f"  {'ok ' if p.ok else 'BAD'} {p.name}: {p.detail}"),
            **variant,
        )
    except ClusterError as exc:
        raise _verify_stopped(name, str(exc)) from None
    ok = all(p.ok for p in phases)
    if not ok and [p.name for p in phases] == ["break"]:  # the lab did not start: is it the lab, or the cluster?
        problem = _cluster_problem(bf)
        if problem:
            raise _verify_stopped(name, problem)
    return phases


# `lab ssh` and the sub-apps `lab cluster ...`, `lab exam ...` (their modules use the helpers above) -----------
from breakfix.cli.clusters import cluster_app  # noqa: E402
from breakfix.cli.ssh import ssh_command  # noqa: E402

app.command("ssh")(ssh_command)
app.add_typer(cluster_app, name="cluster")
app.add_typer(exam_app, name="exam")


# error boundary -----------------------------------------------------------------------
def _log_path() -> Path:
    from breakfix.paths import state_dir

    folder = state_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    return folder / "lab-error.log"


def _click_exceptions() -> ModuleType:
    """Typer's vendored click (typer >= 0.20) or click itself."""
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # older typer uses click directly
        return importlib.import_module("click.exceptions")


@cache
def _command() -> Any:
    """The click command typer builds from `app`, built once a process (most of what a command costs in-process)."""
    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes: 1 expected, 2 usage, 3 unexpected, 130 Ctrl-C."""
    from breakfix.cli.output import end_progress

    try:
        return _dispatch(argv)
    finally:
        end_progress()


def _dispatch(argv: list[str] | None) -> int:
    """Run one command; its errors as exit codes (see main)."""
    from breakfix.errors import BreakfixError

    cx = _click_exceptions()
    exits = tuple(t for t in (typer.Exit, getattr(cx, "Exit", None)) if t is not None)
    aborts = tuple(t for t in (typer.Abort, getattr(cx, "Abort", None)) if t is not None)
    from breakfix.cli.entry import broken_pipe, hoist_global_options, lower_command_options, output_as_json_flag
    from breakfix.cli.output import AS_YAML

    command = _command()
    args = hoist_global_options(lower_command_options(sys.argv[1:] if argv is None else argv, command), command)
    try:
        args, chosen = output_as_json_flag(args, command)
    except ValueError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    AS_YAML["on"] = chosen == "yaml"
    try:
        with interrupt.watching():
            result = command.main(args=args, prog_name="lab", standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if code == 130 and interrupt.happened():  # typer made Ctrl-C a quiet Exit(130)
            interrupt.report(_options["cluster"])
        return code
    except exits as exc:
        if int(exc.exit_code) == 130 and interrupt.happened():
            interrupt.report(_options["cluster"])
        return int(exc.exit_code)
    except cx.UsageError as exc:
        exc.show()
        return 2
    except aborts as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            interrupt.report(_options["cluster"])
            return 130
        print("lab: aborted", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        interrupt.report(_options["cluster"])
        return 130
    except BreakfixError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return exc.exit_code
    except cx.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except BrokenPipeError:  # `lab list | head`: the reader has what it wanted
        return broken_pipe()
    except SystemExit as exc:  # click turns a broken pipe into exit 1: one code for it, whoever sees it
        if isinstance(exc.__context__, BrokenPipeError):
            return broken_pipe()
        raise
    except Exception:
        path = _log_path()
        path.write_text(traceback.format_exc())
        print(f"lab: unexpected error: {sys.exc_info()[1]!r}; details in {path}", file=sys.stderr)
        return 3


def run() -> None:
    """Run the CLI as a program."""
    sys.exit(main())
