"""Find, load and validate labs; a broken lab is reported and the rest still load."""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breakfix.errors import LabFileError, UnknownLabError
from breakfix.inventory import ClusterSpec
from breakfix.model import LabFile, StepData
from breakfix.paths import lab_roots
from breakfix.steps import VARIABLES, Step, StepBindError, bind_data, render, step_ref, template_vars
from breakfix.yamlfile import read_mapping, read_text, validate

SECTIONS = ("setup", "break", "confirm", "grade", "solve")
SECTION_FIELDS = {"break": "break_"}  # `break` is a Python keyword
NEUTRAL_VARIABLES = {
    "cluster": "the lab cluster",
    "control_plane": "the control-plane node",
    "control_plane_ip": "the control-plane node's address",
    "worker": "the worker node",
    "worker_ip": "the worker node's address",
    "workers": "the worker nodes",
}
"""Words for {{ variables }} when no cluster is at hand (`lab show`, `lab list --details`)."""


def cluster_variables(spec: ClusterSpec | None) -> dict[str, str]:
    """Values for {{ variables }} from a registered inventory (no network); neutral words where it has none."""
    if spec is None:
        return dict(NEUTRAL_VARIABLES)
    cps, workers = spec.control_planes, spec.workers
    known = {
        "cluster": spec.name,
        "control_plane": cps[0].name if cps else "",
        "control_plane_ip": (cps[0].ip or "") if cps else "",
        "worker": workers[0].name if workers else "",
        "worker_ip": (workers[0].ip or "") if workers else "",
        "workers": ", ".join(w.name for w in workers),
    }
    return {k: known.get(k) or v for k, v in NEUTRAL_VARIABLES.items()}


@dataclass
class Lab:
    """A validated lab with its steps bound to functions."""

    spec: LabFile
    path: Path
    steps: dict[str, list[Step]]
    cheats: dict[str, list[Step]]
    solution_text: str
    alternatives: dict[str, list[Step]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The lab's id."""
        return self.spec.id

    def summary(self) -> dict[str, Any]:
        """The lab's catalog entry, as `lab list --json` and `lab show --json` print it."""
        return {
            "id": self.id,
            "title": self.spec.title,
            "domain": self.spec.domain,
            "difficulty": self.spec.difficulty,
            "time_limit_seconds": self.spec.time_limit,
            "requires": list(self.spec.requires),
            "summary": self.spec.summary,
        }

    def task_text(self, variables: dict[str, str] | None = None) -> str:
        """The task with its {{ variables }} filled in (neutral words by default)."""
        return str(render(self.spec.task, variables or NEUTRAL_VARIABLES)).strip()

    @property
    def folder(self) -> Path:
        """The lab's folder."""
        return self.path.parent


@dataclass
class Catalog:
    """The labs that loaded and the errors of those that did not."""

    labs: dict[str, Lab] = field(default_factory=dict)
    errors: list[LabFileError] = field(default_factory=list)

    def get(self, lab_id: str) -> Lab:
        """The lab with this id, or UnknownLabError with close names."""
        if lab_id in self.labs:
            return self.labs[lab_id]
        for err in self.errors:
            if Path(err.path).parent.name == lab_id:
                raise err
        names = list(self.labs)
        close = difflib.get_close_matches(lab_id, names, n=3, cutoff=0.5)
        close += [n for n in names if lab_id in n and n not in close][:3]
        raise UnknownLabError(lab_id, close[:3])


def _bind_steps(path: Path, section: str, steps: list[StepData]) -> list[Step]:
    bound = []
    for i, step in enumerate(steps):
        try:
            bound.append(bind_data(step, section))
        except StepBindError as exc:
            raise LabFileError(str(path), f"{section}[{i}] {step_ref(step)}", str(exc)) from None
    return bound


def load_lab(path: Path) -> Lab:
    """Load and validate one lab.yaml."""
    spec = validate(path, LabFile, read_mapping(path, "a lab file"))
    if spec.id != path.parent.name:
        raise LabFileError(str(path), "id", f"{spec.id!r} must match the folder name {path.parent.name!r}")
    unknown = template_vars(spec.task) - VARIABLES
    if unknown:
        raise LabFileError(
            str(path),
            "task",
            f"unknown variable(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(VARIABLES))}",
        )
    steps = {
        section: _bind_steps(path, section, getattr(spec, SECTION_FIELDS.get(section, section))) for section in SECTIONS
    }
    cheats = {name: _bind_steps(path, f"cheats.{name}", s) for name, s in spec.cheats.items()}
    alternatives = {name: _bind_steps(path, f"alternatives.{name}", s) for name, s in spec.alternatives.items()}
    clash = sorted(set(cheats) & set(alternatives))
    if clash:
        raise LabFileError(str(path), "alternatives", f"{', '.join(clash)} is also the name of a cheat")
    for section, bound in [
        *steps.items(),
        *(("cheats." + n, s) for n, s in cheats.items()),
        *(("alternatives." + n, s) for n, s in alternatives.items()),
    ]:
        _check_manifests(path, section, bound)
    solution = spec.solution
    if not solution:
        sol = path.parent / "solution.md"
        if not sol.is_file():
            raise LabFileError(str(path), "solution", "empty, and there is no solution.md beside the lab file")
        solution = read_text(sol)
    return Lab(spec=spec, path=path, steps=steps, cheats=cheats, solution_text=solution, alternatives=alternatives)


def _check_manifests(path: Path, section: str, steps: list[Step]) -> None:
    """Every lab file a step names (`apply:` and any step that reads from lab_dir) exists inside the lab folder,
    in any section; `..` and symlinks that lead outside it are refused."""
    folder = path.parent.resolve()
    for i, step in enumerate(steps):
        if step.ref != "breakers.kube.apply_manifest" and "lab_dir" not in inspect.signature(step.fn).parameters:
            continue
        for key, rel in step.kwargs.items():
            if not (key == "file" or key.endswith("_file")) or not isinstance(rel, str):
                continue
            where = f"{section}[{i}] {_ref_key(step.ref)}.{key}"
            target = (folder / rel).resolve()
            if not target.is_relative_to(folder):
                raise LabFileError(str(path), where, f"{rel} is outside the lab folder; lab files must stay inside it")
            if not target.is_file():
                raise LabFileError(str(path), where, f"{rel} does not exist beside lab.yaml")
            try:
                read_text(target)  # the step reads it whole later: bounded, UTF-8
            except LabFileError as exc:
                raise LabFileError(str(path), where, f"{rel}: {exc.problem}") from None


def _ref_key(ref: str) -> str:
    """`apply` for the built-in apply step, else the step's dotted name."""
    return "apply" if ref == "breakers.kube.apply_manifest" else ref


def load_catalog(roots: list[Path] | None = None) -> Catalog:
    """Load every lab under the roots; collect errors instead of stopping at the first."""
    catalog = Catalog()
    for root in roots if roots is not None else lab_roots():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            lab_file = folder / "lab.yaml"
            if not lab_file.is_file():
                continue
            try:
                lab = load_lab(lab_file)
            except LabFileError as err:
                catalog.errors.append(err)
                continue
            if lab.id in catalog.labs:
                catalog.errors.append(
                    LabFileError(str(lab_file), "id", f"{lab.id!r} is already defined by {catalog.labs[lab.id].path}")
                )
                continue
            catalog.labs[lab.id] = lab
    return catalog
