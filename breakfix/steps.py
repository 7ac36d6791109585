"""Steps: a dotted function name with keyword arguments, bound against the signature at load time."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from breakfix.durations import parse_duration

#: Parameters the engine provides by name (kopf / chaoslib style).
INJECTED = frozenset({"node", "nodes", "kube", "cluster", "state", "changes", "lab_dir", "images", "log"})
#: Modules a lab may reference.
ALLOWED_ROOTS = ("breakers.", "graders.")
#: Short names for built-in steps.
ALIASES = {
    "sentinel": "breakers.kube.create_sentinel",
    "apply": "breakers.kube.apply_manifest",
    "wait": "graders.api.wait",
}
#: Keys that configure a step in a given section rather than being passed to the function.
RESERVED = {"grade": {"weight", "title"}, "confirm": {"within", "title", "expect"}}
TEMPLATE_VAR = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
VARIABLES = frozenset({"cluster", "control_plane", "control_plane_ip", "worker", "worker_ip", "workers"})


class StepBindError(ValueError):
    """A step that does not fit its function; the message names the argument."""


@dataclass
class Step:
    """A resolved, bound step ready to run."""

    ref: str
    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    title: str
    weight: int = 1
    within: float = 120.0
    expect: str = "pass"
    params: Mapping[str, inspect.Parameter] = field(default_factory=dict)

    @property
    def doc(self) -> str:
        """The function's one-line docstring."""
        return (inspect.getdoc(self.fn) or "").splitlines()[0] if self.fn.__doc__ else ""


def allowed_roots() -> tuple[str, ...]:
    """breakers.* and graders.*, plus the modules named in BREAKFIX_STEP_MODULES (your own steps)."""
    extra = [m.strip() for m in os.environ.get("BREAKFIX_STEP_MODULES", "").split(",") if m.strip()]
    return ALLOWED_ROOTS + tuple(m.rstrip(".") + "." for m in extra)


def resolve(ref: str) -> Callable[..., Any]:
    """Import the function a dotted name points to."""
    ref = ALIASES.get(ref, ref)
    if not ref.startswith(allowed_roots()):
        raise StepBindError(f"{ref!r} is not a function of {', '.join(r.rstrip('.') for r in allowed_roots())}")
    module_name, _, attr = ref.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise StepBindError(f"no module {module_name!r}") from None
    except Exception as exc:  # a broken step module is this lab's problem, not the catalog's
        raise StepBindError(f"module {module_name} cannot be imported: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn) or attr.startswith("_"):
        raise StepBindError(f"{module_name} has no function {attr!r}")
    return typing.cast(Callable[..., Any], fn)


def template_vars(value: Any) -> set[str]:
    """The {{ variable }} names used anywhere inside a value."""
    if isinstance(value, str):
        return set(TEMPLATE_VAR.findall(value))
    if isinstance(value, dict):
        return set().union(*(template_vars(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(template_vars(v) for v in value)) if value else set()
    return set()


def render(value: Any, variables: Mapping[str, str]) -> Any:
    """Fill {{ variable }} placeholders inside strings, lists and mappings."""
    if isinstance(value, str):
        return TEMPLATE_VAR.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    return value


def bind(ref: str, raw: Mapping[str, Any] | None, section: str) -> Step:
    """Resolve REF and check RAW arguments against its signature; converts typed values."""
    fn = resolve(ref)
    args = dict(raw or {})
    reserved = RESERVED.get(section, set())
    weight, title, within, expect = 1, "", 120.0, "pass"
    if "weight" in reserved and "weight" in args:
        weight = args.pop("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise StepBindError("weight: must be a whole number >= 0")
    if "title" in reserved and "title" in args:
        title = str(args.pop("title"))
    if "within" in reserved and "within" in args:
        try:
            within = parse_duration(args.pop("within"))
        except ValueError as exc:
            raise StepBindError(f"within: {exc}") from None
    if "expect" in reserved and "expect" in args:
        expect = str(args.pop("expect"))
        if expect not in ("pass", "fail"):
            raise StepBindError("expect: must be pass or fail")
    unknown_vars = template_vars(args) - VARIABLES
    if unknown_vars:
        raise StepBindError(f"unknown template variable(s): {', '.join(sorted(unknown_vars))}")
    sig = inspect.signature(fn)
    params = sig.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name in args:
        if name not in params and not takes_any:
            raise StepBindError(
                f"{name}: {ref} takes no argument {name!r} (it takes: "
                f"{', '.join(p for p in params if p not in INJECTED) or 'none'})"
            )
        if name in INJECTED and name != "node":
            raise StepBindError(f"{name}: is provided by breakfix and cannot be set in a lab")
    if "node" in params and "node" not in args:
        args["node"] = "control-plane"
    try:
        placeholders = {p: None for p in params if p in INJECTED and p not in args}
        sig.bind(**args, **placeholders)
    except TypeError as exc:
        raise StepBindError(f"{ref}: {exc}") from None
    hints = typing.get_type_hints(fn, include_extras=True)
    converted: dict[str, Any] = {}
    for name, value in args.items():
        if name in INJECTED or name not in hints or template_vars(value):
            converted[name] = value
            continue
        try:
            converted[name] = TypeAdapter(hints[name]).validate_python(value)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise StepBindError(f"{name}: {problem}") from None
    return Step(
        ref=ALIASES.get(ref, ref),
        fn=fn,
        kwargs=converted,
        title=title or _default_title(ref, args),
        weight=weight,
        within=within,
        expect=expect,
        params=params,
    )


def _default_title(ref: str, args: Mapping[str, Any]) -> str:
    short = ref.split(".", 1)[-1] if "." in ref else ref
    shown = [f"{k}={v}" for k, v in args.items() if k != "node" and isinstance(v, str | int | float)]
    return f"{short}({', '.join(shown)})" if shown else short
