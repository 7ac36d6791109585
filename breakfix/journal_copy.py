"""A copy of the running lab's journal kept on the cluster, so that `lab reset` on another machine, or after
the local store was lost, can still put the cluster back.

It is kept in two places, so that one survives what a lab breaks: a file on the control-plane node (read
over the node's own transport, also while the API server is down) and a ConfigMap beside the marker (for a
cluster whose nodes breakfix does not reach). Written after setup and after the break; removed when the
lab's changes have been undone.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import time
from typing import TYPE_CHECKING, Any

from breakfix.clusters import JOURNAL_COPY, MARKER_NAMESPACE, lease_holder, read_lease, take_over_lease
from breakfix.errors import BreakfixError
from breakfix.journal_records import parse
from breakfix.state import TASK, TOGETHER, Session, SessionStatus
from breakfix.transport.base import FileStat

if TYPE_CHECKING:
    from breakfix.context import Context

NODE_FILE = "/var/lib/breakfix/journal.json.gz"
CONFIGMAP = JOURNAL_COPY
KEY = "journal.json.gz"
VERSION = 1
#: a ConfigMap holds at most 1 MiB; a bigger copy is kept on the node only
MAX_API_BYTES = 900_000


def _payload(ctx: Context, session: Session | None) -> bytes:
    """SESSION (the first of labs run together) with the journal of every one of them."""
    ids = {s.id for s in ctx.store.together(session)} if session is not None else set()
    entries = [
        {"phase": e.phase, "kind": e.kind, "record": e.record}
        for e in ctx.store.journal(ctx.cluster.name)
        if session is None or e.session in ids
    ]
    copy = {
        "version": VERSION,
        "holder": lease_holder(ctx.store, ctx.cluster.name),
        "session": session.id if session else None,
        "lab": session.lab if session else None,
        "session_data": session.data if session else {},
        "host": socket.gethostname(),
        "saved": time.time(),
        "entries": entries,
    }
    return gzip.compress(json.dumps(copy).encode(), mtime=0)


def _configmap(data: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP,
            "namespace": MARKER_NAMESPACE,
            "labels": {"app.kubernetes.io/name": "breakfix"},
        },
        "binaryData": {KEY: base64.b64encode(data).decode()},
    }


def save(ctx: Context) -> list[str]:
    """Write the copy where it can go; returns where it went (a place that cannot be written is skipped).

    Not for an exam's task: the copy holds the lab's journal (what the break changed, hence the answer), and
    the students of an exam administer their clusters; the instructor's machine keeps the only journal."""
    session = ctx.store.session(ctx.session_id) if ctx.session_id else None
    if session is not None and session.exam:
        return []
    if session is not None:  # of labs run together, the copy holds them all under the first one's session
        session = ctx.store.lead_of(session)
    data = _payload(ctx, session)
    kept: list[str] = []
    if ctx.cluster.nodes:
        try:
            ctx.node("control-plane").write(NODE_FILE, data, FileStat(0o600, 0, 0))
            kept.append("node")
        except BreakfixError:
            pass  # the node may be what the lab takes away; the API copy may still be written
    if len(data) <= MAX_API_BYTES:
        try:
            if ctx.kube.get("v1", "ConfigMap", CONFIGMAP, MARKER_NAMESPACE) is None:
                ctx.kube.create(_configmap(data))
            else:
                ctx.kube.replace(_configmap(data))
            kept.append("api")
        except BreakfixError:
            pass  # the API server may be what the lab breaks: the node's copy serves then
    return kept


def _read(ctx: Context) -> bytes | None:
    if ctx.cluster.nodes:
        try:
            node = ctx.node("control-plane")
            if node.exists(NODE_FILE):
                return node.read(NODE_FILE)
        except BreakfixError:
            pass
    try:
        cm = ctx.kube.get("v1", "ConfigMap", CONFIGMAP, MARKER_NAMESPACE)
    except BreakfixError:
        return None
    raw = ((cm or {}).get("binaryData") or {}).get(KEY)
    return base64.b64decode(raw) if raw else None


