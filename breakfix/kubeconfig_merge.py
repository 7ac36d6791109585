"""A lab cluster's context in the user's own kubeconfig (`breakfix-NAME`), added and taken out again."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from breakfix.errors import BreakfixError, LabFileError
from breakfix.yamlfile import load_yaml

PREFIX = "breakfix-"
_FILE_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def user_kubeconfig() -> Path:
    """The kubeconfig kubectl writes to: the first file of $KUBECONFIG, else ~/.kube/config."""
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(listed[0]).expanduser() if listed else Path.home() / ".kube" / "config"


def context_name(cluster: str) -> str:
    """The context a lab cluster gets in the user's kubeconfig."""
    return PREFIX + cluster


def _read(path: Path, what: str) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = load_yaml(path)
    except LabFileError as exc:
        raise BreakfixError(f"{what} {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BreakfixError(f"{what} {path}: not a kubeconfig (a mapping with clusters, users and contexts)")
    return data


def _named(data: dict[str, Any], key: str, name: str) -> dict[str, Any] | None:
    entries = data.get(key) or []
    return next((e for e in entries if isinstance(e, dict) and e.get("name") == name), None)


def _absolute(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    """ENTRY with its file paths made absolute (they were relative to the source kubeconfig)."""
    out = dict(entry)
    for key in _FILE_KEYS:
        value = out.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            out[key] = str((base / value).resolve())
    return out


def _replace(data: dict[str, Any], key: str, entry: dict[str, Any]) -> None:
    kept = [e for e in data.get(key) or [] if not (isinstance(e, dict) and e.get("name") == entry["name"])]
    data[key] = [*kept, entry]


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kubeconfig-")
    try:
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(data, fh, sort_keys=False)
        os.chmod(tmp, 0o600)  # it holds credentials
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge_context(source: Path, cluster: str, target: Path | None = None) -> str:
    """Copy SOURCE's current context into TARGET as `breakfix-CLUSTER` (cluster, user and context).

    Other entries and the current context are kept; a kubeconfig without a current context gets this one."""
    target = target or user_kubeconfig()
    src = _read(source, "the cluster's kubeconfig")
    current = src.get("current-context") or next(
        (c.get("name") for c in src.get("contexts") or [] if isinstance(c, dict)), None
    )
    ctx = _named(src, "contexts", str(current)) if current else None
    if ctx is None or not isinstance(ctx.get("context"), dict):
        raise BreakfixError(f"the cluster's kubeconfig {source} has no context to copy")
    server = _named(src, "clusters", str(ctx["context"].get("cluster")))
    user = _named(src, "users", str(ctx["context"].get("user")))
    if server is None or user is None:
        raise BreakfixError(f"the cluster's kubeconfig {source}: context {current!r} names a missing cluster or user")
    name = context_name(cluster)
    data = _read(target, "your kubeconfig")
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    _replace(data, "clusters", {"name": name, "cluster": _absolute(server.get("cluster") or {}, source.parent)})
    _replace(data, "users", {"name": name, "user": _absolute(user.get("user") or {}, source.parent)})
    context: dict[str, Any] = {"cluster": name, "user": name}
    if ctx["context"].get("namespace"):
        context["namespace"] = ctx["context"]["namespace"]
    _replace(data, "contexts", {"name": name, "context": context})
    if not data.get("current-context"):
        data["current-context"] = name
    _write(target, data)
    return name


def remove_context(cluster: str, target: Path | None = None) -> bool:
    """Take `breakfix-CLUSTER` out of TARGET again (cluster, user, context); whether it was there."""
    target = target or user_kubeconfig()
    data = _read(target, "your kubeconfig")
    name = context_name(cluster)
    found = False
    for key in ("clusters", "users", "contexts"):
        entries = data.get(key) or []
        kept = [e for e in entries if not (isinstance(e, dict) and e.get("name") == name)]
        found = found or len(kept) != len(entries)
        if key in data:
            data[key] = kept
    if not found:
        return False
    if data.get("current-context") == name:
        data["current-context"] = ""
    _write(target, data)
    return True
