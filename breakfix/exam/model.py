"""The exam file (exam.yaml) an instructor writes: who sits the exam, on which cluster, which labs, how long."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from breakfix.errors import LabFileError
from breakfix.model import Duration
from breakfix.yamlfile import read_mapping, validate


class Student(BaseModel):
    """One student: a name, the lab cluster they work on and, optionally, the lab they get."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Shown on the board and in the report.")
    cluster: str = Field(min_length=1, description="A registered lab cluster (`lab cluster adopt`).")
    lab: str | None = Field(default=None, description="This student's lab; by default labs are dealt in turn.")


class ExamFile(BaseModel):
    """A timed session for a class: every student gets one lab on their own cluster; one clock for all."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="The exam's id in `lab exam status NAME`.")
    duration: Duration = Field(gt=0, description="Time for the whole exam, e.g. 45m; it replaces each lab's limit.")
    labs: list[str] = Field(min_length=1, description="Labs dealt to the students in turn.")
    students: list[Student] = Field(min_length=1)
    seed: int | None = Field(
        default=None,
        ge=0,
        le=10**18,
        description="Labs with variables: each student's values come from this seed and their name "
        "(drawn at the first `lab exam start` when not given).",
    )


@dataclass(frozen=True)
class Assignment:
    """Who does which lab where."""

    student: str
    cluster: str
    lab: str


def assignments(exam: ExamFile) -> list[Assignment]:
    """The lab of each student: their own `lab:`, else the exam's labs dealt in turn to the others."""
    dealt: list[Assignment] = []
    turn = 0
    for s in exam.students:
        if s.lab is None:
            dealt.append(Assignment(s.name, s.cluster, exam.labs[turn % len(exam.labs)]))
            turn += 1
        else:
            dealt.append(Assignment(s.name, s.cluster, s.lab))
    return dealt


def load_exam(path: Path) -> ExamFile:
    """Load and validate an exam file (errors name the file and the key)."""
    exam = validate(path, ExamFile, read_mapping(path, "an exam file"))
    names: dict[str, int] = {}
    clusters: dict[str, int] = {}
    for i, s in enumerate(exam.students):
        if s.name in names:
            raise LabFileError(str(path), f"students[{i}].name", f"{s.name!r} is already students[{names[s.name]}]")
        if s.cluster in clusters:
            raise LabFileError(
                str(path),
                f"students[{i}].cluster",
                f"{s.cluster!r} is already the cluster of students[{clusters[s.cluster]}]: "
                "each student needs a cluster of their own",
            )
        names[s.name] = clusters[s.cluster] = i
    return exam
