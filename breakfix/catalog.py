"""Find, load and validate labs; a broken lab is reported and the rest still load."""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from breakfix.catalog_ids import PLAIN_ID
from breakfix.errors import LabFileError, UnknownLabError
from breakfix.inventory import ClusterSpec
from breakfix.model import LabFile, StepData
from breakfix.paths import lab_roots
from breakfix.steps import VARIABLES, Step, StepBindError, bind_data, render, step_ref, template_vars
from breakfix.variants import Value, VariantError, check, describe, draw, neutral
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
    #: the seed and the values this lab was drawn with (a variant); None and {} for the lab as written
    seed: int | None = None
    values: dict[str, Value] = field(default_factory=dict)

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

    def words(self, variables: dict[str, str] | None = None) -> dict[str, Any]:
        """Values for every {{ variable }}: the cluster's (neutral words by default), the lab's drawn values, and
        words like <port> for lab variables not drawn."""
        return {**neutral(self.spec.variables), **(variables or NEUTRAL_VARIABLES), **self.values}

    def task_text(self, variables: dict[str, str] | None = None) -> str:
        """The task with its {{ variables }} filled in (neutral words by default)."""
        return str(render(self.spec.task, self.words(variables), keep_unknown=True)).strip()

    def hint_text(self, index: int, variables: dict[str, str] | None = None) -> str:
        """Hint INDEX with its {{ variables }} filled in."""
        return str(render(self.spec.hints[index], self.words(variables), keep_unknown=True))

    def solution_for(self, variables: dict[str, str] | None = None) -> str:
        """The walk-through with its {{ variables }} filled in."""
        return str(render(self.solution_text, self.words(variables), keep_unknown=True))

    @property
    def has_variables(self) -> bool:
        """Whether the lab draws values per student (`variables:`)."""
        return bool(self.spec.variables)

    def variant(self, seed: int, workers: list[str] | None = None) -> Lab:
        """This lab with its variables drawn from SEED (WORKERS: the cluster's), rendered everywhere it speaks.

        The files steps apply are rendered when a context opens the lab (`materialize`)."""
        try:
            values = draw(self.id, self.spec.variables, seed, *([workers] if workers is not None else []))
        except VariantError as exc:
            raise LabFileError(str(self.path), f"seed {seed}", str(exc)) from None
        return build_variant(self, seed, values)

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


def _bind_steps(
    path: Path, section: str, steps: list[StepData], known: frozenset[str] = VARIABLES, lax: bool = False
) -> list[Step]:
    bound = []
    for i, step in enumerate(steps):
        try:
            bound.append(bind_data(step, section, known, lax))
        except StepBindError as exc:
            raise LabFileError(str(path), f"{section}[{i}] {step_ref(step)}", str(exc)) from None
    return bound


