"""The `lab` console script: serve `lab list` and lab-id completion before importing the full CLI."""

from __future__ import annotations

import os
import sys
from typing import Any

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `ls | head`
#: Subcommands whose first argument is a lab id: a Tab there is answered from the lab folders alone.
TAKES_LAB = frozenset({"show", "start", "verify", "solution"})


def fast_complete(env: dict[str, str] | os._Environ[str]) -> bool:
    """Answer bash's Tab on a lab id (`lab show etc<Tab>`) from the folders' names; False when it is another Tab."""
    if env.get("_LAB_COMPLETE") != "complete_bash":
        return False
    words = env.get("COMP_WORDS", "").split()
    try:
        cword = int(env.get("COMP_CWORD", ""))
    except ValueError:
        return False
    if cword != 2 or len(words) < 2 or words[1] not in TAKES_LAB:
        return False
    incomplete = words[2] if len(words) > 2 else ""
    if incomplete.startswith("-"):
        return False
    from breakfix.catalog_ids import lab_ids

    sys.stdout.write("".join(f"{lab}\n" for lab in lab_ids() if lab.startswith(incomplete)))
    return True


def run() -> None:
    """Console-script entry point."""
    try:
        from breakfix.cli.listing import fast_list

        if fast_complete(os.environ) or fast_list(sys.argv[1:]):
            code = 0
        else:
            from breakfix.cli.main import main

            code = main()
        sys.stdout.flush()  # a reader that left early shows here, not in a traceback at exit
    except BrokenPipeError:
        code = broken_pipe()
    sys.exit(code)


def broken_pipe() -> int:
    """The reader of stdout went away (`lab list | head`): stop quietly, without Python's noise at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


# argv normalisation ----------------------------------------------------------------
def hoist_global_options(args: list[str], command: Any) -> list[str]:
    """Move the top-level options (-c/--cluster, ...) given after a subcommand before it, as kubectl allows.

    COMMAND is the click group. An option that the subcommand defines itself stays where it is; the values
    of the subcommand's options and everything after `--` are left alone."""
    takes_value = _option_table(command)
    front: list[str] = []
    out: list[str] = []
    current = command
    at_top = True
    first = 0
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out += args[i - 1 :]
            break
        if not arg.startswith("-") or arg == "-":
            sub = getattr(current, "commands", {}).get(arg)
            if sub is not None:
                if at_top:
                    first = len(out)  # hoisted options go just before the subcommand: later ones still win
                current, at_top = sub, False
            out.append(arg)
            continue
        here = _option_table(current)
        name, has_value = _split(arg, takes_value if at_top else {**takes_value, **here})
        if not at_top and name in takes_value and name not in here:
            front.append(arg)
            if takes_value[name] and not has_value and i < len(args):
                front.append(args[i])
                i += 1
            continue
        out.append(arg)
        if here.get(name) and not has_value and i < len(args):
            out.append(args[i])  # the option's value, even when it looks like an option
            i += 1
    return out[:first] + front + out[first:]


def _option_table(command: Any) -> dict[str, bool]:
    """Every option name of a click command, and whether it takes a value."""
    table: dict[str, bool] = {}
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") != "option" or getattr(param, "is_eager", False):
            continue
        for opt in [*param.opts, *param.secondary_opts]:
            table[opt] = not (param.is_flag or param.count)
    return table


def _split(arg: str, known: dict[str, bool]) -> tuple[str, bool]:
    """An option token's name, and whether it carries its value (--cluster=x, -cx)."""
    if arg.startswith("--"):
        name, eq, _ = arg.partition("=")
        return name, bool(eq)
    if len(arg) > 2 and known.get(arg[:2]):
        return arg[:2], True
    return arg, False
