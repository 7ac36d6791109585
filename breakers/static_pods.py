"""Breakers around static pods and their folders: links an admin makes beside kubeadm's files."""

from __future__ import annotations

import shlex

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node


def link(node: Node, changes: ChangeLog, path: str, to: str) -> None:
    """Make PATH a symbolic link to TO (a file or folder); PATH must not exist yet, undo removes the link.

    E.g. the folder a kubelet is told to read, made to lead to the one kubeadm writes: the link, not a copy.
    """
    if node.run("test -e %s || test -L %s", path, path, timeout=30).ok:
        raise StepError(f"{node.name}: {path} already exists; breakfix only links a path that is free")
    if not node.exists(to):
        raise StepError(f"{node.name}: {to} does not exist; a link to it would lead nowhere")
    changes.command(node, f"ln -s -- {shlex.quote(to)} {shlex.quote(path)}", undo=f"rm -f -- {shlex.quote(path)}")
