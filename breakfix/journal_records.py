"""The kinds of change the journal records, one class each, with the version of the record's layout.

Entries are replayed after crashes and after upgrades, so each record says which layout wrote it (`v`); a
record of an unknown kind, of a newer layout or missing a field is refused with one line naming the entry,
never half undone. Records written before layouts had a number are version 1."""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

from breakfix.errors import BreakfixError
from breakfix.transport.base import FileStat

#: The layout of every record this breakfix writes; a record with a higher `v` comes from a newer breakfix.
VERSION = 1


class JournalRecordError(BreakfixError):
    """A journal record this breakfix cannot read (another kind, a newer layout, a field missing)."""


@dataclass(frozen=True)
class FileChange:
    """A file on a node before a change: its bytes (base64), digest, mode and owner; existed False: no file."""

    KIND: ClassVar[str] = "file"
    node: str
    path: str
    existed: bool
    content: str | None
    sha256: str | None
    mode: int | None
    uid: int | None
    gid: int | None

    @property
    def stat(self) -> FileStat | None:
        """The file's mode and owner before the change (None when it did not exist or they were not read)."""
        if self.mode is None or self.uid is None or self.gid is None:
            return None
        return FileStat(self.mode, self.uid, self.gid)

    def describe(self) -> str:
        """node:path."""
        return f"{self.node}:{self.path}"


@dataclass(frozen=True)
class UnitChange:
    """A systemd unit before `systemctl ACTION`: whether it was active, enabled and masked."""

    KIND: ClassVar[str] = "unit"
    node: str
    unit: str
    active: bool
    enabled: bool
    masked: bool = False
    action: str | None = None  # records written before actions were kept have none

    @property
    def restarts_on_undo(self) -> bool:
        """It restarted a running unit, which then read its files anew: undo restarts it again."""
        return self.action == "restart" and self.active and not self.masked

    def describe(self) -> str:
        """node:unit."""
        return f"{self.node}:{self.unit}"


@dataclass(frozen=True)
class CommandChange:
    """A shell command run on a node and the command that undoes it."""

    KIND: ClassVar[str] = "command"
    node: str
    command: str
    undo: str
    timeout: float = 120

    def describe(self) -> str:
        """node: command."""
        return f"{self.node}: {self.command}"


@dataclass(frozen=True)
class ObjectChange:
    """A Kubernetes object before a change (None: it did not exist) and its UID then."""

    KIND: ClassVar[str] = "object"
    api_version: str
    kind: str
    name: str
    namespace: str | None
    previous: dict[str, Any] | None
    uid: str | None = None

    def describe(self) -> str:
        """Kind namespace/name."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


Change = FileChange | UnitChange | CommandChange | ObjectChange
KINDS: dict[str, type[Change]] = {c.KIND: c for c in (FileChange, UnitChange, CommandChange, ObjectChange)}
#: Record keys whose names differ from the fields' (the object record keeps Kubernetes' own spelling).
ALIASES = {"api_version": "apiVersion"}


def to_record(change: Change) -> tuple[str, dict[str, Any]]:
    """The journal kind and record (with its layout version) of CHANGE."""
    record = {ALIASES.get(k, k): v for k, v in asdict(change).items()}
    return change.KIND, {**record, "v": VERSION}


def parse(kind: str, record: Mapping[str, Any], where: str = "a journal entry") -> Change:
    """The typed change of a stored record; JournalRecordError (naming WHERE) when it cannot be read."""
    cls = KINDS.get(kind)
    if cls is None:
        raise JournalRecordError(f"{where}: a change of kind {kind!r}, which this breakfix does not know")
    version = record.get("v", 1)
    if not isinstance(version, int) or version > VERSION:
        raise JournalRecordError(
            f"{where}: its {kind} record is of layout {version!r}, written by a newer breakfix "
            f"(this one reads up to {VERSION}): undo it with that breakfix"
        )
    values: dict[str, Any] = {}
    hints = get_type_hints(cls)
    for field in fields(cls):
        key = ALIASES.get(field.name, field.name)
        if key in record:
            if not _fits(record[key], hints[field.name]):
                raise JournalRecordError(f"{where}: its {kind} record's {key!r} is {record[key]!r}")
            values[field.name] = record[key]
        elif field.default is MISSING and field.default_factory is MISSING:
            raise JournalRecordError(f"{where}: its {kind} record lacks {key!r}")
    change = cls(**values)
    if isinstance(change, FileChange) and change.existed and not isinstance(change.content, str):
        raise JournalRecordError(f"{where}: its file record keeps no content for a file that existed")
    return change


def _fits(value: Any, hint: Any) -> bool:
    """Whether a stored VALUE has the type of a record field (str, bool, int, float, dict, None, or a union)."""
    if hint is Any:
        return True
    if isinstance(hint, types.UnionType) or get_origin(hint) is Union:
        return any(_fits(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if get_origin(hint) is dict:
        return isinstance(value, dict)
    if hint is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):  # a bool is an int to Python, never to a record
        return False
    if hint is float:
        return isinstance(value, int | float)
    return isinstance(value, hint)
