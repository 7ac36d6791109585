"""Journaled changes: every breaker change is written to the journal BEFORE it is made."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from breakfix.errors import BreakfixError, StepError, api_not_ready
from breakfix.journal_records import Change, CommandChange, FileChange, ObjectChange, UnitChange, to_record
from breakfix.kube import Kube, Obj

if TYPE_CHECKING:
    from breakfix.transport.base import FileStat
    from breakfix.transport.node import Node

MAX_BACKUP = 8 * 1024 * 1024
#: Server-set fields dropped before an object is put back.
VOLATILE_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


def sha256(data: bytes | None) -> str | None:
    """Hex digest of DATA, None for a missing file."""
    return None if data is None else hashlib.sha256(data).hexdigest()


def clean_object(obj: Obj) -> Obj:
    """A copy of OBJ without status and server-set metadata, fit to create or replace."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in VOLATILE_META and v is not None}
    ann = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if ann:
        meta["annotations"] = ann
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    cleaned: Obj = _drop_none(out)
    return cleaned


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


class Journal(Protocol):
    """Where journal entries are written (breakfix.state.State)."""

    def journal_add(self, cluster: str, session: int | None, phase: str, kind: str, record: dict[str, Any]) -> int:
        """Write an entry durably; returns its id."""
        ...


class Named(Protocol):
    """Anything with a name (the cluster)."""

    @property
    def name(self) -> str:
        """Its name."""
        ...


class ChangeTarget(Protocol):
    """What a ChangeLog uses of the run-time context (breakfix.context.Context provides it)."""

    @property
    def store(self) -> Journal:
        """The journal."""
        ...

    @property
    def cluster(self) -> Named:
        """The cluster the entries belong to."""
        ...

    @property
    def session_id(self) -> int | None:
        """The session the entries belong to."""
        ...

    @property
    def kube(self) -> Kube:
        """The API client."""
        ...

    def log(self, message: str) -> None:
        """Print a progress line."""
        ...


