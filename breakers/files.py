"""Breakers for plain files on a node."""

from __future__ import annotations

import shlex

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node


def replace_text(node: Node, changes: ChangeLog, path: str, old: str, new: str) -> None:
    """Replace every occurrence of OLD by NEW in a text file (it must occur)."""

    def edit(data: bytes | None) -> bytes:
        if data is None:
            raise StepError(f"{node.name}: {path} does not exist")
        text = data.decode()
        if old not in text:
            raise StepError(f"{node.name}: {path} does not contain {old!r}")
        return text.replace(old, new).encode()

    changes.edit_file(node, path, edit)


def write(node: Node, changes: ChangeLog, path: str, content: str) -> None:
    """Write a file (its previous content is journaled)."""
    changes.write_file(node, path, content)


def delete(node: Node, changes: ChangeLog, path: str) -> None:
    """Delete a file (its content is journaled)."""
    changes.edit_file(node, path, lambda _old: None)


def move(node: Node, changes: ChangeLog, path: str, to: str) -> None:
    """Move a file elsewhere on the node."""
    changes.move_file(node, path, to)


def scratch_dir(node: Node, changes: ChangeLog, path: str) -> None:
    """Create a folder that must not exist yet; undo removes it with everything written into it."""
    if node.exists(path):
        raise StepError(f"{node.name}: {path} already exists; breakfix only removes folders it created")
    q = shlex.quote(path)
    changes.command(node, f"install -d -m 700 {q}", undo=f"rm -rf -- {q}")


def copy(node: Node, changes: ChangeLog, path: str, to: str) -> None:
    """Copy a file over another one on the node (the overwritten file is journaled)."""
    data = node.read(path)
    if data is None:
        raise StepError(f"{node.name}: {path} does not exist")
    changes.edit_file(node, to, lambda _old: data)


def copy_from(node: Node, changes: ChangeLog, nodes: list[Node], source: str, path: str, to: str) -> None:
    """Copy a file from another node (SOURCE: a node name or role) over a file on this node (journaled)."""
    role = {"controlplane": "control-plane"}.get(source, source)
    origin = next((n for n in nodes if n.name == source), None) or next((n for n in nodes if n.role == role), None)
    if origin is None:
        raise StepError(f"no node {source!r} to copy {path} from")
    data = origin.read(path)
    if data is None:
        raise StepError(f"{origin.name}: {path} does not exist")
    changes.edit_file(node, to, lambda _old: data)
