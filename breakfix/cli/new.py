"""`lab new`: start a lab from a skeleton that loads at once, or from a copy of another lab."""

from __future__ import annotations

from typing import Annotated

import typer


def new_command(
    lab_id: Annotated[str, typer.Argument(help="The new lab's id (its folder name), e.g. my-lab.")],
    like: Annotated[
        str | None, typer.Option("--like", help="Copy this lab's structure instead of the skeleton.")
    ] = None,
) -> None:
    """Write a commented lab skeleton (or a copy of --like LAB) into the first writable lab folder."""
    from breakfix.scaffold import new_lab

    folder = new_lab(lab_id, like)
    source = f"a copy of {like}" if like else "a skeleton"
    print(f"wrote {folder} ({source}): edit lab.yaml, then `lab list` and `lab verify {lab_id}`")
