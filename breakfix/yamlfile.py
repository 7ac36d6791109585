"""Reading the YAML files users write (lab.yaml, exam.yaml): errors name the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from breakfix.errors import LabFileError

M = TypeVar("M", bound=BaseModel)


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The YAML mapping in PATH, or LabFileError saying where it is broken."""
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise LabFileError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise LabFileError(str(path), "", f"cannot read: {exc.strerror}") from None
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
        raise LabFileError(str(path), key, first["msg"]) from None
