"""Ctrl-C: notice it even where the CLI framework turns it into a plain exit 130, and say what is left."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

_seen = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _seen.set()
    signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt where the main thread is


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """Record every Ctrl-C while the block runs (typer turns a KeyboardInterrupt into `Exit(130)` unseen)."""
    _seen.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def happened() -> bool:
    """Whether Ctrl-C was pressed while watching()."""
    return _seen.is_set()


def summary(cluster: str | None) -> str:
    """One line after Ctrl-C: what the journal holds for the cluster and what to run next."""
    try:
        from breakfix.api import Breakfix
        from breakfix.runner import reset_unfinished

        bf = Breakfix(cluster=cluster)
        name = bf.cluster().name
        entries = len(bf.store.journal(name))
        session = bf.store.active_session(name)
    except Exception:  # no cluster, no store: nothing more to say
        return "lab: interrupted; changes made so far are journaled (`lab reset` undoes them)"
    if session is not None and reset_unfinished(session):
        return f"lab: interrupted; the reset of {name} did not finish ({entries} change(s) journaled): run `lab reset`"
    if entries:
        return f"lab: interrupted; {entries} change(s) to {name} are journaled: `lab reset` undoes them"
    if session is not None:
        return f"lab: interrupted; nothing was changed; lab {session.lab} still runs on {name} (`lab status`)"
    return f"lab: interrupted; nothing is journaled for {name}: the cluster has nothing to undo"


def report(cluster: str | None) -> None:
    """Print the summary line to stderr."""
    print(summary(cluster), file=sys.stderr)
