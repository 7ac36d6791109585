"""Find the Debian mirror that apt on this machine is configured with."""

from __future__ import annotations

import os
import re
from pathlib import Path

DEB822_FILES = (Path("/etc/apt/sources.list.d/debian.sources"),)
ONE_LINE_FILES = (Path("/etc/apt/sources.list"),)


def _from_deb822(text: str) -> str | None:
    """Return the first main-archive URI of a deb822 sources file."""
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        uris = fields.get("uris", "").split()
        suites = fields.get("suites", "").split()
        if uris and "deb" in fields.get("types", "deb").split() and any("-" not in s for s in suites):
            return uris[0]
    return None


def _from_one_line(text: str) -> str | None:
    """Return the first main-archive URI of a one-line-style sources.list."""
    for line in text.splitlines():
        m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
        if m and "-" not in m.group(2):
            return m.group(1)
    return None


def debian_mirror() -> str:
    """Return the Debian mirror URL (BREAKFIX_DEBIAN_MIRROR, else apt's configuration)."""
    override = os.environ.get("BREAKFIX_DEBIAN_MIRROR")
    if override:
        return override
    candidates = [*DEB822_FILES, *sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]
    for path in candidates:
        if path.is_file() and (uri := _from_deb822(path.read_text())):
            return uri
    for path in [*ONE_LINE_FILES, *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if path.is_file() and (uri := _from_one_line(path.read_text())):
            return uri
    raise RuntimeError("no Debian mirror found in apt's sources; set BREAKFIX_DEBIAN_MIRROR")
