"""`lab steps`: every breaker and grader a lab can use, with its arguments and docstring (and docs/steps.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from breakfix.cli.output import emit_json

if TYPE_CHECKING:
    from breakfix.steps import StepInfo

#: The command that writes docs/steps.md (the drift test names it).
REGENERATE = "python -m breakfix steps -o markdown > docs/steps.md"


class Format(StrEnum):
    """How `lab steps` prints."""

    text = "text"
    json = "json"
    markdown = "markdown"


def steps_command(
    name: Annotated[
        str, typer.Argument(help="Only steps whose dotted name starts with this, e.g. graders.probe.")
    ] = "",
    output: Annotated[Format, typer.Option("--output", "-o", help="text, json, or markdown (docs/steps.md).")] = (
        Format.text
    ),
) -> None:
    """List the breakers and graders a lab can use: arguments, types, defaults, docstrings."""
    from breakfix.errors import BreakfixError
    from breakfix.steps import StepBindError, available_steps

    try:
        found = available_steps(name)
    except StepBindError as exc:
        raise BreakfixError(str(exc)) from None
    if not found:
        raise BreakfixError(f"no breaker or grader starts with {name!r} (try `lab steps graders.` or `lab steps`)")
    if output is Format.json:
        emit_json([info.as_dict() for info in found])
    elif output is Format.markdown:
        print(markdown(found), end="")
    else:
        for info in found:
            print(info.signature)
            print(f"    {info.doc}" if info.doc else "    (no docstring)")


def markdown(found: list[StepInfo] | None = None) -> str:
    """The reference page docs/steps.md: step settings, injected values, aliases, every breaker and grader."""
    from breakfix.injected import REGISTRY
    from breakfix.model import LongStep
    from breakfix.steps import ALIASES, RESERVED, available_steps

    found = available_steps(roots=("breakers.", "graders.")) if found is None else found
    lines = [
        "# Steps reference",
        "",
        f"Generated from the functions themselves by `{REGENERATE}`; do not edit by hand.",
        "`lab steps [NAME] [-o json]` prints the same. How to write a lab: [writing-labs.md](writing-labs.md).",
        "",
        "## Writing a step",
        "",
        "Short form: `dotted.name: {arguments}`, with breakfix's settings beside the arguments. Long form, when",
        "a function has an argument of the same name as a setting (the short form refuses it):",
        "`{step: dotted.name, args: {arguments}, within: 2m, expect: fail, weight: 2, title: ...}`.",
        "",
        "| setting | read in | what it is |",
        "|---|---|---|",
    ]
    fields = LongStep.model_fields
    for key in sorted({k for keys in RESERVED.values() for k in keys}):
        sections = ", ".join(s for s in RESERVED if key in RESERVED[s])
        about = fields[key].description or ""
        lines.append(f"| `{key}` | {sections} | {about} |")
    lines += [
        "",
        "## What breakfix gives a step",
        "",
        "A function asks for these by naming a parameter after them; a lab sets none of them but `node`.",
        "",
        "| parameter | type | what it is |",
        "|---|---|---|",
    ]
    lines += [f"| `{i.name}` | `{i.type}` | {i.about} |" for i in REGISTRY]
    lines += ["", "## Aliases", ""]
    lines += [f"- `{alias}`: `{ref}`" for alias, ref in ALIASES.items()]
    lines += _overview(found)
    for kind, title in (("breaker", "Breakers (change the cluster, journaled)"), ("grader", "Graders (checks)")):
        lines += ["", f"## {title}"]
        module = ""
        for info in (i for i in found if i.kind == kind):
            here = info.ref.rpartition(".")[0]
            if here != module:
                module = here
                lines += ["", f"### {module}", ""]
            given = f" Given: {', '.join(f'`{n}`' for n in info.injected)}." if info.injected else ""
            lines.append(f"- `{info.signature.removeprefix(module + '.')}`: {info.doc}{given}")
    return "\n".join(lines) + "\n"


def _overview(found: list[StepInfo]) -> list[str]:
    """A table per kind: each step module, what its docstring says it is for, and its functions."""
    import importlib

    lines = ["", "## Overview", "", "Every step module, what it is for, and its functions (details below).", ""]
    for kind, heading in (("breaker", "breakers (change, journaled)"), ("grader", "graders (judge outcomes)")):
        modules: dict[str, list[str]] = {}
        for info in (i for i in found if i.kind == kind):
            module, _, name = info.ref.rpartition(".")
            modules.setdefault(module, []).append(name)
        lines += [f"| module | {heading} |", "|---|---|"]
        for module, names in modules.items():
            about = (importlib.import_module(module).__doc__ or "").strip().splitlines()
            purpose = f"{about[0].rstrip('.')}: " if about else ""
            purpose = purpose.replace("|", "\\|")
            lines.append(f"| `{module}` | {purpose}{', '.join(f'`{n}`' for n in names)} |")
        lines.append("")
    return lines[:-1]