class ChangeLog:
    """What breakers use to change a cluster; each method journals the undo first."""

    def __init__(self, ctx: ChangeTarget, phase: str) -> None:
        self.ctx = ctx
        self.phase = phase

    def _journal(self, change: Change) -> int:
        kind, record = to_record(change)
        return self.ctx.store.journal_add(self.ctx.cluster.name, self.ctx.session_id, self.phase, kind, record)

    # files ------------------------------------------------------------------
    def write_file(self, node: Node, path: str, data: bytes | str, stat: FileStat | None = None) -> None:
        """Replace a file on a node (its old content, mode and owner are journaled); STAT sets the new ones."""
        self.edit_file(node, path, lambda _old: data.encode() if isinstance(data, str) else data, stat)

    def edit_file(
        self,
        node: Node,
        path: str,
        change: Callable[[bytes | None], bytes | None],
        new_stat: FileStat | None = None,
    ) -> bytes | None:
        """Rewrite a file through CHANGE(old) -> new (None deletes it); returns the new content."""
        if node.run("test -L %s", path).ok:
            raise StepError(f"{node.name}: {path} is a symbolic link; breakfix edits regular files only")
        old, stat = self._backup(node, path)
        new = change(old)
        if new == old:
            return new
        self._journal_file(node, path, old, stat)
        if new is None:
            node.remove(path)
        else:
            node.write(path, new, new_stat)
        return new

    @staticmethod
    def _backup(node: Node, path: str) -> tuple[bytes | None, FileStat | None]:
        """A file's content and stat as the journal keeps them (None when it does not exist)."""
        old = node.read(path)
        if old is not None and len(old) > MAX_BACKUP:
            raise StepError(f"{node.name}:{path} is too large to back up ({len(old)} bytes)")
        return old, node.stat(path) if old is not None else None

    def _journal_file(self, node: Node, path: str, old: bytes | None, stat: FileStat | None) -> None:
        self._journal(
            FileChange(
                node=node.name,
                path=path,
                existed=old is not None,
                content=base64.b64encode(old).decode() if old is not None else None,
                sha256=sha256(old),
                mode=stat.mode if stat else None,
                uid=stat.uid if stat else None,
                gid=stat.gid if stat else None,
            )
        )

    def keep_file(self, node: Node, path: str) -> None:
        """Journal a file without changing it: reset puts it back as it is now, whatever happens to it."""
        self._journal_file(node, path, *self._backup(node, path))

    def move_file(self, node: Node, path: str, to: str) -> None:
        """Move a file away, keeping its mode and owner (both places are journaled)."""
        data = node.read(path)
        if data is None:
            raise StepError(f"{node.name}: {path} does not exist")
        stat = node.stat(path)
        self.edit_file(node, to, lambda _old: data)
        if stat is not None:
            node.write(to, data, stat)
        self.edit_file(node, path, lambda _old: None)

    # systemd units ------------------------------------------------------------
    def unit(self, node: Node, unit: str, action: str) -> None:
        """Run `systemctl ACTION UNIT` after journaling whether the unit was active and enabled."""
        if action not in ("stop", "start", "restart", "disable", "enable", "mask", "unmask", "kill"):
            raise StepError(f"systemctl {action}: not an action breakfix journals")
        # a unit crash-looping under Restart= ("activating", auto-restart) is meant to run: undo starts it again
        active = node.run(
            'systemctl is-active --quiet %s || test "$(systemctl is-active %s)" = activating', unit, unit
        ).ok
        enabled = node.run("systemctl is-enabled --quiet %s", unit).ok
        masked = node.run("systemctl is-enabled %s", unit).stdout.strip() == "masked"
        self._journal(UnitChange(node.name, unit, active, enabled, masked, action))  # a restart: undone by one
        node.check("systemctl %s %s", action, unit)

    # commands -----------------------------------------------------------------
    def command(self, node: Node, command: str, undo: str, timeout: float = 120) -> str:
        """Run a shell command whose inverse is the shell command UNDO (each may take up to TIMEOUT seconds)."""
        self._journal(CommandChange(node.name, command, undo, timeout))
        return node.check(command, timeout=timeout)

    # Kubernetes objects ---------------------------------------------------------
    def _api(self, call: Callable[[], Any], wait: float = 180) -> Any:
        """Run an API call, waiting for the API server when it is restarting."""
        deadline = time.monotonic() + wait
        announced = False
        while True:
            try:
                return call()
            except BreakfixError as exc:
                if not api_not_ready(exc) or time.monotonic() > deadline:
                    raise
                if not announced:
                    self.ctx.log("  waiting for the API server to answer...")
                    announced = True
                time.sleep(3)

    def _remember(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        live: Obj | None = self._api(lambda: self.ctx.kube.get(api_version, kind, name, namespace))
        previous = clean_object(live) if live else None
        self._journal(
            ObjectChange(api_version, kind, name, namespace, previous, (live or {}).get("metadata", {}).get("uid"))
        )
        return live

    def _placed(self, obj: Obj) -> Obj:
        """OBJ with `default` as its namespace when its kind lives in namespaces and it names none (as kubectl
        does): the journal then names the object that really gets created."""
        meta = obj.get("metadata") or {}
        if meta.get("namespace") or not self.ctx.kube.namespaced(obj["apiVersion"], obj["kind"]):
            return obj
        return {**obj, "metadata": {**meta, "namespace": "default"}}

    def create_object(self, obj: Obj) -> Obj:
        """Create an object (undo deletes it)."""
        obj = self._placed(obj)
        meta = obj.get("metadata", {})
        self._remember(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        created: Obj = self._api(lambda: self.ctx.kube.create(obj))
        return created

    def apply_object(self, obj: Obj) -> Obj:
        """Create or replace an object (undo puts the previous one back or deletes it)."""
        obj = self._placed(obj)
        meta = obj.get("metadata", {})
        live = self._remember(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        applied: Obj = self._api(lambda: self.ctx.kube.create(obj) if live is None else self.ctx.kube.replace(obj))
        return applied

    def patch_object(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Obj) -> Obj:
        """Merge-patch an object (undo replaces it with its previous spec)."""
        if self._remember(api_version, kind, name, namespace) is None:
            raise StepError(f"{kind} {namespace + '/' if namespace else ''}{name} does not exist")
        patched: Obj = self._api(lambda: self.ctx.kube.patch(api_version, kind, name, namespace, patch))
        return patched

    def keep_object(self, api_version: str, kind: str, name: str, namespace: str | None) -> None:
        """Journal an object as it is now without changing it: undo puts it back, whatever happened to it."""
        if self._remember(api_version, kind, name, namespace) is None:
            raise StepError(f"{kind} {namespace + '/' if namespace else ''}{name} does not exist")

    def delete_object(self, api_version: str, kind: str, name: str, namespace: str | None) -> None:
        """Delete an object (undo recreates it from its previous spec)."""
        self._remember(api_version, kind, name, namespace)
        self._api(lambda: self.ctx.kube.delete(api_version, kind, name, namespace))
