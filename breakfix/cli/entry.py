"""The `lab` console script: serve `lab list`, `lab --help`, an idle `lab status` and lab-id completion before
importing the full CLI."""

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

        argv = sys.argv[1:]
        if fast_complete(os.environ) or fast_list(argv):
            code = 0
        else:
            from breakfix.cli.fast import fast_help, fast_status

            fast = 0 if fast_help(argv) else fast_status(argv)
            if fast is None:
                from breakfix.cli.main import main

                fast = main()
            code = fast
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


def _leaf(args: list[str], start: int, command: Any) -> tuple[Any, int]:
    """The command ARGS name from START on (`cluster status`), and the index just past its name."""
    current, i = command, start
    while i < len(args) and getattr(current, "commands", None) and args[i] in current.commands:
        current, i = current.commands[args[i]], i + 1
    return current, i


def lower_command_options(args: list[str], command: Any) -> list[str]:
    """Move a subcommand's options given before it (`lab -o json status`) after it, as kubectl allows.

    Only when the subcommand really has each of them (with a value when one was given): anything else is
    left where it is, for click to refuse as it always did."""
    top = _option_table(command)
    head: list[str] = []
    moved: list[tuple[str, str | None]] = []  # (option token, the value that followed it)
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        name, inline = _split(args[i], top)
        value_next = i + 1 < len(args) and not inline
        if name in top:
            head += args[i : i + 2] if top[name] and value_next else [args[i]]
            i += 2 if top[name] and value_next else 1
            continue
        after = args[i + 1] if value_next else None
        takes = after is not None and not after.startswith("-") and after not in getattr(command, "commands", {})
        moved.append((args[i], after if takes else None))
        i += 2 if takes else 1
    if not moved:
        return args
    leaf, end = _leaf(args, i, command)
    if end == i or getattr(leaf, "commands", None):
        return args
    here = _option_table(leaf)
    if "--json" in here and "-o" not in here:
        here |= {"-o": True, "--output": True}  # output_as_json_flag reads it there
    lowered: list[str] = []
    for token, value in moved:
        name, inline = _split(token, here)
        if name not in here or here[name] != (value is not None or inline) or (inline and value is not None):
            return args
        lowered += [token] if value is None else [token, value]
    return head + args[i:end] + lowered + args[end:]


#: What `-o` means on a command that only offers --json: the same JSON, or that data as YAML.
JSON_FORMATS = ("json", "yaml")


def output_as_json_flag(args: list[str], command: Any) -> tuple[list[str], str | None]:
    """On a command with --json but no -o, read `-o json|yaml` as --json (and the format asked for).

    Returns the arguments and the format (None when -o was not given there); raises ValueError with one
    line when another format is asked of such a command."""
    top, hoisted = _option_table(command), 0
    while hoisted < len(args) and args[hoisted].startswith("-") and args[hoisted] != "--":
        name, inline = _split(args[hoisted], top)  # the global options, hoisted before the subcommand
        hoisted += 2 if top.get(name) and not inline else 1
    leaf, end = _leaf(args, hoisted, command)
    here = _option_table(leaf)
    if end == hoisted or "-o" in here or "--json" not in here:
        return args, None
    out, chosen = list(args[:end]), None
    i = end
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out += args[i - 1 :]
            break
        if arg in ("-o", "--output") and i < len(args):
            value, i = args[i], i + 1
        elif arg.startswith("--output=") or (arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--")):
            value = arg.partition("=")[2] if arg.startswith("--") else arg[2:]
        else:
            out.append(arg)
            if here.get(_split(arg, here)[0]) and "=" not in arg and i < len(args):
                out.append(args[i])  # an option's value stays with it
                i += 1
            continue
        if value not in JSON_FORMATS:
            words = " ".join(args[hoisted:end])
            raise ValueError(f"lab {words} prints -o json or -o yaml (--json), not -o {value}")
        chosen = value
        out.append("--json")
    return out, chosen
