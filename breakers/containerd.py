"""Breakers for containerd's configuration (/etc/containerd/config.toml, version 2 as containerd 1.6/1.7 write it)."""

from __future__ import annotations

import json
import re

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node

CONFIG = "/etc/containerd/config.toml"
_SANDBOX = re.compile(r'^(\s*sandbox_image\s*=\s*)"[^"\n]*"', re.MULTILINE)


def set_sandbox_image(node: Node, changes: ChangeLog, image: str, path: str = CONFIG) -> None:
    """Set the CRI plugin's sandbox (pause) image in containerd's config; restart containerd after this step.

    Every pod starts with a sandbox container of this image: one the node does not have (and cannot pull) leaves new
    pods there in ContainerCreating, while running ones go on."""

    def edit(data: bytes | None) -> bytes:
        if data is None:
            raise StepError(f"{node.name}: {path} does not exist")
        text = data.decode()
        if not _SANDBOX.search(text):
            raise StepError(f"{node.name}: {path} sets no sandbox_image")
        return _SANDBOX.sub(lambda m: m.group(1) + json.dumps(image), text, count=1).encode()

    changes.edit_file(node, path, edit)
