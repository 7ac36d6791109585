"""The exam file (exam.yaml) an instructor writes: who sits the exam, on which cluster, which labs, how long."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from breakfix.errors import LabFileError
from breakfix.model import CKA_DOMAIN_WEIGHTS, Domain, Duration
from breakfix.yamlfile import read_mapping, validate


class Student(BaseModel):
    """One student: a name, the lab cluster(s) they work on (a task on each) and, optionally, their labs."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Shown on the board and in the report.")
    cluster: str | None = Field(
        default=None, min_length=1, description="A registered lab cluster (`lab cluster adopt`)."
    )
    clusters: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Several registered clusters instead of one: the student gets a task on each (as in the CKA, "
        "where each task names its cluster); a cluster named again gets another task, run beside the first.",
    )
    lab: str | None = Field(
        default=None, description="This student's lab (one cluster); by default labs are dealt in turn."
    )
    labs: list[str] | None = Field(
        default=None, min_length=1, description="This student's labs, one per cluster of `clusters`, in that order."
    )

    @model_validator(mode="after")
    def _one_way_to_name_clusters(self) -> Student:
        if (self.cluster is None) == (self.clusters is None):
            raise ValueError("give either `cluster` (one) or `clusters` (a task on each), not both or neither")
        if self.lab is not None and self.clusters is not None:
            raise ValueError("`lab` goes with `cluster`; with `clusters` give `labs`, one per cluster")
        if self.labs is not None and len(self.labs) != len(self.workplaces):
            raise ValueError(f"`labs` names {len(self.labs)} lab(s) for {len(self.workplaces)} cluster(s)")
        return self

    @property
    def workplaces(self) -> list[str]:
        """Every cluster the student works on, in task order."""
        return self.clusters if self.clusters is not None else [self.cluster or ""]


class Draw(BaseModel):
    """Labs drawn for each student at random (from the exam's seed) instead of dealt from a list."""

    model_config = ConfigDict(extra="forbid")

    domains: dict[Domain, int] = Field(
        default_factory=lambda: cast("dict[Domain, int]", dict(CKA_DOMAIN_WEIGHTS)),
        description="How many tasks each CKA domain gets, in proportion (default: the CKA's weights).",
    )
    labs: list[str] | None = Field(
        default=None, min_length=1, description="The labs to draw from (default: every lab in the catalog)."
    )

    @model_validator(mode="after")
    def _some_weight(self) -> Draw:
        if any(w < 0 for w in self.domains.values()) or not any(w > 0 for w in self.domains.values()):
            raise ValueError("`domains` needs weights of 0 or more, at least one of them above 0")
        return self


class ExamFile(BaseModel):
    """A timed session for a class: every student gets a lab on each of their clusters; one clock for all."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="The exam's id in `lab exam status NAME`.")
    duration: Duration = Field(gt=0, description="Time for the whole exam, e.g. 45m; it replaces each lab's limit.")
    labs: list[str] = Field(default_factory=list, description="Labs dealt to the students in turn.")
    draw: Draw | None = Field(
        default=None,
        description="Draw each student's labs at random by domain instead (`draw: {}` for the CKA's weights); "
        "only labs their clusters can run, never one twice.",
    )
    students: list[Student] = Field(min_length=1)
    seed: int | None = Field(
        default=None,
        ge=0,
        le=10**18,
        description="Labs with variables: each student's values come from this seed and their name "
        "(drawn at the first `lab exam start` when not given).",
    )
    pass_mark: float = Field(
        default=66.0,
        gt=0,
        le=100,
        description="A student passes with at least this score (percent; the mean of their tasks, as in the CKA).",
    )

    mock: bool = Field(
        default=False,
        description="A mock exam a student runs alone: until the end the board shows each task by its title and "
        "cluster, never the lab or what its checks say.",
    )

    @model_validator(mode="after")
    def _labs_or_draw(self) -> ExamFile:
        if self.draw is not None and self.labs:
            raise ValueError("give `labs` (dealt in turn) or `draw` (drawn by domain), not both")
        own = all(s.lab is not None or s.labs is not None for s in self.students)
        if self.draw is None and not self.labs and not own:
            raise ValueError("`labs` needs at least one lab for the students without their own (or give `draw`)")
        return self

    @property
    def undrawn(self) -> list[Student]:
        """Students whose labs are still to be drawn (`draw`, and no `lab`/`labs` of their own)."""
        if self.draw is None:
            return []
        return [s for s in self.students if s.lab is None and s.labs is None]


@dataclass(frozen=True)
class Assignment:
    """Who does which lab where."""

    student: str
    cluster: str
    lab: str
    task: int = 1  # the task's number among the student's tasks

    @property
    def key(self) -> str:
        """The seat's id in the exam's records: the student, the cluster of the task and its lab."""
        return seat_key(self.student, self.cluster, self.lab)

    @property
    def workplace(self) -> str:
        """The student's place on a cluster: the tasks there start, are graded and are reset together."""
        return f"{self.student}@{self.cluster}"


def seat_key(student: str, cluster: str, lab: str) -> str:
    """A task's id in an exam's records: who works on it, where, and which lab (a student gets a lab once)."""
    return f"{student}@{cluster}:{lab}"


def assignments(exam: ExamFile) -> list[Assignment]:
    """The labs of each student, a task per cluster: their own `lab:`/`labs:`, else the exam's labs in turn."""
    if exam.undrawn:
        raise ValueError(f"the labs of {exam.undrawn[0].name} are not drawn yet")
    dealt: list[Assignment] = []
    turn = 0
    for s in exam.students:
        own = s.labs if s.labs is not None else ([s.lab] if s.lab is not None else None)
        for task, cluster in enumerate(s.workplaces, 1):
            if own is None:
                lab = exam.labs[turn % len(exam.labs)]
                turn += 1
            else:
                lab = own[task - 1]
            dealt.append(Assignment(s.name, cluster, lab, task))
    return dealt


def load_exam(path: Path) -> ExamFile:
    """Load and validate an exam file (errors name the file and the key)."""
    exam = validate(path, ExamFile, read_mapping(path, "an exam file"))
    names: dict[str, int] = {}
    clusters: dict[str, int] = {}
    for i, s in enumerate(exam.students):
        if s.name in names:
            raise LabFileError(str(path), f"students[{i}].name", f"{s.name!r} is already students[{names[s.name]}]")
        key = f"students[{i}].cluster" if s.clusters is None else f"students[{i}].clusters"
        for cluster in s.workplaces:
            if clusters.get(cluster, i) != i:
                raise LabFileError(
                    str(path),
                    key,
                    f"{cluster!r} is the cluster of students[{clusters[cluster]}]: each student needs clusters of "
                    "their own",
                )
            clusters[cluster] = i
        names[s.name] = i
    dealt = [] if exam.undrawn else assignments(exam)  # drawn labs never repeat
    for seat in dealt:
        mine = [a.lab for a in dealt if a.student == seat.student]
        if mine.count(seat.lab) > 1:
            raise LabFileError(
                str(path),
                f"students[{names[seat.student]}]",
                f"{seat.student} would get lab {seat.lab} {mine.count(seat.lab)} times: "
                "a student gets each lab once (the board has a column per lab): list more labs than a student "
                "has tasks, or other `labs` for the student",
            )
    return exam
