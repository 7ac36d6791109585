"""One writer per cluster on this machine: a file lock in the state folder, naming its holder."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from breakfix.errors import BreakfixError


class ClusterBusy(BreakfixError):
    """Another breakfix command is changing the same cluster right now."""


_held = threading.local()  # (lock file) -> depth, per thread: a command that calls another one nests


def _command() -> str:
    return " ".join(["lab", *sys.argv[1:]])[:200]


def lock_path(folder: Path, cluster: str) -> Path:
    """The lock file of CLUSTER in the state folder FOLDER."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", cluster)
    return folder / "locks" / f"{safe}.lock"


def holder(path: Path, patience: float = 1.0) -> str:
    """Who holds the lock at PATH, as one phrase (pid, command, since when).

    The holder writes its name just after it takes the lock: a refusal in that instant waits up to
    PATIENCE seconds for it."""
    deadline = time.monotonic() + patience
    while True:
        try:
            info = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            info = {}
        if info or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if not info:
        return "another breakfix command"
    since = time.strftime("%H:%M:%S", time.localtime(float(info.get("since", 0))))
    return f"pid {info.get('pid', '?')} (`{info.get('command', '?')}`) since {since}"


@contextlib.contextmanager
def cluster_lock(folder: Path, cluster: str, wait: float = 0.0) -> Iterator[None]:
    """Hold CLUSTER's lock while the block runs; refuse at once (or after WAIT seconds) when another holds it."""
    path = lock_path(folder, cluster)
    depth: dict[str, int] = _held.__dict__.setdefault("depth", {})
    key = str(path)
    if depth.get(key):  # this thread holds it already (verify starts a lab; an exam resets, then starts)
        depth[key] += 1
        try:
            yield
        finally:
            depth[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ClusterBusy(
                        f"cluster {cluster} is busy: {holder(path)} is changing it; wait for it to finish"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": _command(), "since": time.time()}).encode(), 0)
        depth[key] = 1
        try:
            yield
        finally:
            depth.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
