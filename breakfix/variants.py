"""Per-student variants: a lab's `variables:` drawn from a seed, the same seed always giving the same values."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from breakfix.model import Variable
from breakfix.quantities import parse_bytes

#: Seeds are whole numbers in [0, MAX_SEED]; drawn ones have six digits at most (easy to read out and type).
MAX_SEED = 10**18
DRAWN_SEEDS = 10**6
#: A range holds at most this many values (a lab's choices, not a search space).
MAX_VALUES = 1_000_000
NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
NAME_SUFFIX = 5  # a prefix-made name: prefix + five letters or digits
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: Workers in a load-time trial, when no cluster is at hand.
SAMPLE_WORKERS = ("worker-1", "worker-2", "worker-3")

Value = str | int


class VariantError(ValueError):
    """Variables that cannot be drawn (the message names the variable)."""


def parse_seed(text: str, what: str = "--seed") -> int:
    """A seed as a user types it: a whole number from 0 to 10^18."""
    value = text.strip()
    if not value.isdigit() or int(value) > MAX_SEED:
        raise VariantError(f"{what} {text!r}: a seed is a whole number from 0 to {MAX_SEED}")
    return int(value)


def random_seed() -> int:
    """A fresh seed for an attempt that names none."""
    return secrets.randbelow(DRAWN_SEEDS)


def _hash(*parts: object) -> int:
    """A number from PARTS that is the same on every machine and Python (no `random`, no hash())."""
    text = "\0".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def student_seed(exam_seed: int, student: str) -> int:
    """A student's seed in an exam: from the exam's seed and the student's name."""
    return _hash("student", exam_seed, student) % DRAWN_SEEDS


@dataclass(frozen=True)
class Space:
    """The values a variable may take, in order, without listing a big range."""

    kind: str
    items: Sequence[Value] = ()
    start: int = 0
    step: int = 1
    count: int = 0
    prefix: str = ""
    unit: str = ""

    def __len__(self) -> int:
        return len(self.items) if self.kind == "list" else self.count

    def at(self, index: int) -> Value:
        """The INDEX-th value."""
        if self.kind == "list":
            return self.items[index]
        if self.kind == "name":
            chars = []
            for _ in range(NAME_SUFFIX):
                index, digit = divmod(index, len(NAME_CHARS))
                chars.append(NAME_CHARS[digit])
            return self.prefix + "".join(chars)
        number = self.start + index * self.step
        return memory_text(number) if self.kind == "memory" else number


def memory_text(size: int) -> str:
    """Bytes as a lab writes them: 64Mi, 1Gi, 512Ki (bytes when no unit divides them)."""
    for unit, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VariantError(f"{what}: {value!r} is not a whole number")
    return value


def _bytes(value: Any, what: str) -> int:
    try:
        return int(parse_bytes(value))
    except (TypeError, ValueError) as exc:
        raise VariantError(f"{what}: {value!r} is not a memory size like 64Mi ({exc})") from None


def space(var: Variable, workers: Sequence[str] = SAMPLE_WORKERS) -> Space:
    """Every value VAR may take (WORKERS: the cluster's workers, for a `worker` variable); VariantError if none."""
    t = var.type
    ranged = var.min is not None or var.max is not None or var.step is not None
    given = [k for k, v in (("choices", var.choices), ("prefix", var.prefix)) if v is not None] + (
        ["min/max"] if ranged else []
    )
    allowed = {
        "name": ("choices", "prefix"),
        "port": ("choices", "min/max"),
        "integer": ("choices", "min/max"),
        "memory": ("choices", "min/max"),
        "text": ("choices",),
        "worker": (),
    }[t]
    wrong = [g for g in given if g not in allowed]
    if wrong:
        raise VariantError(f"a {t} variable takes no {wrong[0]} (it takes: {', '.join(allowed) or 'nothing'})")
    if t == "worker":
        return Space("list", tuple(workers))
    if len(given) != 1:
        raise VariantError(f"a {t} variable needs one of: {' or '.join(allowed)}")
    if var.choices is not None:
        values = list(var.choices)
        for v in values:
            _check_value(t, v)
        if len(set(values)) != len(values):
            raise VariantError("choices: a value is listed twice")
        return Space("list", tuple(values))
    if var.prefix is not None:
        if not re.fullmatch(r"[a-z]([-a-z0-9]*)", var.prefix) or len(var.prefix) > 63 - NAME_SUFFIX:
            raise VariantError(f"prefix {var.prefix!r}: lowercase letters, digits and dashes, starting with a letter")
        return Space("name", prefix=var.prefix, count=len(NAME_CHARS) ** NAME_SUFFIX)
    if var.min is None or var.max is None:
        raise VariantError("a range needs both min and max")
    read = _bytes if t == "memory" else _int
    low, high = read(var.min, "min"), read(var.max, "max")
    step = read(var.step, "step") if var.step is not None else (2**20 if t == "memory" else 1)
    if step <= 0 or high < low:
        raise VariantError(f"min {var.min} to max {var.max} by {step}: an empty range")
    if t == "port" and (low < 1 or high > 65535):
        raise VariantError("ports run from 1 to 65535")
    count = (high - low) // step + 1
    if count > MAX_VALUES:
        raise VariantError(f"the range holds {count} values; at most {MAX_VALUES}")
    return Space("memory" if t == "memory" else "range", start=low, step=step, count=count)


