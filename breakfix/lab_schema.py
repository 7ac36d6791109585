"""The JSON Schema of lab.yaml (`lab schema`, docs/lab.schema.json), with an entry for every breaker and grader:
an editor then completes step names and flags an argument a step does not take or a value of the wrong type."""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pydantic import TypeAdapter

from breakfix.injected import BY_NAME
from breakfix.model import Duration, LabFile
from breakfix.steps import ALIASES, INJECTED, RESERVED, available_steps, resolve, type_name

#: A value written with a lab variable (`{{ port }}`) is text until the variant fills it in.
TEMPLATED = {"type": "string", "pattern": r"\{\{"}
SHORT_STEP_DESCRIPTION = "dotted.name: {arguments}"


def _arg_schema(hint: Any) -> dict[str, Any]:
    """What a value for a parameter of type HINT may be, as JSON Schema ({} when it cannot be said)."""
    kind = type_name(hint)
    if kind == "duration":
        return {"$ref": "#/$defs/Duration"}
    if kind == "quantity":
        return {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
    try:
        schema = TypeAdapter(hint).json_schema()
    except Exception:  # a type JSON Schema cannot say (a callable): anything goes, the loader checks it
        return {}
    if "$defs" in schema or "$ref" in schema:
        return {}  # nested models are checked by the loader, not inlined here
    schema.pop("title", None)
    if schema == {"type": "string"} or not schema:
        return schema  # text takes a {{ variable }} as it is
    return {"anyOf": [schema, {"$ref": "#/$defs/Templated"}]}


def _settings_schema() -> dict[str, dict[str, Any]]:
    """breakfix's settings of a step, as the long form's schema says them."""
    keys = {k for keys in RESERVED.values() for k in keys}
    return {k: {"$ref": f"#/$defs/LongStep/properties/{k}"} for k in sorted(keys)}


def step_schema(ref: str, settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The short form's value for one step: its arguments by name and type, and breakfix's settings."""
    fn = resolve(ref)
    hints = typing.get_type_hints(fn, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in INJECTED and not BY_NAME[p.name].settable:
            continue
        properties[p.name] = {"type": "string"} if p.name == "node" else _arg_schema(hints.get(p.name, Any))
        if p.default is p.empty and p.name != "node":
            required.append(p.name)
    for key, schema in settings.items():
        properties.setdefault(key, schema)  # a function's own argument of that name wins (use the long form)
    about = (inspect.getdoc(fn) or "").splitlines()
    arguments: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        arguments["required"] = required
    value: dict[str, Any] = arguments if required else {"anyOf": [arguments, {"type": "null"}]}
    return {**value, "description": about[0] if about else ref}


def _short_step(settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    steps = {info.ref: step_schema(info.ref, settings) for info in available_steps(roots=("breakers.", "graders."))}
    for alias, ref in ALIASES.items():
        steps[alias] = steps[ref]
    return {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": dict(sorted(steps.items())),
        # your own step modules (BREAKFIX_STEP_MODULES): any arguments, checked when the lab loads
        "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "description": f"{SHORT_STEP_DESCRIPTION}; breakfix's settings (within, expect, weight, title) may sit "
        "beside the arguments when the function takes none of that name",
    }


def _point_to_short_step(node: Any) -> Any:
    """NODE with each inline short-step schema replaced by a reference to the one in $defs."""
    if isinstance(node, dict):
        if str(node.get("description", "")).startswith(SHORT_STEP_DESCRIPTION) and "maxProperties" in node:
            return {"$ref": "#/$defs/ShortStep"}
        return {k: _point_to_short_step(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_point_to_short_step(v) for v in node]
    return node


def lab_schema() -> dict[str, Any]:
    """The whole schema: LabFile's, its short steps pointing to one definition with every step in it."""
    schema = _point_to_short_step(LabFile.model_json_schema(by_alias=True))
    defs = schema.setdefault("$defs", {})
    defs["ShortStep"] = _short_step(_settings_schema())
    defs["Duration"] = TypeAdapter(Duration).json_schema()
    defs["Templated"] = {**TEMPLATED, "description": "a value written with a lab variable: {{ name }}"}
    schema["$defs"] = dict(sorted(schema["$defs"].items()))
    return dict(schema)
