"""`lab ssh NODE [-- COMMAND...]`: a shell on a node of the current cluster, whatever the provider."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from breakfix.cli.main import _bf
from breakfix.cli.output import say


def ssh_command(
    node: Annotated[str, typer.Argument(help="Node name, or control-plane / worker (the first of that role).")],
    command: Annotated[
        list[str] | None, typer.Argument(help="Run this instead of a shell (after --: `lab ssh cp1 -- crictl ps`).")
    ] = None,
    tty: Annotated[bool, typer.Option("--tty", "-t", help="Give COMMAND a terminal.")] = False,
    print_only: Annotated[bool, typer.Option("--print", help="Print the command instead of running it.")] = False,
) -> None:
    """Open a shell on a node (ssh with the inventory's key and host keys, docker exec for kind)."""
    import shlex

    from breakfix.node_shell import pick_node, shell_argv

    spec = pick_node(_bf().cluster(), node)
    words = list(command or [])
    argv, warnings = shell_argv(spec, words, tty=tty or (not words and sys.stdin.isatty() and sys.stdout.isatty()))
    if print_only:
        print(shlex.join(argv))
        return
    for line in warnings:
        say(line)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # the node's exit code becomes lab's
