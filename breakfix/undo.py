"""Replay the journal backwards: put back every change, idempotently, even after a crash."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from breakfix.changes import sha256
from breakfix.errors import ApiRefused, BreakfixError, StepError, api_not_ready
from breakfix.kube import gone_within
from breakfix.state import JournalEntry
from breakfix.transport.base import FileStat

if TYPE_CHECKING:
    from breakfix.context import Context


def _undo_file(ctx: Context, rec: dict[str, Any]) -> None:
    node = ctx.node(rec["node"])
    if not rec["existed"]:
        node.remove(rec["path"])
        return
    data = base64.b64decode(rec["content"])
    stat = FileStat(rec["mode"], rec["uid"], rec["gid"])
    if node.read(rec["path"]) != data or node.stat(rec["path"]) != stat:
        node.write(rec["path"], data, stat)


def _undo_unit(ctx: Context, rec: dict[str, Any]) -> None:
    node = ctx.node(rec["node"])
    unit = rec["unit"]
    if rec.get("masked"):
        node.run("systemctl stop %s", unit)
        node.check("systemctl mask %s", unit)
        return
    node.run("systemctl unmask %s", unit)
    node.check("systemctl %s %s", "enable" if rec["enabled"] else "disable", unit)
    node.check("systemctl %s %s", "start" if rec["active"] else "stop", unit)


def restarts_on_undo(entry: JournalEntry) -> bool:
    """Whether undoing ENTRY restarts its unit: it restarted a running one, which then read its files anew."""
    rec = entry.record
    return entry.kind == "unit" and rec.get("action") == "restart" and rec["active"] and not rec.get("masked")


def _restart_unit(ctx: Context, rec: dict[str, Any]) -> None:
    # restart only: a restart changed neither enablement nor masking, and the older undos set whether it runs
    ctx.node(rec["node"]).check("systemctl try-restart %s", rec["unit"])


def _undo_command(ctx: Context, rec: dict[str, Any]) -> None:
    ctx.node(rec["node"]).check(rec["undo"], timeout=rec.get("timeout", 120))


def _undo_object(ctx: Context, rec: dict[str, Any]) -> None:
    kube = ctx.kube
    prev = rec["previous"]
    if prev is None:
        kube.delete(rec["apiVersion"], rec["kind"], rec["name"], rec["namespace"])
        _wait_gone(ctx, rec)
        return
    live = kube.get(rec["apiVersion"], rec["kind"], rec["name"], rec["namespace"])
    if live is None:
        kube.create(dict(prev))
    elif rec.get("uid") and live["metadata"].get("uid") != rec["uid"]:
        _recreate(ctx, rec)  # deleted and recreated since: immutable fields (clusterIP, selectors) may differ
    else:
        try:
            kube.replace(dict(prev))
        except ApiRefused as exc:
            if exc.status != 422 or "immutable" not in str(exc):
                raise
            _recreate(ctx, rec)  # e.g. a claim that got a class and bound: its spec cannot go back in place


def _recreate(ctx: Context, rec: dict[str, Any]) -> None:
    """Delete the live object and create the journaled one (server-assigned addresses left to the server)."""
    ctx.kube.delete(rec["apiVersion"], rec["kind"], rec["name"], rec["namespace"])
    _wait_gone(ctx, rec)
    body = dict(rec["previous"])
    if rec["kind"] == "Service":
        body["spec"] = {k: v for k, v in (body.get("spec") or {}).items() if k not in ("clusterIP", "clusterIPs")}
    ctx.kube.create(body)


def _wait_gone(ctx: Context, rec: dict[str, Any], timeout: float = 120) -> None:
    if not gone_within(ctx.kube, rec["apiVersion"], rec["kind"], rec["name"], rec["namespace"], timeout):
        # not a ClusterError: the API server answers, a finalizer holds the object (waiting longer will not help)
        raise StepError(
            f"{rec['kind']} {rec['name']} is still there {timeout:.0f}s after deletion "
            f"(a finalizer waits: {_finalizers(ctx, rec)})"
        )


def _finalizers(ctx: Context, rec: dict[str, Any]) -> str:
    try:
        live = ctx.kube.get(rec["apiVersion"], rec["kind"], rec["name"], rec["namespace"])
    except BreakfixError:
        return "unknown"
    return ", ".join((live or {}).get("metadata", {}).get("finalizers") or []) or "none listed"


UNDO: dict[str, Callable[[Context, dict[str, Any]], None]] = {
    "file": _undo_file,
    "unit": _undo_unit,
    "command": _undo_command,
    "object": _undo_object,
}


def undo_entry(
    ctx: Context, entry: JournalEntry, api_wait: float = 240, on_wait: Callable[[], None] | None = None
) -> None:
    """Undo one entry; API-level undos wait for the API server to come back (a fix may restart it).

    ON_WAIT runs once when the wait begins: the caller may restart what the API server needs.
    """
    handler = UNDO[entry.kind]
    deadline = time.monotonic() + (api_wait if entry.kind == "object" else 0)
    announced = False
    while True:
        try:
            handler(ctx, entry.record)
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

    A journaled restart of a running unit is replayed as a restart once every older change is undone, so
    that the unit reads its files as they were (they are put back after it in the journal's order); the
    entry stays in the journal until then, so an interrupted reset restarts it the next time.
    """
    entries = ctx.store.journal(ctx.cluster.name, after)
    restarts: dict[tuple[str, str], list[JournalEntry]] = {}
    done = 0

    def restart_early() -> None:
        # the API server may need a unit whose files are already back (a kubelet that runs it as a static
        # pod): restart those now rather than wait for a server that cannot come; the restart stays in the
        # journal and is replayed again once the older changes are undone too
        for (node, unit), pending in restarts.items():
            ctx.log(f"restarting {unit} on {node} now so that the API server can come back...")
            try:
                _restart_unit(ctx, pending[-1].record)
            except BreakfixError as exc:
                ctx.log(f"could not restart {unit} on {node} yet: {exc}")

    for entry in reversed(entries):
        if restarts_on_undo(entry):
            restarts.setdefault((entry.record["node"], entry.record["unit"]), []).append(entry)
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
    handler: Callable[[Context, dict[str, Any]], None] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> None:
    try:
        if handler is None:
            undo_entry(ctx, entry, on_wait=on_wait)
        else:
            handler(ctx, entry.record)
    except BreakfixError as exc:
        # stop here: undoing older entries first would leave this newer change in place afterwards
        raise BreakfixError(
            f"could not undo {entry.kind} {describe(entry)}: {exc}; {done} of {total} changes were "
            "undone and the journal keeps the rest: fix the cause and run `lab reset` again"
        ) from None


