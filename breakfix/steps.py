"""Steps: a dotted function name with keyword arguments, bound against the signature at load time."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from breakfix.durations import parse_duration
from breakfix.injected import BY_NAME, NOT_SETTABLE
from breakfix.model import LongStep, StepData

#: Parameters the engine provides by name (kopf / chaoslib style): see breakfix.injected.
INJECTED = frozenset(BY_NAME)
#: Modules a lab may reference.
ALLOWED_ROOTS = ("breakers.", "graders.")
#: Short names for built-in steps.
ALIASES = {
    "sentinel": "breakers.kube.create_sentinel",
    "apply": "breakers.kube.apply_manifest",
}
#: breakfix's own settings of a step (engine keys), by the section that reads them; never passed to the function.
RESERVED = {"grade": frozenset({"weight", "title"}), "confirm": frozenset({"within", "title", "expect"})}
#: Every engine key: in the short form none of them may also be a parameter of the function.
ENGINE_KEYS = frozenset().union(*RESERVED.values())
TEMPLATE_VAR = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
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
    private = next((part for part in module_name.split(".") if part.startswith("_")), None)
    if private:  # graders._images and the like: helpers of the step modules, not steps of their own
        raise StepBindError(f"{module_name} is a private helper module ({private}): its functions are not steps")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise StepBindError(f"no module {module_name!r}") from None
    except Exception as exc:  # a broken step module is this lab's problem, not the catalog's
        raise StepBindError(f"module {module_name} cannot be imported: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, attr, None)
    if not inspect.isfunction(fn) or attr.startswith("_") or fn.__module__ != module.__name__:
        raise StepBindError(f"{module_name} has no function {attr!r}")  # imported helpers are not steps
    return typing.cast(Callable[..., Any], fn)


def template_vars(value: Any) -> set[str]:
    """The {{ variable }} names used anywhere inside a value."""
    if isinstance(value, str):
        return set(TEMPLATE_VAR.findall(value))
    if isinstance(value, dict):  # keys too: a label's key may be a variable
        return set().union(*(template_vars(k) | template_vars(v) for k, v in value.items())) if value else set()
    if isinstance(value, list):
        return set().union(*(template_vars(v) for v in value)) if value else set()
    return set()


def render(value: Any, variables: Mapping[str, Any], keep_unknown: bool = False) -> Any:
    """Fill {{ variable }} placeholders inside strings, lists and mappings.

    A string that is one placeholder and nothing else takes the value itself (a port stays a number); with
    KEEP_UNKNOWN, placeholders VARIABLES does not name are left as they are (filled in later)."""
    if isinstance(value, str):
        whole = TEMPLATE_VAR.fullmatch(value)
        if whole and (whole.group(1) in variables or not keep_unknown):
            return variables[whole.group(1)]

        def fill(m: re.Match[str]) -> str:
            if keep_unknown and m.group(1) not in variables:
                return m.group(0)
            return str(variables[m.group(1)])

        return TEMPLATE_VAR.sub(fill, value)
    if isinstance(value, dict):
        return {
            (str(render(k, variables, keep_unknown)) if isinstance(k, str) else k): render(v, variables, keep_unknown)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [render(v, variables, keep_unknown) for v in value]
    return value


def bind_data(data: StepData, section: str, known: frozenset[str] = VARIABLES, lax: bool = False) -> Step:
    """Bind a step as the lab file writes it, in the short or the long form; KNOWN: the {{ variables }} it may use
    (LAX: see `bind`)."""
    if isinstance(data, LongStep):
        return bind(data.step, data.args, section, settings=data.settings(), known=known, lax=lax)
    ((ref, args),) = data.items()
    return bind(ref, args, section, known=known, lax=lax)


def step_ref(data: StepData) -> str:
    """The dotted name a step (in either form) refers to."""
    return data.step if isinstance(data, LongStep) else next(iter(data))


def _settings(section: str, given: Mapping[str, Any]) -> tuple[int, str, float, str]:
    """Check breakfix's settings of a step in SECTION: weight, title, within, expect."""
    allowed = RESERVED.get(section, frozenset())
    for key in given:
        if key not in allowed:
            where = " and ".join(s for s in RESERVED if key in RESERVED[s])
            raise StepBindError(f"{key}: not a setting of {section} steps (only of {where} steps)")
    weight = given.get("weight", 1)
    if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
        raise StepBindError("weight: must be a whole number >= 0")
    try:
        within = parse_duration(given.get("within", 120.0))
    except ValueError as exc:
        raise StepBindError(f"within: {exc}") from None
    expect = str(given.get("expect", "pass"))
    if expect not in ("pass", "fail"):
        raise StepBindError("expect: must be pass or fail")
    return weight, str(given.get("title", "")), within, expect