def _unknown(path: Path, key: str, used: set[str], known: frozenset[str]) -> None:
    """Refuse placeholders that name no variable."""
    unknown = used - known
    if unknown:
        raise LabFileError(
            str(path), key, f"unknown variable(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )


def _assemble(spec: LabFile, path: Path, solution: str, known: frozenset[str] = VARIABLES, lax: bool = False) -> Lab:
    """Bind every section's steps and check the files they name."""
    steps = {
        section: _bind_steps(path, section, getattr(spec, SECTION_FIELDS.get(section, section)), known, lax)
        for section in SECTIONS
    }
    cheats = {name: _bind_steps(path, f"cheats.{name}", s, known, lax) for name, s in spec.cheats.items()}
    alternatives = {
        name: _bind_steps(path, f"alternatives.{name}", s, known, lax) for name, s in spec.alternatives.items()
    }
    clash = sorted(set(cheats) & set(alternatives))
    if clash:
        raise LabFileError(str(path), "alternatives", f"{', '.join(clash)} is also the name of a cheat")
    for section, bound in [
        *steps.items(),
        *(("cheats." + n, s) for n, s in cheats.items()),
        *(("alternatives." + n, s) for n, s in alternatives.items()),
    ]:
        _check_manifests(path, section, bound)
    return Lab(spec=spec, path=path, steps=steps, cheats=cheats, solution_text=solution, alternatives=alternatives)


def load_lab(path: Path) -> Lab:
    """Load and validate one lab.yaml."""
    spec = validate(path, LabFile, read_mapping(path, "a lab file"))
    if spec.id != path.parent.name:
        raise LabFileError(str(path), "id", f"{spec.id!r} must match the folder name {path.parent.name!r}")
    own = frozenset(spec.variables)
    for name in sorted(own & VARIABLES):
        raise LabFileError(str(path), f"variables.{name}", "breakfix fills this name in from the cluster: pick another")
    try:
        check(spec.variables)
    except VariantError as exc:
        key, _, problem = str(exc).partition(": ")
        raise LabFileError(str(path), key, problem) from None
    known = VARIABLES | own
    for key in ("title", "summary"):  # shown by `lab list`, where no value is drawn: nothing is filled in
        if template_vars(getattr(spec, key)):
            raise LabFileError(str(path), key, "{{ variables }} are not filled in here (only in the task and after)")
    _unknown(path, "task", template_vars(spec.task), known)
    for i, hint in enumerate(spec.hints):
        _unknown(path, f"hints[{i}]", template_vars(hint), known)
    lab = _assemble(spec, path, "", known)
    solution, solution_key = spec.solution, "solution"
    if not solution:
        sol = path.parent / "solution.md"
        if not sol.is_file():
            raise LabFileError(str(path), "solution", "empty, and there is no solution.md beside the lab file")
        solution, solution_key = read_text(sol), "solution.md"
    _unknown(path, solution_key, template_vars(solution), known)
    lab.solution_text = solution
    files = lab_files(lab)
    for rel, text in files.items():  # the files steps apply know the lab's variables only (not the cluster's)
        for number, line in enumerate(text.splitlines(), 1):
            _unknown(path.parent / rel, f"line {number}", template_vars(line), own)
    if own:
        _check_uses(lab, files)
        try:
            trial = lab.variant(0)  # the values of seed 0 must bind: a port where a number is wanted, ...
        except LabFileError as exc:
            values = describe(draw(spec.id, spec.variables, 0))
            raise LabFileError(exc.path, exc.key, f"once seed 0's values are in ({values}): {exc.problem}") from None
        for rel, text in files.items():
            try:
                list(yaml.safe_load_all(str(render(text, trial.values, keep_unknown=True))))
            except yaml.YAMLError as exc:
                problem = " ".join(str(exc).split())
                where = str(path.parent / rel)
                raise LabFileError(where, "", f"not YAML once seed 0's values are in: {problem}") from None
    return lab


def _check_uses(lab: Lab, files: dict[str, str]) -> None:
    """Every variable the lab declares is used somewhere it speaks."""
    dump = lab.spec.model_dump(by_alias=True, include=set(RENDERED))
    used = template_vars(dump) | template_vars(lab.solution_text) | template_vars(list(files.values()))
    for name in lab.spec.variables:
        if name not in used:
            raise LabFileError(
                str(lab.path),
                f"variables.{name}",
                "declared but used nowhere (not in the task, the steps, the hints, the solution or the files "
                "the steps apply)",
            )


#: The fields of a lab file that are rendered with a variant's values.
RENDERED = ("task", "setup", "break_", "confirm", "grade", "solve", "cheats", "alternatives", "hints")


def build_variant(lab: Lab, seed: int, values: dict[str, Value]) -> Lab:
    """LAB with VALUES filled in everywhere it speaks; its steps bound again (a port becomes a number)."""
    dump = lab.spec.model_dump(by_alias=True)
    for name in RENDERED:
        key = "break" if name == "break_" else name
        dump[key] = render(dump[key], values, keep_unknown=True)
    spec = validate(lab.path, LabFile, dump)
    solution = str(render(lab.solution_text, values, keep_unknown=True))
    variant = _assemble(spec, lab.path, solution, lax=True)
    variant.seed, variant.values = seed, dict(values)
    return variant


def lab_files(lab: Lab) -> dict[str, str]:
    """The text of every file the lab's steps name (`apply: {file: ...}`, `*_file`), by path in the lab folder."""
    found: dict[str, str] = {}
    folder = lab.folder.resolve()
    every = [*lab.steps.values(), *lab.cheats.values(), *lab.alternatives.values()]
    for steps in every:
        for step in steps:
            for rel in _named_files(step):
                if rel not in found:
                    found[rel] = read_text((folder / rel).resolve())
    return found


def _named_files(step: Step) -> list[str]:
    if step.ref != "breakers.kube.apply_manifest" and "lab_dir" not in inspect.signature(step.fn).parameters:
        return []
    named = [rel for key, rel in step.kwargs.items() if key == "file" or key.endswith("_file")]
    return [rel for rel in named if isinstance(rel, str)]


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


def load_one(lab_id: str, roots: list[Path] | None = None) -> Lab:
    """The lab with this id, reading only its own folder; the whole catalog (for close names) when it is not found."""
    if PLAIN_ID.fullmatch(lab_id):
        for root in roots if roots is not None else lab_roots():
            path = root / lab_id / "lab.yaml"
            if path.is_file():
                return load_lab(path)
    return load_catalog(roots).get(lab_id)


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


def materialize(lab: Lab, dest: Path) -> Path:
    """DEST filled with the lab folder's files, a variant's values in its text files; returns DEST.

    Steps read their files (`apply: {file: ...}`) from here: the lab folder itself is never written to."""
    folder = lab.folder.resolve()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if not path.resolve().is_relative_to(folder) or not path.is_file():
            continue  # a link leading out of the lab folder is no lab file (load refuses the ones steps name)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        try:
            text = data.decode()
        except UnicodeDecodeError:
            target.write_bytes(data)
            continue
        target.write_text(str(render(text, lab.values, keep_unknown=True)))
    return dest