def describe(entry: JournalEntry) -> str:
    """A short description of a journal entry."""
    r = entry.record
    if entry.kind == "file":
        return f"{r['node']}:{r['path']}"
    if entry.kind == "unit":
        return f"{r['node']}:{r['unit']}"
    if entry.kind == "command":
        return f"{r['node']}: {r['command']}"
    ns = f"{r['namespace']}/" if r.get("namespace") else ""
    return f"{r['kind']} {ns}{r['name']}"


def verify_restored(ctx: Context, records: list[JournalEntry]) -> list[str]:
    """Problems left after a reset: files whose bytes, mode or owner differ from before the first change."""
    first: dict[str, JournalEntry] = {}
    for entry in records:
        first.setdefault(f"{entry.kind}:{describe(entry)}", entry)
    problems = []
    for entry in first.values():
        rec = entry.record
        if entry.kind == "file":
            node = ctx.node(rec["node"])
            data = node.read(rec["path"])
            if sha256(data) != rec["sha256"]:
                problems.append(f"{describe(entry)} content differs from before")
            elif data is not None and node.stat(rec["path"]) != FileStat(rec["mode"], rec["uid"], rec["gid"]):
                problems.append(f"{describe(entry)} mode or owner differs from before")
        elif entry.kind == "object":
            live = ctx.kube.get(rec["apiVersion"], rec["kind"], rec["name"], rec["namespace"])
            if (live is None) != (rec["previous"] is None):
                problems.append(f"{describe(entry)} {'missing' if live is None else 'still exists'}")
    return problems
