"""Printing for the CLI: JSON for scripts, tables for people; rich is imported only when needed."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from breakfix.cli.progress_line import Progress

#: When this command began: progress lines say how long ago.
STARTED = time.monotonic()
_progress: list[Progress] = []
_wrapped: list[TextIO] = []  # stdout and stderr as they were, while a live line wraps them


#: Set by `-o yaml` on a command that offers --json only: what it prints as JSON is printed as YAML instead.
AS_YAML = {"on": False}


def emit_json(data: Any) -> None:
    """Print DATA as JSON on stdout (as YAML when `-o yaml` asked for it)."""
    if AS_YAML["on"]:
        emit(data, "yaml")
        return
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def emit(data: Any, fmt: str, names: list[str] | None = None) -> None:
    """Print DATA for scripts: `json`, `yaml`, or `name` (NAMES, one a line, as kubectl's -o name)."""
    if fmt == "json":
        emit_json(data)
    elif fmt == "yaml":
        import yaml

        class Dumper(yaml.SafeDumper):
            """Multi-line strings (a task) as readable blocks."""

        def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

        Dumper.add_representer(str, text)
        plain = json.loads(json.dumps(data, default=str))
        sys.stdout.write(yaml.dump(plain, Dumper=Dumper, sort_keys=False, allow_unicode=True))
    elif fmt == "name":
        for name in names or []:
            print(name)
    else:
        raise ValueError(f"not a data format: {fmt}")


def say(message: str) -> None:
    """A progress line on stderr, stamped with the time since the command began (stdout stays clean for --json)."""
    if not _progress or (_progress[0].stream is not sys.stderr and not _wrapped):  # a new command, or new streams
        from breakfix.cli.progress_line import ClearsLiveLine, Progress

        end_progress()
        progress = Progress(sys.stderr, began=STARTED)
        _progress.append(progress)
        if progress.live:  # other output on the terminal (results, errors) first takes the live line away
            _wrapped.extend([sys.stdout, sys.stderr])
            sys.stdout = ClearsLiveLine(sys.stdout, progress)
            sys.stderr = ClearsLiveLine(sys.stderr, progress)
    _progress[0].say(message)


def end_progress() -> None:
    """Stop the live progress line, if one runs, and give the streams back (at the end of every command)."""
    while _progress:
        _progress.pop().close()
    if _wrapped:
        sys.stdout, sys.stderr = _wrapped
        _wrapped.clear()


def console() -> Any:
    """A rich console on stdout."""
    import shutil

    from rich.console import Console

    width = None if sys.stdout.isatty() else max(120, shutil.get_terminal_size((120, 24)).columns)
    return Console(highlight=False, soft_wrap=False, width=width)


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """Print a table."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_lines=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*row)
    console().print(t)


STATUS_STYLE = {"pass": "[green]PASS[/green]", "fail": "[red]FAIL[/red]", "error": "[yellow]ERROR[/yellow]"}