def bind(
    ref: str,
    raw: Mapping[str, Any] | None,
    section: str,
    settings: Mapping[str, Any] | None = None,
    known: frozenset[str] = VARIABLES,
    lax: bool = False,
) -> Step:
    """Resolve REF and check RAW arguments against its signature; converts typed values.

    In the short form (SETTINGS is None) breakfix's settings (within, expect, weight, title) are taken out of
    RAW, and a function that has a parameter of such a name is refused: it would never get it. The long form
    passes SETTINGS apart, and RAW holds the function's arguments only. KNOWN: the {{ variables }} the
    arguments may use. LAX (a variant's values filled in): a number where the function wants text is taken as
    text, as a `{{ port }}` that was written in quotes."""
    fn = resolve(ref)
    sig = inspect.signature(fn)
    params = sig.parameters
    args = dict(raw or {})
    if settings is None:
        settings = {}
        for key in sorted(ENGINE_KEYS & set(args)):
            if key in params:
                raise StepBindError(
                    f"{key}: {ref} takes its own {key!r}, and `{key}` beside the arguments is breakfix's; write "
                    f"the long form {{step: {ref}, args: {{{key}: ...}}}}, with breakfix's settings beside args"
                )
            settings[key] = args.pop(key)
    unknown_vars = (template_vars(args) | template_vars(dict(settings))) - known
    if unknown_vars:
        raise StepBindError(f"unknown template variable(s): {', '.join(sorted(unknown_vars))}")
    weight, title, within, expect = _settings(section, settings)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name in args:
        if name not in params and not takes_any:
            raise StepBindError(
                f"{name}: {ref} takes no argument {name!r} (it takes: "
                f"{', '.join(p for p in params if p not in NOT_SETTABLE) or 'none'})"
            )
        if name in NOT_SETTABLE:
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
            try:
                if not (lax and isinstance(value, int) and not isinstance(value, bool)):
                    raise
                converted[name] = TypeAdapter(hints[name]).validate_python(str(value))
            except ValidationError:
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


# the reference of every step: `lab steps` and docs/steps.md ----------------------------------------------------
@dataclass
class Arg:
    """An argument a lab may set."""

    name: str
    type: str
    required: bool
    default: str = ""
    #: the default as a lab file would hold it (JSON): 30s for a duration, "default" for a string
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no default when it is required)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if not self.required:
            out["default"] = self.value
        return out


@dataclass
class StepInfo:
    """A breaker or grader as a lab author sees it: its arguments, what breakfix gives it, its docstring."""

    ref: str
    kind: str
    args: list[Arg]
    injected: list[str]
    doc: str

    @property
    def signature(self) -> str:
        """`name(arg: type, arg: type = default)` with the arguments a lab may set."""
        shown = [f"{a.name}: {a.type}" + ("" if a.required else f" = {a.default}") for a in self.args]
        return f"{self.ref}({', '.join(shown)})"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.ref,
            "kind": self.kind,
            "signature": self.signature,
            "args": [a.as_dict() for a in self.args],
            "injected": self.injected,
            "doc": self.doc,
        }


def type_name(hint: Any) -> str:
    """A type as a lab author reads it: `duration` for durations, `quantity` for sizes, else Python's spelling."""
    from breakfix.quantities import parse_bytes

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        funcs = {getattr(meta, "func", None) for meta in args[1:]}
        if parse_duration in funcs:
            return "duration"
        if parse_bytes in funcs:
            return "quantity"
        return type_name(args[0])
    if hint is type(None):
        return "None"
    if hint is Any:
        return "Any"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if isinstance(hint, list):  # Callable's parameter list
        return f"[{', '.join(type_name(a) for a in hint)}]"
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_name(a) for a in args)}]"
    return getattr(hint, "__name__", str(hint))


def lab_value(value: Any, type_: str) -> str:
    """A default as a lab would write it: 30s, "default", null, true."""
    if type_ == "duration" and isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if seconds.is_integer() and seconds >= 60 and seconds % 3600 == 0:
            return f"{int(seconds) // 3600}h"
        if seconds.is_integer() and seconds >= 60 and seconds % 60 == 0:
            return f"{int(seconds) // 60}m"
        return f"{int(seconds) if seconds.is_integer() else seconds}s"
    if type_ == "quantity" and isinstance(value, int) and not isinstance(value, bool):
        for unit, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value and value % factor == 0:
                return f"{value // factor}{unit}"
    return json.dumps(value)


def describe(ref: str) -> StepInfo:
    """What `lab steps` says about one step."""
    fn = resolve(ref)
    hints = typing.get_type_hints(fn, include_extras=True)
    args, injected = [], []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in INJECTED and not BY_NAME[p.name].settable:
            injected.append(p.name)
            continue
        type_ = "node" if p.name == "node" else type_name(hints.get(p.name, Any))
        if p.name == "node":
            args.append(Arg("node", type_, False, "control-plane", "control-plane"))
        elif p.default is p.empty:
            args.append(Arg(p.name, type_, True))
        else:
            shown = lab_value(p.default, type_)
            value = shown if type_ in ("duration", "quantity") else p.default
            args.append(Arg(p.name, type_, False, shown, value))
    returns = hints.get("return")
    kind = "grader" if getattr(returns, "__name__", "") == "CheckResult" else "breaker"
    if ref.startswith("graders.") and kind != "grader":
        kind = "helper"  # public in a graders module, but no check: not for a lab's grade or confirm
    doc = " ".join((inspect.getdoc(fn) or "").split())
    return StepInfo(ref, kind, args, injected, doc)


def step_modules(roots: tuple[str, ...] | None = None) -> list[str]:
    """The public modules of the step packages (breakers, graders and BREAKFIX_STEP_MODULES)."""
    names: list[str] = []
    for root in roots if roots is not None else allowed_roots():
        name = root.rstrip(".")
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise StepBindError(f"module {name} cannot be imported: {type(exc).__name__}: {exc}") from None
        if not hasattr(module, "__path__"):
            names.append(name)
            continue
        found = pkgutil.iter_modules(module.__path__)
        names += sorted(f"{name}.{m.name}" for m in found if not m.name.startswith("_"))
    return names


def available_steps(prefix: str = "", roots: tuple[str, ...] | None = None) -> list[StepInfo]:
    """Every public function of the step modules whose dotted name starts with PREFIX, described."""
    refs: list[str] = []
    for module_name in step_modules(roots):
        module = importlib.import_module(module_name)
        refs += [
            f"{module_name}.{attr}"
            for attr, obj in vars(module).items()
            if not attr.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module_name
        ]
    return [describe(ref) for ref in refs if ref.startswith(prefix)]
