"""Breakers for the kubelet's configuration file (KubeletConfiguration YAML, e.g. /var/lib/kubelet/config.yaml)."""

from __future__ import annotations

from typing import Any

import yaml

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node

CONFIG = "/var/lib/kubelet/config.yaml"


def set_config(
    node: Node, changes: ChangeLog, field: str, value: str | int | bool | list[str], path: str = CONFIG
) -> None:
    """Set FIELD (dotted for nested ones, e.g. `clusterDNS`, `authentication.webhook.enabled`) in the kubelet's config.

    The file is journaled as it was; the kubelet reads it when it (re)starts, so restart it after this step."""

    def edit(data: bytes | None) -> bytes:
        if data is None:
            raise StepError(f"{node.name}: {path} does not exist")
        config: Any = yaml.safe_load(data.decode())
        if not isinstance(config, dict) or config.get("kind") != "KubeletConfiguration":
            raise StepError(f"{node.name}: {path} is not a KubeletConfiguration")
        *parents, last = field.split(".")
        here = config
        for key in parents:
            here = here.setdefault(key, {})
            if not isinstance(here, dict):
                raise StepError(f"{node.name}: {path}: {key} in {field} is not a mapping")
        here[last] = value
        return yaml.safe_dump(config, sort_keys=False).encode()

    changes.edit_file(node, path, edit)
