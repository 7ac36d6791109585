"""Proof that a lab works: the record of its last green `lab verify`, and which labs a CI run verifies.

A record (`labs/<id>/verified.json`, one per lab so that two branches only conflict when they prove the
same lab) holds the lab's content hash: its folder's files and the source of every step module its
steps reference, with their private helpers and the step modules those import. A record whose hash
differs from the lab's is no proof. `select` plans a CI run: every lab without a current record, then
the labs with the oldest proof that fit a time budget, dealt out over the lanes.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import importlib.util
import json
import os
import subprocess
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from breakfix.durations import format_duration, parse_duration
from breakfix.errors import BreakfixError
from breakfix.steps import allowed_roots

if TYPE_CHECKING:
    from breakfix.api import Breakfix
    from breakfix.catalog import Lab
    from breakfix.runner import VerifyPhase

RECORD_NAME = "verified.json"
#: What an unrecorded lab is assumed to take, when no recorded lab gives a better guess.
DEFAULT_ESTIMATE = 240.0


class RecordError(BreakfixError):
    """A verified.json that cannot be read."""


def now_utc() -> str:
    """The current time as a record writes it: 2026-12-02T03:04:05Z."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Record:
    """The last green `lab verify` of a lab: what was proven, where, when and how long it took."""

    lab: str
    content_hash: str
    verified_at: str
    duration_seconds: float
    provider: str
    kubernetes: str
    commit: str | None = None
    breakfix: str = ""
    phases: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()  # a lab with variables: the seed of each variant proven

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "lab": self.lab,
            "content_hash": self.content_hash,
            "verified_at": self.verified_at,
            "duration_seconds": round(self.duration_seconds, 1),
            "provider": self.provider,
            "kubernetes": self.kubernetes,
            "commit": self.commit,
            "breakfix": self.breakfix,
            "phases": list(self.phases),
            **({"seeds": list(self.seeds)} if self.seeds else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """Read a record's dict; RecordError names what is missing or wrong."""
        try:
            return cls(
                lab=str(data["lab"]),
                content_hash=str(data["content_hash"]),
                verified_at=str(data["verified_at"]),
                duration_seconds=float(data["duration_seconds"]),
                provider=str(data["provider"]),
                kubernetes=str(data["kubernetes"]),
                commit=None if data.get("commit") is None else str(data["commit"]),
                breakfix=str(data.get("breakfix") or ""),
                phases=tuple(str(p) for p in data.get("phases") or ()),
                seeds=tuple(_seed(s) for s in data.get("seeds") or ()),
            )
        except KeyError as exc:
            raise RecordError(f"no {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise RecordError(str(exc)) from None

    @property
    def day(self) -> str:
        """The date of the proof, e.g. 2026-12-02."""
        return self.verified_at[:10]


def _seed(value: Any) -> int:
    """A seed as a record holds it: a whole number (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"seeds: {value!r} is not a whole number")
    return value


# content hash ----------------------------------------------------------------------
def _lab_files(folder: Path) -> list[Path]:
    """The lab folder's files, without its record, hidden files and caches."""
    files = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if not path.is_file() or rel.as_posix() == RECORD_NAME:
            continue
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts) or path.suffix == ".pyc":
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _module_file(name: str) -> Path | None:
    """The source file of a module, without running it (None when there is none)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imported(name: str, path: Path, roots: tuple[str, ...]) -> set[str]:
    """Step modules (under ROOTS) that the source of module NAME imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from graders import _steady`
    return {m for m in found if m.startswith(roots) and _module_file(m) is not None}


def step_sources(lab: Lab) -> dict[str, Path]:
    """Every step module a lab runs, with its package's private helpers (`_*.py`) and the step modules it imports."""
    roots = tuple(dict.fromkeys(r.split(".")[0] + "." for r in allowed_roots()))
    steps = chain(*lab.steps.values(), *lab.cheats.values(), *lab.alternatives.values())
    todo = {name for step in steps for name in (step.ref.rpartition(".")[0], step.fn.__module__)}
    sources: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in sources or path is None:
            continue
        sources[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        if package:
            privates = [f"{package}.{p.stem}" for p in path.parent.glob("_*.py") if p.name != "__init__.py"]
            todo.update(m for m in [package, *privates] if m not in sources)
        todo.update(m for m in _imported(name, path, roots) if m not in sources)
    return dict(sorted(sources.items()))


def content_hash(lab: Lab) -> str:
    """sha256 over the lab folder's files (not its record) and the source of every step module it uses."""
    digest = hashlib.sha256()
    for path in _lab_files(lab.folder):
        rel = path.relative_to(lab.folder).as_posix()
        digest.update(b"file\0" + rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    for name, path in step_sources(lab).items():
        digest.update(b"module\0" + name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


# records ------------------------------------------------------------------------------
def read_record(folder: Path) -> Record | None:
    """The lab's record, None when it has none; RecordError when it cannot be read."""
    path = folder / RECORD_NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordError(f"{path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: not a JSON object")
    try:
        return Record.from_dict(data)
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from None


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(folder: Path, record: Record) -> Path | None:
    """Write the record beside lab.yaml; None (nothing written) when the lab folder is not writable."""
    if not os.access(folder, os.W_OK):
        return None
    path = folder / RECORD_NAME
    _atomic_write(path, json.dumps(record.as_dict(), indent=2) + "\n")
    return path


def git_commit(folder: Path) -> str | None:
    """The commit checked out where the lab lives (git rev-parse HEAD), None outside git."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    head = done.stdout.strip()
    return head if done.returncode == 0 and head else None


def record_verify(
    bf: Breakfix,
    lab_id: str,
    phases: Sequence[VerifyPhase],
    duration: float,
    digest: str | None = None,
    seeds: Sequence[int] = (),
) -> str:
    """Record a green `lab verify` of LAB_ID (of content DIGEST, taken before it ran; SEEDS: the variants it
    proved); returns one line saying so."""
    from breakfix import __version__

    if not phases or not all(p.ok for p in phases):
        return "not recorded: the lab did not pass"
    lab = bf.lab(lab_id)
    spec = bf.cluster()
    try:
        with bf.context() as ctx:
            kubernetes = str(ctx.kube.version().get("gitVersion", "unknown"))
    except BreakfixError:
        kubernetes = "unknown"
    record = Record(
        lab=lab.id,
        content_hash=digest or content_hash(lab),
        verified_at=now_utc(),
        duration_seconds=duration,
        provider=spec.provider,
        kubernetes=kubernetes,
        commit=git_commit(lab.folder),
        breakfix=__version__,
        phases=tuple(p.name for p in phases),
        seeds=tuple(seeds),
    )
    path = write_record(lab.folder, record)
    if path is None:
        return f"not recorded: {lab.folder} is not writable (an installed copy of the labs?)"
    return f"recorded {path} ({format_duration(duration)} on {spec.provider} {kubernetes})"


# the rotation memo: this machine's green CI verifications --------------------------------
def read_rotation(path: Path) -> dict[str, tuple[str, str]]:
    """{lab: (content hash, verified_at)} of the labs this machine last verified green in CI ({} if none)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(lab): (str(entry["content_hash"]), str(entry["verified_at"]))
        for lab, entry in data.items()
        if isinstance(entry, dict) and "content_hash" in entry and "verified_at" in entry
    }


def note_rotation(path: Path, lab_id: str, digest: str, when: str | None = None) -> None:
    """Remember that this machine verified LAB_ID green at DIGEST, so the next run's rotation moves on."""
    memo = read_rotation(path)
    memo[lab_id] = (digest, when or now_utc())
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {lab: {"content_hash": h, "verified_at": t} for lab, (h, t) in sorted(memo.items())}
    _atomic_write(path, json.dumps(data, indent=1) + "\n")


# selection --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A lab a CI run could verify: its current hash, its record and this machine's last green run."""

    lab: str
    content_hash: str
    record: Record | None = None
    last_run: str | None = None  # verified_at of this machine's last green run of this very content
    problem: str = ""  # why the record could not be read


@dataclass(frozen=True)
class Choice:
    """Whether a lab is verified in this run, and why."""

    lab: str
    verify: bool
    reason: str
    estimate: float


@dataclass
class Plan:
    """The labs a CI run verifies (dealt out over lanes) and the ones it skips, each with its reason."""

    choices: list[Choice]
    lanes: list[list[str]]
    budget: float
    narrowed: bool = False
    loads: list[float] = field(default_factory=list)

    def choice(self, lab_id: str) -> Choice:
        """The choice made for one lab."""
        return next(c for c in self.choices if c.lab == lab_id)

    @property
    def verified(self) -> list[Choice]:
        """The labs to verify."""
        return [c for c in self.choices if c.verify]

    def lines(self) -> list[str]:
        """The plan for the CI log: one line per lab, verified ones first."""
        lanes = ", ".join(format_duration(load) for load in self.loads if load) or "nothing"
        head = (
            f"verify {len(self.verified)} of {len(self.choices)} labs "
            f"(budget {format_duration(self.budget)} per lane; estimated lanes: {lanes})"
        )
        if self.narrowed:
            head += "; BREAKFIX_VERIFY_LABS narrows the run to the labs named"
        width = max((len(c.lab) for c in self.choices), default=0)
        ordered = sorted(self.choices, key=lambda c: not c.verify)
        return [head] + [f"  {'verify' if c.verify else 'skip  '}  {c.lab:<{width}}  {c.reason}" for c in ordered]


def candidates(labs: Iterable[Lab], memo: Mapping[str, tuple[str, str]] | None = None) -> list[Candidate]:
    """Hash each lab and read its record; MEMO is this machine's last green runs (read_rotation)."""
    found = []
    for lab in labs:
        digest = content_hash(lab)
        try:
            record, problem = read_record(lab.folder), ""
        except RecordError as exc:
            record, problem = None, str(exc)
        ran = (memo or {}).get(lab.id)
        found.append(Candidate(lab.id, digest, record, ran[1] if ran and ran[0] == digest else None, problem))
    return found


def budget_seconds(text: str | None, default_minutes: float = 15) -> float:
    """BREAKFIX_VERIFY_BUDGET: a plain number is minutes (15), or a duration (90s, 1h)."""
    if not text or not text.strip():
        return default_minutes * 60
    text = text.strip()
    try:
        return float(text) * 60
    except ValueError:
        return parse_duration(text)


def select(
    found: Sequence[Candidate],
    *,
    lanes: int,
    budget: float,
    named: Collection[str] = (),
    verify_all: bool = False,
) -> Plan:
    """Plan a CI run: labs without a current record always; then the oldest proofs first, within BUDGET per lane.

    NAMED (BREAKFIX_VERIFY_LABS) narrows the run to those labs and verifies them all, as VERIFY_ALL
    verifies every lab. A lab's estimate is its recorded duration (else the mean of the recorded ones).
    The oldest proof is verified even when the must-verify labs fill the budget, so the rotation always
    moves on; other proofs are taken, oldest first, while they fit on a lane."""
    lanes = max(1, lanes)
    if named:
        found = [c for c in found if c.lab in named]
    known = [c.record.duration_seconds for c in found if c.record and c.record.duration_seconds > 0]
    default = sum(known) / len(known) if known else DEFAULT_ESTIMATE

    def estimate(c: Candidate) -> float:
        return c.record.duration_seconds if c.record and c.record.duration_seconds > 0 else default

    must: list[Choice] = []
    current: list[tuple[str, Candidate]] = []
    for c in found:
        if named:
            must.append(Choice(c.lab, True, "named in BREAKFIX_VERIFY_LABS", estimate(c)))
        elif verify_all:
            must.append(Choice(c.lab, True, "BREAKFIX_VERIFY_ALL=1", estimate(c)))
        elif c.record is None:
            must.append(Choice(c.lab, True, f"unreadable record ({c.problem})" if c.problem else "no record", default))
        elif c.record.content_hash != c.content_hash:
            must.append(Choice(c.lab, True, f"changed since its record of {c.record.day}", estimate(c)))
        else:
            proven = max(c.record.verified_at, c.last_run or "")
            current.append((proven, c))
    loads = [0.0] * lanes
    plan: list[list[str]] = [[] for _ in range(lanes)]

    def place(choice: Choice) -> None:
        lane = min(range(lanes), key=lambda i: (loads[i], i))
        loads[lane] += choice.estimate
        plan[lane].append(choice.lab)

    for choice in sorted(must, key=lambda ch: (-ch.estimate, ch.lab)):  # longest first: balanced lanes
        place(choice)
    chosen: list[Choice] = list(must)
    for proven, c in sorted(current, key=lambda item: (item[0], item[1].lab)):
        assert c.record is not None
        where = "this machine's CI" if c.last_run and c.last_run > c.record.verified_at else "record"
        first = not any(ch.reason.startswith("rotation") for ch in chosen)
        if first or min(loads) + estimate(c) <= budget:
            label = "oldest proof" if first else "proof"
            choice = Choice(c.lab, True, f"rotation: {label}, verified {proven[:10]} ({where})", estimate(c))
            place(choice)
        else:
            choice = Choice(
                c.lab,
                False,
                f"proof current (verified {proven[:10]}, {where}; content unchanged); rotation budget spent",
                estimate(c),
            )
        chosen.append(choice)
    order = {c.lab: i for i, c in enumerate(found)}
    chosen.sort(key=lambda ch: order[ch.lab])
    return Plan(chosen, plan, budget, bool(named), loads)
