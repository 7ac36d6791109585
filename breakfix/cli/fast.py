"""Answers `lab --help` and an idle `lab status` give without importing typer, pydantic or the cluster clients.

Each answer is the one the full CLI gives: the help text is the full CLI's own, cached beside the state and keyed
by the CLI's sources and the width it was laid out for; `lab status` with no lab running reads the store with the
same code the full CLI uses. Anything else (a running lab, an option, a stale cache) goes to the full CLI."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

from breakfix import __version__
from breakfix.paths import state_dir

#: click lays help out for the terminal's width, at most this many columns (its default max_content_width)
HELP_MAX_WIDTH = 80
CLUSTER_OPTIONS = ("-c", "--cluster")


def help_width() -> int:
    """The width click lays `lab --help` out for in this terminal."""
    return max(min(shutil.get_terminal_size().columns, HELP_MAX_WIDTH) - 2, 50)


def help_key() -> str:
    """A digest of what the top-level help depends on: the version, the CLI's sources and the typer and click
    that lay it out (found without importing them)."""
    h = hashlib.sha256(__version__.encode())
    sources = sorted(Path(__file__).resolve().parent.glob("*.py"))
    for name in ("typer", "click"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            sources.append(Path(spec.origin))
    for path in sources:
        st = path.stat()
        h.update(f"{path}|{st.st_mtime_ns}|{st.st_size}".encode())
    return h.hexdigest()[:20]


def help_cache() -> Path:
    """Where the help text is cached (beside the state, as the catalog summary is)."""
    return state_dir() / "help-cache.json"


def cached_help() -> str | None:
    """The cached help text when it was laid out by these sources for this width, else None."""
    try:
        data = json.loads(help_cache().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != help_key() or data.get("width") != help_width():
        return None
    text = data.get("text")
    return text if isinstance(text, str) else None


def full_help() -> str:
    """The top-level help as the full CLI lays it out now (imports typer); cached for the next `lab --help`."""
    from breakfix.cli.main import _command

    command = _command()
    with command.make_context("lab", [], resilient_parsing=True) as ctx:
        text = str(command.get_help(ctx))
    try:
        path = help_cache()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": help_key(), "width": help_width(), "text": text}))
        tmp.replace(path)
    except OSError:
        pass  # best effort: the next call lays it out again
    return text


def fast_help(argv: list[str]) -> bool:
    """Print `lab --help` (exactly that command) from the cache, or laid out and cached; False for anything else."""
    if argv != ["--help"]:
        return False
    text = cached_help()
    print(text if text is not None else full_help())
    return True


def _cluster_option(argv: list[str]) -> tuple[list[str], str | None] | None:
    """ARGV without a -c/--cluster NAME (anywhere), and NAME; None when it is given oddly (the full CLI explains)."""
    rest: list[str] = []
    name: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in CLUSTER_OPTIONS:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return None
            name, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--cluster="):
            name = arg.partition("=")[2] or None
            if name is None:
                return None
        elif arg.startswith("-c") and len(arg) > 2:
            name = arg[2:]
        else:
            rest.append(arg)
        i += 1
    return rest, name


def fast_status(argv: list[str]) -> int | None:
    """`lab status` while no lab runs on the chosen cluster: its line and exit code, from the store alone.

    None when the full CLI must answer: an option other than -c, a lab running (its lease is renewed on the
    cluster), an inventory file gone or written since the cluster was registered (the full CLI says what is
    wrong with it), or an error breakfix does not expect."""
    parsed = _cluster_option(argv)
    if parsed is None or parsed[0] != ["status"]:
        return None
    from breakfix.cluster_choice import chosen_cluster
    from breakfix.errors import BreakfixError
    from breakfix.state import State

    given = parsed[1] or os.environ.get("BREAKFIX_CLUSTER") or None  # typer reads the variable as --cluster
    try:
        store = State()
        try:
            name, inventory = chosen_cluster(store, given)
            added = next((c["added"] for c in store.clusters() if c["name"] == name), None)
            if not _unchanged_since(added, Path(inventory)) or store.active_session(name):
                return None
            entries = len(store.journal(name))
        finally:
            store.close()
    except BreakfixError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:  # anything else: the full CLI reports it as it always does
        return None
    print(idle_line(name, entries))
    return 0


def _unchanged_since(added: object, inventory: Path) -> bool:
    """The cluster's inventory file is there and was not written since the cluster was registered at ADDED (and
    so read and checked then): an edited or broken one goes to the full CLI, which says what is wrong with it."""
    try:
        return isinstance(added, float | int) and inventory.stat().st_mtime <= added and os.access(inventory, os.R_OK)
    except OSError:
        return False


def idle_line(cluster: str, journal_entries: int) -> str:
    """What `lab status` says of a cluster no lab runs on."""
    unfinished = f" ({journal_entries} unfinished changes: run `lab reset`)" if journal_entries else ""
    return f"{cluster}: no lab running{unfinished}"
