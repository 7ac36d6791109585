"""The lab file schema (labs/<id>/lab.yaml) as a pydantic model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, WithJsonSchema, field_validator

from breakfix.durations import Seconds

Domain = Literal[
    "troubleshooting",
    "cluster-architecture",
    "services-networking",
    "workloads-scheduling",
    "storage",
]
#: The CKA curriculum's weight of each domain (percent of the exam).
CKA_DOMAIN_WEIGHTS: dict[str, int] = {
    "troubleshooting": 30,
    "cluster-architecture": 25,
    "services-networking": 20,
    "workloads-scheduling": 15,
    "storage": 10,
}
Difficulty = Literal["easy", "medium", "hard"]
Capability = Literal[
    "static-pods",
    "systemd",
    "real-clock",
    "swap",
    "multi-node",
    "netpol-cni",
    "cni",
    "cni-config-file",
    "metrics-server",
    "private-registry",
]

#: What a duration may look like in a lab file: 90 (seconds), 20s, 15m, 1h30m, 500ms.
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*|(\d+(\.\d+)?\s*(ms|s|m|h)\s*)+)$"
#: Seconds, written in a lab as a number or as text like 15m (the JSON Schema says both).
Duration = Annotated[
    Seconds,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "seconds, or text like 20s, 15m, 1h30m",
        }
    ),
]


class LongStep(BaseModel):
    """A step in the long form: the function's own arguments under `args`, breakfix's settings beside them."""

    model_config = ConfigDict(extra="forbid")

    step: str = Field(description="The breaker or grader, by dotted name (or a built-in alias).")
    args: dict[str, Any] | None = Field(default=None, description="The function's own arguments.")
    within: Duration | None = Field(
        default=None, description="How long confirm retries the check until it shows the fault (default 2m)."
    )
    expect: Literal["pass", "fail"] | None = Field(
        default=None, description="The result that shows the fault: pass (the default) or fail."
    )
    weight: int | None = Field(default=None, ge=0, description="The check's weight in the score (default 1).")
    title: str | None = Field(
        default=None, description="The check's name as shown (default: the function and its arguments)."
    )

    def settings(self) -> dict[str, Any]:
        """breakfix's settings that the step sets (the engine keys)."""
        return {k: v for k, v in self.model_dump(exclude={"step", "args"}).items() if v is not None}


#: A step in the short form: `dotted.name: {arguments and breakfix's settings}`.
ShortStep = Annotated[
    dict[str, dict[str, Any] | None],
    WithJsonSchema(
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "description": "dotted.name: {arguments}; breakfix's settings (within, expect, weight, title) "
            "may sit beside the arguments when the function takes none of that name",
        }
    ),
]


def _step_form(value: Any) -> str:
    """Which form a step is written in: a mapping with a `step` key is the long form."""
    if isinstance(value, LongStep) or (isinstance(value, dict) and "step" in value):
        return "long"
    return "short"


#: One step, in either form.
StepData = Annotated[
    Annotated[LongStep, Tag("long")] | Annotated[ShortStep, Tag("short")],
    Discriminator(_step_form),
]


VariableType = Literal["name", "port", "integer", "worker", "text", "memory"]
#: A lab variable's name: what `{{ name }}` refers to.
VARIABLE_NAME = r"^[a-z][a-z0-9_]*$"


class Variable(BaseModel):
    """A value drawn per student from a seed: a name, a port, a count, a worker, a text or a memory size."""

    model_config = ConfigDict(extra="forbid")

    type: VariableType = Field(
        description="name (a DNS label), port, integer, worker (one of the cluster's workers), text, memory (64Mi)."
    )
    choices: list[str | int] | None = Field(
        default=None, min_length=1, description="The values it may take (or min/max, or a name's prefix)."
    )
    min: int | str | None = Field(default=None, description="Lowest value of a port, integer or memory range.")
    max: int | str | None = Field(default=None, description="Highest value of a port, integer or memory range.")
    step: int | str | None = Field(default=None, description="Step of a range (default 1, or 1Mi for memory).")
    prefix: str | None = Field(
        default=None, description="A name made of this prefix and five drawn letters or digits (instead of choices)."
    )
    differs_from: Annotated[
        list[str],
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
    ] = Field(default_factory=list, description="Variables whose values this one never takes (e.g. the right port).")
    description: str = Field(default="", description="Words shown for it where no value is drawn (`lab show`).")

    @field_validator("differs_from", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class LabFile(BaseModel):
    """Everything a lab declares: the task, how to break, confirm, grade, solve and cheat."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Folder name; what users type.")
    title: str = Field(min_length=3)
    domain: Domain
    difficulty: Difficulty
    time_limit: Duration = Field(description="How long the student has, e.g. 15m.")
    summary: str = Field(default="", description="One line for `lab list --details`.")
    requires: list[Capability] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    variables: dict[Annotated[str, Field(pattern=VARIABLE_NAME)], Variable] = Field(
        default_factory=dict,
        description="Values drawn per student from a seed (`lab start --seed`), used as {{ name }} anywhere the "
        "lab speaks: task, steps, hints, solution and the files steps apply.",
    )
    task: str = Field(min_length=10, description="Shown at start; {{ control_plane }} style variables.")
    setup: list[StepData] = Field(default_factory=list)
    break_: list[StepData] = Field(alias="break", min_length=1)
    confirm: list[StepData] = Field(min_length=1)
    grade: list[StepData] = Field(min_length=1)
    hints: list[str] = Field(default_factory=list)
    solution: str = Field(default="", description="Walk-through; solution.md beside lab.yaml is used if empty.")
    solve: list[StepData] = Field(min_length=1, description="The reference fix: grade must pass after it.")
    cheats: dict[str, list[StepData]] = Field(default_factory=dict, description="Fixes that must NOT pass.")
    alternatives: dict[str, list[StepData]] = Field(
        default_factory=dict, description="Other valid fixes: grade must PASS after each, as after `solve`."
    )
    exempt_bypasses: dict[str, str] = Field(
        default_factory=dict,
        description="Generic shortcuts `lab verify` would try that are valid fixes in this lab, each with why (e.g. "
        "`no-probes:Deployment/shop/web: the probe is not part of the task`): they are not run.",
    )
    cheat_window: Duration | None = Field(
        default=None,
        description="`lab verify` grades each cheat for at least this long (e.g. 150s where a cheat restarts the API "
        "server and only shows its effect after it): the larger of this and --cheat-window, at most --settle.",
    )

    @field_validator("setup", "break_", "confirm", "grade", "solve")
    @classmethod
    def _one_key_steps(cls, steps: list[StepData]) -> list[StepData]:
        for i, step in enumerate(steps):
            if isinstance(step, dict) and len(step) != 1:
                raise ValueError(f"step {i} must be one mapping `dotted.name: {{arguments}}` (or the long form)")
        return steps

    @field_validator("cheats", "alternatives")
    @classmethod
    def _named_steps(cls, named: dict[str, list[StepData]]) -> dict[str, list[StepData]]:
        for name, steps in named.items():
            if not steps:
                raise ValueError(f"{name!r} has no steps")
            for i, step in enumerate(steps):
                if isinstance(step, dict) and len(step) != 1:
                    raise ValueError(
                        f"{name!r} step {i} must be one mapping `dotted.name: {{arguments}}` (or the long form)"
                    )
        return named
