"""Replay the journal backwards: put back every change, idempotently, even after a crash."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from breakfix.changes import sha256
from breakfix.errors import ApiRefused, BreakfixError, StepError, api_not_ready
from breakfix.journal_records import Change, CommandChange, FileChange, JournalRecordError, ObjectChange, UnitChange
from breakfix.kube import gone_within
from breakfix.state import JournalEntry

if TYPE_CHECKING:
    from breakfix.context import Context


def _undo_file(ctx: Context, rec: FileChange) -> None:
    node = ctx.node(rec.node)
    if not rec.existed:
        node.remove(rec.path)
        return
    data = base64.b64decode(rec.content or "")
    if node.read(rec.path) != data or node.stat(rec.path) != rec.stat:
        node.write(rec.path, data, rec.stat)


def _undo_unit(ctx: Context, rec: UnitChange) -> None:
    node = ctx.node(rec.node)
    if rec.masked:
        node.run("systemctl stop %s", rec.unit)
        node.check("systemctl mask %s", rec.unit)
        return
    node.run("systemctl unmask %s", rec.unit)
    node.check("systemctl %s %s", "enable" if rec.enabled else "disable", rec.unit)
    node.check("systemctl %s %s", "start" if rec.active else "stop", rec.unit)


def restarts_on_undo(entry: JournalEntry) -> bool:
    """Whether undoing ENTRY restarts its unit: it restarted a running one, which then read its files anew."""
    change = entry.change
    return isinstance(change, UnitChange) and change.restarts_on_undo


def _restart_unit(ctx: Context, rec: Change) -> None:
    # restart only: a restart changed neither enablement nor masking, and the older undos set whether it runs
    assert isinstance(rec, UnitChange)
    ctx.node(rec.node).check("systemctl try-restart %s", rec.unit)


def _undo_command(ctx: Context, rec: CommandChange) -> None:
    ctx.node(rec.node).check(rec.undo, timeout=rec.timeout)


def _undo_object(ctx: Context, rec: ObjectChange) -> None:
    kube = ctx.kube
    prev = rec.previous
    if prev is None:
        kube.delete(rec.api_version, rec.kind, rec.name, rec.namespace)
        _wait_gone(ctx, rec)
        return
    live = kube.get(rec.api_version, rec.kind, rec.name, rec.namespace)
    if live is None:
        kube.create(dict(prev))
    elif rec.uid and live["metadata"].get("uid") != rec.uid:
        _recreate(ctx, rec, prev)  # deleted and recreated since: immutable fields (clusterIP, selectors) may differ
    else:
        try:
            kube.replace(dict(prev))
        except ApiRefused as exc:
            if exc.status != 422 or "immutable" not in str(exc):
                raise
            _recreate(ctx, rec, prev)  # e.g. a claim that got a class and bound: its spec cannot go back in place


def _recreate(ctx: Context, rec: ObjectChange, previous: dict[str, Any]) -> None:
    """Delete the live object and create the journaled one (server-assigned addresses left to the server)."""
    ctx.kube.delete(rec.api_version, rec.kind, rec.name, rec.namespace)
    _wait_gone(ctx, rec)
    body = dict(previous)
    if rec.kind == "Service":
        body["spec"] = {k: v for k, v in (body.get("spec") or {}).items() if k not in ("clusterIP", "clusterIPs")}
    ctx.kube.create(body)


def _wait_gone(ctx: Context, rec: ObjectChange, timeout: float = 120) -> None:
    if not gone_within(ctx.kube, rec.api_version, rec.kind, rec.name, rec.namespace, timeout):
        # not a ClusterError: the API server answers, a finalizer holds the object (waiting longer will not help)
        raise StepError(
            f"{rec.kind} {rec.name} is still there {timeout:.0f}s after deletion "
            f"(a finalizer waits: {_finalizers(ctx, rec)})"
        )


def _finalizers(ctx: Context, rec: ObjectChange) -> str:
    try:
        live = ctx.kube.get(rec.api_version, rec.kind, rec.name, rec.namespace)
    except BreakfixError:
        return "unknown"
    return ", ".join((live or {}).get("metadata", {}).get("finalizers") or []) or "none listed"


def _undo(ctx: Context, change: Change) -> None:
    """Put back what CHANGE changed."""
    if isinstance(change, FileChange):
        _undo_file(ctx, change)
    elif isinstance(change, UnitChange):
        _undo_unit(ctx, change)
    elif isinstance(change, CommandChange):
        _undo_command(ctx, change)
    else:
        _undo_object(ctx, change)


def undo_entry(
    ctx: Context, entry: JournalEntry, api_wait: float = 240, on_wait: Callable[[], None] | None = None
) -> None:
    """Undo one entry; API-level undos wait for the API server to come back (a fix may restart it).

    ON_WAIT runs once when the wait begins: the caller may restart what the API server needs.
    """
    change = entry.change
    deadline = time.monotonic() + (api_wait if isinstance(change, ObjectChange) else 0)
    announced = False
    while True:
        try:
            _undo(ctx, change)
            return
        except BreakfixError as exc:
            if not api_not_ready(exc) or time.monotonic() > deadline:
                raise
            if not announced:
                ctx.log("waiting for the API server to come back before undoing the rest...")
                announced = True
                if on_wait is not None:
                    on_wait()
            time.sleep(3)


def replay(ctx: Context, after: int = 0) -> int:
    """Undo every journal entry newer than AFTER, newest first; stops at the first failure.

    Every entry is read first: one this breakfix cannot read (a newer layout) stops it before anything is undone.
    A journaled restart of a running unit is replayed as a restart once every older change is undone, so
    that the unit reads its files as they were (they are put back after it in the journal's order); the
    entry stays in the journal until then, so an interrupted reset restarts it the next time.
    """
    entries = ctx.store.journal(ctx.cluster.name, after)
    for entry in entries:  # all readable, or none undone: a newer breakfix can still undo them all
        try:
            entry.change  # noqa: B018
        except JournalRecordError as exc:
            raise JournalRecordError(
                f"{exc}; none of the {len(entries)} changes were undone: the journal keeps them all"
            ) from None
    restarts: dict[tuple[str, str], list[JournalEntry]] = {}
    done = 0

    def restart_early() -> None:
        # the API server may need a unit whose files are already back (a kubelet that runs it as a static
        # pod): restart those now rather than wait for a server that cannot come; the restart stays in the
        # journal and is replayed again once the older changes are undone too
        for (node, unit), pending in restarts.items():
            ctx.log(f"restarting {unit} on {node} now so that the API server can come back...")
            try:
                _restart_unit(ctx, pending[-1].change)
            except BreakfixError as exc:
                ctx.log(f"could not restart {unit} on {node} yet: {exc}")

    for entry in reversed(entries):
        if restarts_on_undo(entry):
            unit = entry.change
            assert isinstance(unit, UnitChange)
            restarts.setdefault((unit.node, unit.unit), []).append(entry)
            continue
        _undo_or_stop(ctx, entry, done, len(entries), on_wait=restart_early if restarts else None)
        ctx.store.journal_drop(entry.id)
        done += 1
    for pending in restarts.values():
        _undo_or_stop(ctx, pending[-1], done, len(entries), handler=_restart_unit)
        for entry in pending:
            ctx.store.journal_drop(entry.id)
            done += 1
    return len(entries)


def _undo_or_stop(
    ctx: Context,
    entry: JournalEntry,
    done: int,
    total: int,
    handler: Callable[[Context, Change], None] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> None:
    try:
        if handler is None:
            undo_entry(ctx, entry, on_wait=on_wait)
        else:
            handler(ctx, entry.change)
    except BreakfixError as exc:
        # stop here: undoing older entries first would leave this newer change in place afterwards
        raise BreakfixError(
            f"could not undo {entry.kind} {describe(entry)}: {exc}; {done} of {total} changes were "
            "undone and the journal keeps the rest: fix the cause and run `lab reset` again"
        ) from None


def describe(entry: JournalEntry) -> str:
    """A short description of a journal entry."""
    try:
        return entry.change.describe()
    except BreakfixError:
        return f"journal entry {entry.id} ({entry.kind})"


def verify_restored(ctx: Context, records: list[JournalEntry]) -> list[str]:
    """Problems left after a reset: files whose bytes, mode or owner differ from before the first change."""
    first: dict[str, JournalEntry] = {}
    for entry in records:
        first.setdefault(f"{entry.kind}:{describe(entry)}", entry)
    problems = []
    for entry in first.values():
        rec = entry.change
        if isinstance(rec, FileChange):
            node = ctx.node(rec.node)
            data = node.read(rec.path)
            if sha256(data) != rec.sha256:
                problems.append(f"{describe(entry)} content differs from before")
            elif data is not None and node.stat(rec.path) != rec.stat:
                problems.append(f"{describe(entry)} mode or owner differs from before")
        elif isinstance(rec, ObjectChange):
            live = ctx.kube.get(rec.api_version, rec.kind, rec.name, rec.namespace)
            if (live is None) != (rec.previous is None):
                problems.append(f"{describe(entry)} {'missing' if live is None else 'still exists'}")
    return problems