def load(ctx: Context) -> dict[str, Any] | None:
    """The copy kept on the cluster, or None when there is none (or it cannot be read as one)."""
    raw = _read(ctx)
    if raw is None:
        return None
    try:
        copy = json.loads(gzip.decompress(raw))
    except (OSError, ValueError):
        raise BreakfixError(
            f"the journal copy on cluster {ctx.cluster.name} cannot be read (not gzip'd JSON); remove "
            f"{NODE_FILE} on the control-plane node and ConfigMap {MARKER_NAMESPACE}/{CONFIGMAP} if no lab runs"
        ) from None
    if not isinstance(copy, dict) or copy.get("version") != VERSION or not isinstance(copy.get("entries"), list):
        raise BreakfixError(f"the journal copy on cluster {ctx.cluster.name} is not one this breakfix reads")
    for number, entry in enumerate(copy["entries"], 1):  # all readable, before any is taken over
        where = f"the journal copy on cluster {ctx.cluster.name}, change {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("record"), dict):
            raise BreakfixError(f"{where}: not a journal entry")
        parse(str(entry.get("kind")), entry["record"], where)
    return copy


def take_over(ctx: Context, confirmed: bool) -> int:
    """Adopt the copy kept on the cluster when this machine has no journal for it: the lab started elsewhere
    (or this machine's store was lost). Unless CONFIRMED (`lab reset --take-over`), a copy found is only
    named, in the error. Returns how many entries were taken over (0: there is no copy of a running lab)."""
    cluster = ctx.cluster.name
    if ctx.store.journal(cluster) or ctx.store.active_session(cluster) is not None:
        return 0
    copy = load(ctx)
    if not copy or not copy["entries"]:
        return 0
    try:
        marker, lease = read_lease(ctx.kube)
        readable = marker is not None  # no marker: an emptied store (etcd), most likely the lab's doing
    except BreakfixError:  # the API server down: the lab's doing, most likely; the copy is all there is
        lease, readable = None, False
    holder = (copy.get("holder"), copy.get("session"))
    if readable and (lease is None or (lease.get("holder"), lease.get("session")) != holder):
        ctx.log(f"a journal copy of lab {copy.get('lab')} on {cluster} is not the running lab's: left alone")
        return 0
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(copy.get("saved") or 0)))
    origin = f"lab {copy.get('lab')} was started on {cluster} from {copy.get('host')} ({when})"
    if not confirmed:
        raise BreakfixError(
            f"this machine has no journal for {cluster}, but {origin}: `lab reset --take-over` puts back the "
            f"{len(copy['entries'])} changes its copy on the cluster holds (that lab ends)"
        )
    session = ctx.store.new_session(cluster, str(copy.get("lab") or "unknown"))
    kept = copy.get("session_data")
    # the other machine's session numbers mean nothing here
    data = {k: v for k, v in kept.items() if k not in (TOGETHER, TASK)} if isinstance(kept, dict) else {}
    ctx.store.update_session(session.id, status=SessionStatus.active.value, started=time.time(), data=data)
    for entry in copy["entries"]:
        ctx.store.journal_add(cluster, session.id, entry["phase"], entry["kind"], entry["record"])
    ctx.session_id = session.id
    from breakfix.context import SessionState

    ctx.state = SessionState(ctx.store, session.id)
    if readable:
        take_over_lease(ctx.kube, ctx.store, cluster, session.id, str(copy.get("lab")), str(copy.get("holder")))
    ctx.log(f"{origin}: putting back the {len(copy['entries'])} changes its copy on the cluster holds")
    return len(copy["entries"])


def clear(ctx: Context) -> None:
    """Remove the copy (the lab's changes are undone); a place that cannot be reached is left as it is."""
    if ctx.cluster.nodes:
        with contextlib.suppress(BreakfixError):
            ctx.node("control-plane").remove(NODE_FILE)
    with contextlib.suppress(BreakfixError):
        ctx.kube.delete("v1", "ConfigMap", CONFIGMAP, MARKER_NAMESPACE)
