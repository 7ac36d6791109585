"""Where breakfix finds labs and keeps its state and caches (no heavy imports here)."""

from __future__ import annotations

import os
from pathlib import Path


def lab_roots() -> list[Path]:
    """Folders that hold labs: the built-in ones, then BREAKFIX_LABS_PATH entries."""
    here = Path(__file__).resolve().parent
    roots = [here / "_labs" if (here / "_labs").is_dir() else here.parent / "labs"]
    extra = os.environ.get("BREAKFIX_LABS_PATH", "")
    roots += [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    return roots


def state_dir() -> Path:
    """BREAKFIX_STATE_DIR, else $XDG_STATE_HOME/breakfix, else ~/.local/state/breakfix."""
    if os.environ.get("BREAKFIX_STATE_DIR"):
        return Path(os.environ["BREAKFIX_STATE_DIR"]).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "breakfix"


def cache_dir() -> Path:
    """BREAKFIX_CACHE, else $XDG_CACHE_HOME/breakfix, else ~/.cache/breakfix."""
    if os.environ.get("BREAKFIX_CACHE"):
        return Path(os.environ["BREAKFIX_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "breakfix"