def _check_value(t: str, value: Value) -> None:
    if t in ("port", "integer"):
        number = _int(value, "choices")
        if t == "port" and not 1 <= number <= 65535:
            raise VariantError(f"choices: port {number} is not from 1 to 65535")
    elif not isinstance(value, str) or not value:
        raise VariantError(f"choices: {value!r} must be text for a {t} variable")
    elif t == "name" and (not DNS_LABEL.match(value) or len(value) > 63):
        raise VariantError(f"choices: {value!r} is not a name Kubernetes accepts (lowercase letters, digits, dashes)")
    elif t == "memory":
        _bytes(value, "choices")


def order(variables: Mapping[str, Variable]) -> list[str]:
    """The variables in drawing order: each after those it differs from; VariantError for unknown names or a cycle."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in visiting:
            raise VariantError(f"variables.{name}: differs_from goes round in a circle ({' -> '.join(path)})")
        visiting.add(name)
        for other in variables[name].differs_from:
            if other not in variables:
                raise VariantError(f"variables.{name}.differs_from: no variable {other!r}")
            if other == name:
                raise VariantError(f"variables.{name}.differs_from: a variable cannot differ from itself")
            visit(other, (*path, other))
        visiting.discard(name)
        done.append(name)

    for name in variables:
        visit(name, (name,))
    return done


def draw(
    lab_id: str, variables: Mapping[str, Variable], seed: int, workers: Sequence[str] = SAMPLE_WORKERS
) -> dict[str, Value]:
    """The values of VARIABLES for SEED: the same seed, lab and workers always give the same values.

    Each value comes from a hash of the seed, the lab and the variable's name (so adding a variable leaves the
    others alone); a variable never takes the value of one it `differs_from`."""
    values: dict[str, Value] = {}
    for name in order(variables):
        var = variables[name]
        try:
            options = space(var, workers)
        except VariantError as exc:
            raise VariantError(f"variables.{name}: {exc}") from None
        taken = {values[other] for other in var.differs_from}
        n = len(options)
        start = _hash("value", seed, lab_id, name) % n if n else 0
        picked = None
        for j in range(min(n, len(taken) + 1)):  # at most len(taken) values are refused in a row
            value = options.at((start + j) % n)
            if value not in taken:
                picked = value
                break
        if picked is None:
            if var.type == "worker":
                raise VariantError(
                    f"variables.{name}: the cluster has {n} worker(s), too few for a worker that differs "
                    f"from {', '.join(var.differs_from)}"
                )
            raise VariantError(f"variables.{name}: no value is left once those of {', '.join(var.differs_from)} go")
        values[name] = picked
    return values


def check(variables: Mapping[str, Variable]) -> None:
    """What can be known before a cluster: each variable's values, and room for the ones it differs from."""
    order(variables)
    for name, var in variables.items():
        try:
            options = space(var)
        except VariantError as exc:
            raise VariantError(f"variables.{name}: {exc}") from None
        numbers = {"port", "integer"}
        for other in var.differs_from:
            kinds = {var.type, variables[other].type}
            if len(kinds) > 1 and not kinds <= numbers:
                raise VariantError(
                    f"variables.{name}.differs_from: {other} is a {variables[other].type}, {name} a {var.type}: "
                    "only values of one kind can be told apart"
                )
        if var.type != "worker" and len(options) <= len(var.differs_from):
            raise VariantError(
                f"variables.{name}: {len(options)} value(s) cannot differ from {len(var.differs_from)} other(s)"
            )


def neutral(variables: Mapping[str, Variable]) -> dict[str, str]:
    """Words for the variables where no value is drawn (`lab show`, `lab list --details`)."""
    return {name: var.description or f"<{name}>" for name, var in variables.items()}


def describe(values: Mapping[str, Value]) -> str:
    """Values in one line: `port=8081, app=web`."""
    return ", ".join(f"{k}={v}" for k, v in values.items())
