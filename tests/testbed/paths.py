"""Where the test bed keeps its cache and its per-run files."""

from __future__ import annotations

import os
from pathlib import Path

LABEL = "breakfix.testbed"


def cache_dir() -> Path:
    """Return the test bed cache folder (BREAKFIX_TESTBED_DIR, else ~/.cache/breakfix/testbed)."""
    override = os.environ.get("BREAKFIX_TESTBED_DIR")
    if override:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "breakfix" / "testbed").resolve()


def runs_dir() -> Path:
    """Return the folder that holds one sub-folder per run."""
    return cache_dir() / "runs"


def run_dir(run_id: str) -> Path:
    """Return the folder of one run (inventory, keys, known_hosts)."""
    return runs_dir() / run_id
