"""Reading the YAML files users write (lab.yaml, exam.yaml, inventories): bounded before parsing, and every
error names the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from breakfix.errors import LabFileError

M = TypeVar("M", bound=BaseModel)

MAX_BYTES = 1 << 20  # 1 MiB: the largest lab in the catalog is a few KiB
MAX_NODES = 100_000  # values after alias expansion: a 1 KiB "billion laughs" file expands to billions
#: libyaml's safe loader when PyYAML has it (about ten times faster than the pure-Python one), else that one.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _expanded_size_over(raw: Any, limit: int) -> bool:
    """True when RAW has more than LIMIT values counting every alias use (stops early; cycles count forever)."""
    count = 0
    todo = [raw]
    while todo:
        item = todo.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """PATH's text: at most LIMIT bytes of strict UTF-8, or LabFileError naming what is wrong."""
    try:
        if path.is_dir():
            raise LabFileError(str(path), "", "is a folder, not a file")
        if path.exists() and not path.is_file():  # a FIFO would block, a device never ends
            raise LabFileError(str(path), "", "is not a regular file (a device, FIFO or socket?)")
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise LabFileError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LabFileError(str(path), "", f"larger than {limit // 1024} KiB; refusing to read it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LabFileError(
            str(path), "", f"not UTF-8 text (byte {exc.start}, line {line}: {data[exc.start : exc.start + 1]!r})"
        ) from None


def load_yaml(path: Path, limit: int = MAX_BYTES) -> Any:
    """The YAML document in PATH, bounded in size, encoding and alias expansion."""
    text = read_text(path, limit)
    if "\x00" in text:
        raise LabFileError(str(path), "", f"not a text file (NUL at character {text.index(chr(0))})")
    try:
        raw = yaml.load(text, Loader=SAFE_LOADER)  # a safe loader, in C when PyYAML has libyaml
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0][:200]
        raise LabFileError(str(path), where, f"not valid YAML: {problem}") from None
    except RecursionError:
        raise LabFileError(str(path), "", "not valid YAML: nested too deeply") from None
    if _expanded_size_over(raw, MAX_NODES):
        raise LabFileError(
            str(path), "", f"more than {MAX_NODES} values once aliases are expanded (an alias bomb?); refusing it"
        )
    return raw


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The YAML mapping in PATH, or LabFileError saying where it is broken."""
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise LabFileError(str(path), "", f"{what} must be a YAML mapping")
    return raw


def validate(path: Path, model: type[M], raw: dict[str, Any]) -> M:
    """RAW checked against MODEL; the first problem is reported with its key."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"]) or "(top)"
        raise LabFileError(str(path), key, first["msg"][:300]) from None
    except RecursionError:
        raise LabFileError(str(path), "", "nested too deeply") from None
