"""The lab file schema (labs/<id>/lab.yaml) as a pydantic model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from breakfix.durations import Seconds

Domain = Literal[
    "troubleshooting",
    "cluster-architecture",
    "services-networking",
    "workloads-scheduling",
    "storage",
]
Difficulty = Literal["easy", "medium", "hard"]
Capability = Literal[
    "static-pods", "systemd", "real-clock", "swap", "multi-node", "netpol-cni", "cni", "cni-config-file"
]

StepData = dict[str, dict[str, Any] | None]


class LabFile(BaseModel):
    """Everything a lab declares: the task, how to break, confirm, grade, solve and cheat."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Folder name; what users type.")
    title: str = Field(min_length=3)
    domain: Domain
    difficulty: Difficulty
    time_limit: Seconds = Field(description="How long the student has, e.g. 15m.")
    summary: str = Field(default="", description="One line for `lab list --details`.")
    requires: list[Capability] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
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

    @field_validator("setup", "break_", "confirm", "grade", "solve")
    @classmethod
    def _one_key_steps(cls, steps: list[StepData]) -> list[StepData]:
        for i, step in enumerate(steps):
            if len(step) != 1:
                raise ValueError(f"step {i} must be one mapping `dotted.name: {{arguments}}`")
        return steps

    @field_validator("cheats", "alternatives")
    @classmethod
    def _named_steps(cls, named: dict[str, list[StepData]]) -> dict[str, list[StepData]]:
        for name, steps in named.items():
            if not steps:
                raise ValueError(f"{name!r} has no steps")
            for i, step in enumerate(steps):
                if len(step) != 1:
                    raise ValueError(f"{name!r} step {i} must be one mapping `dotted.name: {{arguments}}`")
        return named
