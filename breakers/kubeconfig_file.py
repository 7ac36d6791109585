"""Breakers for a user's kubeconfig file on a node (e.g. root's /root/.kube/config on the control plane)."""

from __future__ import annotations

import base64
import shlex
from typing import Any, Literal

import yaml

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.base import FileStat
from breakfix.transport.node import Node

Section = Literal["cluster", "context", "user"]


def own_copy(
    node: Node, changes: ChangeLog, path: str = "/root/.kube/config", source: str = "/etc/kubernetes/admin.conf"
) -> None:
    """Make PATH a file of its own: a link becomes a copy of what it points to, a missing file a copy of SOURCE.

    Undo puts the link back, or removes the copy; a file PATH already was is kept as it is (and put back so
    by reset). Later breakers can then edit PATH without touching what it pointed to."""
    if node.run("test -L %s", path).ok:
        target = node.check("readlink %s", path).strip()
        folder, _, name = path.rpartition("/")
        tmp = shlex.quote(f"{folder}/.breakfix-copy-{name}")
        q = shlex.quote(path)
        # Journaled in this order so that reset, newest first, ends with the link back in place, and finds
        # PATH as it was when it checks (the target's bytes and the link's own mode, read through the link).
        changes.command(node, "true", undo=f"rm -f -- {q} && ln -s -- {shlex.quote(target)} {q}")
        changes.keep_file(node, path)
        changes.command(node, f"cp -L -- {q} {tmp} && chmod 600 {tmp} && mv -f -- {tmp} {q}", undo="true")
    elif node.exists(path):
        changes.keep_file(node, path)
    else:
        data = node.read(source)
        if data is None:
            raise StepError(f"{node.name}: neither {path} nor {source} exists")
        changes.edit_file(node, path, lambda _old: data, FileStat(0o600, 0, 0))


def _load(data: bytes | None, node: Node, path: str) -> dict[str, Any]:
    if data is None:
        raise StepError(f"{node.name}: {path} does not exist")
    try:
        config = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise StepError(f"{node.name}: {path} is not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise StepError(f"{node.name}: {path} is not a kubeconfig")
    return config


def _current_entry(config: dict[str, Any], section: Section) -> dict[str, Any]:
    """The current context's own entry of SECTION (cluster, context or user), as a mutable dict."""
    contexts = {c.get("name"): c for c in config.get("contexts") or [] if isinstance(c, dict)}
    context = contexts.get(config.get("current-context"))
    if context is None:
        raise StepError(f"the kubeconfig has no context {config.get('current-context')!r}")
    inner = context.setdefault("context", {}) or {}
    context["context"] = inner
    if section == "context":
        return inner
    listed = {e.get("name"): e for e in config.get(f"{section}s") or [] if isinstance(e, dict)}
    entry = listed.get(inner.get(section))
    if entry is None:
        raise StepError(f"the kubeconfig has no {section} {inner.get(section)!r}")
    body: dict[str, Any] = entry.setdefault(section, {}) or {}
    entry[section] = body
    return body


def _apply(body: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value


def edit(node: Node, changes: ChangeLog, path: str, section: Section, set: dict[str, Any]) -> None:
    """Merge SET into the current context's cluster, context or user entry of a kubeconfig (None removes a key)."""

    def change(data: bytes | None) -> bytes:
        config = _load(data, node, path)
        _apply(_current_entry(config, section), set)
        return yaml.safe_dump(config, sort_keys=False).encode()

    changes.edit_file(node, path, change)


def set_ca(node: Node, changes: ChangeLog, path: str, ca: str) -> None:
    """Make a kubeconfig trust the CA certificate in file CA on the node (inline) instead of its own CA."""
    pem = node.read(ca)
    if pem is None or b"BEGIN CERTIFICATE" not in pem:
        raise StepError(f"{node.name}: {ca} is not a PEM certificate")
    inline = base64.b64encode(pem).decode()
    edit(node, changes, path, "cluster", {"certificate-authority-data": inline, "certificate-authority": None})
