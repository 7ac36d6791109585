"""Lab ids from the lab folders' names alone, without parsing any lab (fast enough for a shell's Tab)."""

from __future__ import annotations

import re
from pathlib import Path

from breakfix.paths import lab_roots

#: What a lab id (and so its folder's name) looks like.
PLAIN_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def lab_ids(roots: list[Path] | None = None) -> list[str]:
    """The ids of the labs under the roots: folders that hold a lab.yaml (nothing is parsed)."""
    found: set[str] = set()
    for root in roots if roots is not None else lab_roots():
        if root.is_dir():
            found.update(p.name for p in root.iterdir() if (p / "lab.yaml").is_file() and PLAIN_ID.fullmatch(p.name))
    return sorted(found)
