"""`lab list` output and its cache: a validated catalog summary that later runs read without importing
typer, pydantic or the lab steps (start-up speed). The cache is keyed by every file the catalog depends on."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from breakfix import __version__
from breakfix.paths import lab_roots, state_dir

Row = dict[str, Any]


def fingerprint() -> str:
    """A digest of every file that can change what the catalog holds (labs, steps, schema, settings)."""
    h = hashlib.sha256(f"{__version__}|{os.environ.get('BREAKFIX_STEP_MODULES', '')}".encode())
    engine = Path(__file__).resolve().parents[1]
    sources = [engine / n for n in ("model.py", "steps.py", "catalog.py", "variants.py", "quantities.py")]
    sources.append(Path(__file__).resolve())
    for pkg in ("breakers", "graders"):
        folder = engine.parent / pkg
        if folder.is_dir():
            sources += sorted(folder.glob("*.py"))
    for root in lab_roots():
        h.update(str(root).encode())
        if root.is_dir():
            sources += sorted(p for p in root.rglob("*") if p.is_file())
    for path in sources:
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path}|{st.st_mtime_ns}|{st.st_size}".encode())
    return h.hexdigest()[:20]


def cache_file() -> Path:
    """Where the catalog summary is cached (beside the state, so each user and test has its own)."""
    return state_dir() / "catalog-cache.json"


def save(rows: list[Row], errors: list[str]) -> None:
    """Cache the summary of a freshly validated catalog (best effort)."""
    try:
        path = cache_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": fingerprint(), "rows": rows, "errors": errors}))
        tmp.replace(path)
    except OSError:
        pass


def load() -> tuple[list[Row], list[str]] | None:
    """The cached summary, or None when any source changed since it was written."""
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != fingerprint():
        return None
    rows, errors = data.get("rows"), data.get("errors")
    if not (isinstance(rows, list) and all(_row_ok(r) for r in rows)):
        return None  # a damaged or hand-edited cache: the full CLI rebuilds it
    if not (isinstance(errors, list) and all(isinstance(e, str) for e in errors)):
        return None
    return rows, errors


def summaries() -> tuple[list[Row], list[str]]:
    """Every lab's summary row and the catalog's load errors: from the cache when current, else read (and cached)."""
    cached = load()
    if cached is not None:
        return cached
    from breakfix.catalog import load_catalog

    catalog = load_catalog()
    rows = [{**lab.summary(), "task": lab.task_text()} for lab in catalog.labs.values()]
    errors = [str(e) for e in catalog.errors]
    save(rows, errors)
    return rows, errors


_ROW: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "title": str,
    "domain": str,
    "difficulty": str,
    "time_limit_seconds": (int, float),
    "summary": str,
}


def _row_ok(row: Any) -> bool:
    """True when a cached row has every field `render` and `select` use, with the right types."""
    if not isinstance(row, dict) or not all(isinstance(row.get(k), t) for k, t in _ROW.items()):
        return False
    return isinstance(row.get("requires"), list) and all(isinstance(r, str) for r in row["requires"])


def select(rows: list[Row], domain: str | None, difficulty: str | None, caps: frozenset[str] | None) -> list[Row]:
    """Rows that match the filters."""
    return [
        r
        for r in rows
        if (domain is None or r["domain"] == domain)
        and (difficulty is None or r["difficulty"] == difficulty)
        and (caps is None or set(r["requires"]) <= caps)
    ]


def _minutes(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}m" if s % 60 == 0 else f"{s // 60}m{s % 60:02d}s"


def _one_line(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def public(row: Row, spoilers: bool) -> Row:
    """A row as printed: the author's summary names the fault, so it is kept for --spoilers."""
    return row if spoilers else {k: v for k, v in row.items() if k != "summary"}


def render(rows: list[Row], fmt: str, errors: list[str], spoilers: bool = False) -> None:
    """Print the listing: warnings for broken labs on stderr, then a table, names, JSON or YAML on stdout."""
    from breakfix.cli.output import emit

    for err in errors:
        print(f"warning: skipped a broken lab: {err}", file=sys.stderr)
    if fmt in ("json", "yaml", "name"):
        emit([public(r, spoilers) for r in rows], fmt, names=[r["id"] for r in rows])
        return
    if not rows:
        print("no lab matches", file=sys.stderr)
        return
    wide = fmt == "wide"
    last = "SUMMARY" if spoilers else "TASK"
    head = ["LAB", "TITLE", "DOMAIN", "DIFFICULTY", "TIME"] + (["REQUIRES", last] if wide else [])
    table = [head] + [
        [r["id"], r["title"], r["domain"], r["difficulty"], _minutes(r["time_limit_seconds"])]
        + ([", ".join(r["requires"]) or "-", r["summary"] if spoilers else _one_line(r["task"])] if wide else [])
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - (1 if wide else 0))]
    for row in table:
        cells = [cell.ljust(widths[i]) if i < len(widths) else cell for i, cell in enumerate(row)]
        print("  ".join(cells).rstrip())


def fast_list(argv: list[str]) -> bool:
    """Serve `lab list [--json] [--details] [--spoilers] [-o F] [--domain D] [--difficulty X]` from the cache."""
    if not argv or argv[0] != "list":
        return False
    opts: dict[str, Any] = {"output": "table", "spoilers": False, "domain": None, "difficulty": None}
    rest = argv[1:]
    while rest:
        arg = rest.pop(0)
        if arg in ("--json", "--details"):
            opts["output"] = "json" if arg == "--json" else "wide"
        elif arg == "--spoilers":
            opts["spoilers"] = True
        elif arg.startswith("--output="):
            opts["output"] = arg.split("=", 1)[1]
        elif arg in ("--domain", "--difficulty", "-o", "--output") and rest and not rest[0].startswith("-"):
            opts["output" if arg in ("-o", "--output") else arg[2:]] = rest.pop(0)
        else:
            return False  # anything else (--runnable, --help, typos) goes through the full CLI
    if opts["output"] not in FORMATS:
        return False  # the full CLI explains the choices
    cached = load()
    if cached is None:
        return False
    rows, errors = cached
    render(select(rows, opts["domain"], opts["difficulty"], None), opts["output"], errors, opts["spoilers"])
    return True


FORMATS = ("table", "wide", "json", "yaml", "name")
