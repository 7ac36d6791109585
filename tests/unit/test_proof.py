"""Proof records (labs/<id>/verified.json), the content hash they carry, and which labs a CI run verifies."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from breakfix import proof
from breakfix.catalog import Lab, load_catalog, load_lab
from breakfix.cli.main import main
from breakfix.proof import Candidate, Record, budget_seconds, content_hash, select, step_sources
from breakfix.runner import VerifyPhase

LAB: dict[str, Any] = {
    "id": "demo",
    "title": "Demo lab",
    "domain": "troubleshooting",
    "difficulty": "easy",
    "time_limit": "5m",
    "task": "Make the demo work again.",
    "break": [{"PKG.breaks.spoil": {}}],
    "confirm": [{"PKG.checks.fine": {"expect": "fail"}}],
    "grade": [{"PKG.checks.fine": {}}],
    "solve": [{"PKG.breaks.mend": {}}],
    "cheats": {"nearly": [{"PKG.breaks.spoil": {}}]},
    "solution": "mend it",
}
MODULES = {
    "__init__.py": "",
    "breaks.py": "def spoil() -> None:\n    '''Spoil.'''\n\n\ndef mend() -> None:\n    '''Mend.'''\n",
    "checks.py": "from OTHER import util\n\n\ndef fine() -> None:\n    '''Fine.'''\n",
    "_helper.py": "X = 1\n",
    "unused.py": "Y = 1\n",
}


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """A lab whose steps live in a package of its own (PKG), whose checks import another package (OTHER)."""
    pkg, other = f"proofsteps_{uuid.uuid4().hex[:8]}", f"proofutil_{uuid.uuid4().hex[:8]}"
    for name, files in ((pkg, MODULES), (other, {"__init__.py": "", "util.py": "Z = 1\n", "loose.py": ""})):
        (tmp_path / name).mkdir()
        for file, text in files.items():
            (tmp_path / name / file).write_text(text.replace("OTHER", other))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", f"{pkg},{other}")
    lab_dir = tmp_path / "labs" / "demo"
    (lab_dir / "manifests").mkdir(parents=True)
    (lab_dir / "manifests" / "app.yaml").write_text("kind: ConfigMap\n")
    (lab_dir / "lab.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(LAB).replace("PKG", pkg))))
    return lab_dir, tmp_path / pkg, tmp_path / other


def test_step_sources_are_the_modules_used_their_private_helpers_and_what_they_import(
    demo: tuple[Path, Path, Path],
) -> None:
    lab_dir, pkg, other = demo
    sources = step_sources(load_lab(lab_dir / "lab.yaml"))
    assert set(sources.values()) == {
        pkg / "breaks.py",
        pkg / "checks.py",
        pkg / "_helper.py",
        pkg / "__init__.py",
        other / "util.py",
        other / "__init__.py",
    }


@pytest.mark.parametrize(
    ("where", "file", "changes"),
    [
        ("lab", "lab.yaml", True),
        ("lab", "manifests/app.yaml", True),
        ("lab", "solution.md", True),  # a new file in the folder
        ("lab", "verified.json", False),  # the record itself
        ("lab", ".lab.yaml.swp", False),
        ("pkg", "checks.py", True),  # a grader the lab uses
        ("pkg", "_helper.py", True),  # a private helper beside it
        ("pkg", "unused.py", False),
        ("other", "util.py", True),  # a step module a grader imports
        ("other", "loose.py", False),
    ],
)
def test_content_hash_follows_the_lab_and_its_step_modules(
    demo: tuple[Path, Path, Path], where: str, file: str, changes: bool
) -> None:
    lab_dir, pkg, other = demo
    lab = load_lab(lab_dir / "lab.yaml")
    before = content_hash(lab)
    assert before.startswith("sha256:") and content_hash(lab) == before
    path = {"lab": lab_dir, "pkg": pkg, "other": other}[where] / file
    with path.open("a") as out:
        out.write("# edited\n")
    assert (content_hash(lab) != before) is changes


def test_real_labs_cover_the_graders_and_helpers_they_use() -> None:
    lab = load_catalog().get("svc-wrong-selector")
    sources = step_sources(lab)
    assert {"graders.service", "breakers.kube", "breakers._manifests", "graders._steady"} <= set(sources)
    assert "graders.pki" not in sources and "breakers.pki" not in sources


def test_record_round_trip_and_unreadable_records(tmp_path: Path) -> None:
    assert proof.read_record(tmp_path) is None
    record = Record(
        "demo", "sha256:ab", "2026-12-01T10:00:00Z", 181.25, "testbed", "v1.34.4", "c0ffee", "0.1.0", ("a",)
    )
    assert proof.write_record(tmp_path, record) == tmp_path / "verified.json"
    assert proof.read_record(tmp_path) == Record(
        "demo", "sha256:ab", "2026-12-01T10:00:00Z", 181.2, "testbed", "v1.34.4", "c0ffee", "0.1.0", ("a",)
    )
    assert [p.name for p in tmp_path.iterdir()] == ["verified.json"]  # no temporary file left
    (tmp_path / "verified.json").write_text("{")
    with pytest.raises(proof.RecordError, match=r"verified.json: not JSON"):
        proof.read_record(tmp_path)
    (tmp_path / "verified.json").write_text('{"lab": "demo"}')
    with pytest.raises(proof.RecordError, match=r"verified.json: no 'content_hash'"):
        proof.read_record(tmp_path)


def test_a_record_lists_the_seeds_of_the_variants_it_proved(tmp_path: Path) -> None:
    record = Record("demo", "sha256:ab", "2026-12-01T10:00:00Z", 1, "testbed", "v1.34.4", seeds=(7, 123456))
    proof.write_record(tmp_path, record)
    assert json.loads((tmp_path / "verified.json").read_text())["seeds"] == [7, 123456]
    assert proof.read_record(tmp_path) == record
    plain = Record("demo", "sha256:ab", "2026-12-01T10:00:00Z", 1, "testbed", "v1.34.4")
    assert "seeds" not in plain.as_dict()  # a lab without variables: as records always were
    (tmp_path / "verified.json").write_text(json.dumps({**plain.as_dict(), "seeds": ["7"]}))
    with pytest.raises(proof.RecordError, match="seeds: '7' is not a whole number"):
        proof.read_record(tmp_path)


def test_no_record_where_the_lab_folder_is_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proof.os, "access", lambda path, mode: False)
    record = Record("demo", "sha256:ab", "2026-12-01T10:00:00Z", 1, "testbed", "v1.34.4")
    assert proof.write_record(tmp_path, record) is None
    assert not (tmp_path / "verified.json").exists()


class FakeBreakfix:
    """Just what `lab verify --record` asks of the API: the lab, the cluster, a context with a kube."""

    def __init__(self, lab: Lab, phases: list[VerifyPhase]) -> None:
        self._lab, self.phases, self.verified = lab, phases, []

    def lab(self, lab_id: str) -> Lab:
        assert lab_id == self._lab.id
        return self._lab

    def cluster(self) -> SimpleNamespace:
        return SimpleNamespace(provider="testbed", capabilities=set())

    @contextmanager
    def context(self) -> Iterator[SimpleNamespace]:
        yield SimpleNamespace(kube=SimpleNamespace(version=lambda: {"gitVersion": "v1.34.4"}))

    def variant(self, lab_id: str, seed: int) -> Lab:
        return self.lab(lab_id).variant(seed, ["w1"])

    def verify(
        self, lab_id: str, *_a: object, on_phase: Any = None, bypass_window: float = 30, seed: int | None = None
    ) -> list[VerifyPhase]:
        self.verified.append(lab_id if seed is None else f"{lab_id} --seed {seed}")
        if self.during is not None:
            self.during()
        return self.phases

    during: Any = None


GREEN = [VerifyPhase("break", True, ""), VerifyPhase("grade-after-break", True, ""), VerifyPhase("reset", True, "")]


def test_lab_verify_records_only_when_asked_and_green(
    demo: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_dir = demo[0]
    lab = load_lab(lab_dir / "lab.yaml")
    fake = FakeBreakfix(lab, GREEN)
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: fake)
    assert main(["verify", "demo"]) == 0 and not (lab_dir / "verified.json").exists()  # off by default
    fake.phases = [*GREEN[:2], VerifyPhase("solve", False, "the reference fix FAILED grading"), GREEN[2]]
    assert main(["verify", "demo", "--record"]) == 1 and not (lab_dir / "verified.json").exists()
    fake.phases = GREEN
    capsys.readouterr()
    assert main(["verify", "demo", "--record", "--json"]) == 0
    out = capsys.readouterr()
    record = proof.read_record(lab_dir)
    assert record is not None and json.loads(out.out)["demo"]["record"].startswith(f"recorded {lab_dir}")
    assert (record.lab, record.content_hash, record.provider, record.kubernetes) == (
        "demo",
        content_hash(lab),
        "testbed",
        "v1.34.4",
    )
    assert record.commit is None  # not in a git checkout
    assert record.phases == ("break", "grade-after-break", "reset") and record.verified_at.endswith("Z")
    assert content_hash(lab) == record.content_hash  # writing the record does not change the hash
    monkeypatch.setattr(proof.os, "access", lambda path, mode: False)
    assert main(["verify", "demo", "--record"]) == 0
    assert "not recorded: " in capsys.readouterr().err


def test_verify_of_several_variants_records_each_seed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "svc-variant"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "labs" / "svc-variant", folder)
    lab = load_lab(folder / "lab.yaml")
    fake = FakeBreakfix(lab, GREEN)
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: fake)
    monkeypatch.setattr(proof, "git_commit", lambda _folder: None)
    assert main(["verify", "svc-variant", "--variants", "3", "--record", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["svc-variant"]
    seeds = [v["seed"] for v in result["variants"]]
    assert len(set(seeds)) == 3 and fake.verified == [f"svc-variant --seed {s}" for s in seeds]
    record = proof.read_record(folder)
    assert record is not None and list(record.seeds) == seeds


def test_the_record_proves_the_content_as_it_was_when_verify_began(
    demo: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab_dir = demo[0]
    lab = load_lab(lab_dir / "lab.yaml")
    before = content_hash(lab)
    fake = FakeBreakfix(lab, GREEN)
    fake.during = lambda: (lab_dir / "solution.md").write_text("edited while verify ran\n")
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: fake)
    assert main(["verify", "demo", "--record"]) == 0
    record = proof.read_record(lab_dir)
    assert record is not None and record.content_hash == before != content_hash(lab)


def test_git_commit_of_a_checkout() -> None:
    head = proof.git_commit(Path(__file__).parent)
    assert head is None or len(head) == 40  # None when the tests run outside git


# selection ---------------------------------------------------------------------------------
def rec(lab: str, day: str, seconds: float = 200, digest: str = "h") -> Record:
    return Record(lab, digest, f"2026-11-{day}T12:00:00Z", seconds, "testbed", "v1.34.4")


def test_labs_without_a_current_record_are_always_verified() -> None:
    plan = select(
        [
            Candidate("new", "h"),
            Candidate("edited", "h2", rec("edited", "20")),
            Candidate("garbled", "h", None, problem="verified.json: not JSON"),
            Candidate("fine", "h", rec("fine", "21")),
        ],
        lanes=2,
        budget=0,
    )
    reasons = {c.lab: (c.verify, c.reason) for c in plan.choices}
    assert reasons == {
        "new": (True, "no record"),
        "edited": (True, "changed since its record of 2026-11-20"),
        "garbled": (True, "unreadable record (verified.json: not JSON)"),
        "fine": (True, "rotation: oldest proof, verified 2026-11-21 (record)"),  # progress even with no budget
    }


def test_rotation_takes_the_oldest_proofs_that_fit_the_budget_per_lane() -> None:
    found = [Candidate(f"lab{d}", "h", rec(f"lab{d}", d, 300)) for d in ("05", "03", "09", "01", "07")]
    plan = select(found, lanes=2, budget=600)  # 2 lanes x 600 s: four labs of 300 s
    verified = [c.lab for c in plan.verified]
    assert sorted(verified) == ["lab01", "lab03", "lab05", "lab07"]
    assert plan.choice("lab01").reason == "rotation: oldest proof, verified 2026-11-01 (record)"
    assert plan.choice("lab03").reason == "rotation: proof, verified 2026-11-03 (record)"
    skipped = plan.choice("lab09")
    assert not skipped.verify and "rotation budget spent" in skipped.reason and "2026-11-09" in skipped.reason
    assert sorted(map(sorted, plan.lanes)) == [["lab01", "lab05"], ["lab03", "lab07"]] and plan.loads == [600, 600]
    assert [c.lab for c in plan.choices] == [c.lab for c in found]  # listed in catalog order


def test_must_verify_labs_use_the_budget_first_and_lanes_are_balanced() -> None:
    found = [
        Candidate("big", "new", rec("big", "10", 900, "old")),
        Candidate("small", "new", rec("small", "10", 100, "old")),
        Candidate("mid", "new", rec("mid", "10", 500, "old")),
        Candidate("old", "h", rec("old", "01", 300)),
        Candidate("older", "h", rec("older", "02", 300)),
    ]
    plan = select(found, lanes=2, budget=900)
    assert plan.lanes == [["big"], ["mid", "small", "old"]]  # longest first onto the least loaded lane
    assert not plan.choice("older").verify and plan.choice("old").reason.startswith("rotation: oldest proof")


def test_an_unrecorded_lab_is_estimated_from_the_recorded_ones() -> None:
    plan = select(
        [Candidate("a", "h", rec("a", "01", 100)), Candidate("b", "h", rec("b", "02", 300)), Candidate("c", "h")],
        lanes=1,
        budget=10_000,
    )
    assert {c.lab: c.estimate for c in plan.choices} == {"a": 100, "b": 300, "c": 200}
    assert select([Candidate("c", "h")], lanes=1, budget=0).choices[0].estimate == proof.DEFAULT_ESTIMATE


def test_this_machines_last_green_run_moves_the_rotation_on(tmp_path: Path) -> None:
    memo = tmp_path / "cache" / "verify-rotation.json"
    assert proof.read_rotation(memo) == {}
    proof.note_rotation(memo, "lab01", "h", "2026-11-30T08:00:00Z")
    proof.note_rotation(memo, "lab02", "stale", "2026-11-30T09:00:00Z")
    assert proof.read_rotation(memo) == {
        "lab01": ("h", "2026-11-30T08:00:00Z"),
        "lab02": ("stale", "2026-11-30T09:00:00Z"),
    }
    runs = proof.read_rotation(memo)
    found = [
        Candidate("lab01", "h", rec("lab01", "01"), runs["lab01"][1]),  # what candidates() makes of the memo
        Candidate("lab02", "h", rec("lab02", "02")),  # the memo's run was of other content: it does not count
    ]
    plan = select(found, lanes=1, budget=0)
    assert plan.choice("lab02").reason == "rotation: oldest proof, verified 2026-11-02 (record)"
    assert plan.choice("lab01").reason.startswith("proof current (verified 2026-11-30, this machine's CI;")
    memo.write_text("[not a memo")
    assert proof.read_rotation(memo) == {}


def test_candidates_hash_each_lab_and_read_its_record(demo: tuple[Path, Path, Path], tmp_path: Path) -> None:
    lab = load_lab(demo[0] / "lab.yaml")
    digest = content_hash(lab)
    memo = {"demo": (digest, "2026-11-30T08:00:00Z")}
    assert proof.candidates([lab], memo) == [Candidate("demo", digest, None, "2026-11-30T08:00:00Z")]
    assert proof.candidates([lab], {"demo": ("other", "2026-11-30T08:00:00Z")})[0].last_run is None
    (demo[0] / "verified.json").write_text("[]")
    assert "not a JSON object" in proof.candidates([lab])[0].problem


def test_named_labs_narrow_the_run_and_all_are_verified() -> None:
    found = [Candidate("a", "h", rec("a", "01")), Candidate("b", "h", rec("b", "02")), Candidate("c", "h")]
    plan = select(found, lanes=2, budget=0, named={"a", "b"})
    assert [(c.lab, c.verify, c.reason) for c in plan.choices] == [
        ("a", True, "named in BREAKFIX_VERIFY_LABS"),
        ("b", True, "named in BREAKFIX_VERIFY_LABS"),
    ]
    assert plan.narrowed and "BREAKFIX_VERIFY_LABS narrows" in plan.lines()[0]
    every = select(found, lanes=2, budget=0, verify_all=True)
    assert all(c.verify and c.reason == "BREAKFIX_VERIFY_ALL=1" for c in every.choices) and len(every.choices) == 3


def test_plan_lines_say_what_is_verified_and_skipped_and_why() -> None:
    plan = select([Candidate("a", "h", rec("a", "01")), Candidate("bb", "h", rec("bb", "02"))], lanes=2, budget=0)
    assert plan.lines() == [
        "verify 1 of 2 labs (budget 0s per lane; estimated lanes: 3m20s)",
        "  verify  a   rotation: oldest proof, verified 2026-11-01 (record)",
        "  skip    bb  proof current (verified 2026-11-02, record; content unchanged); rotation budget spent",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"), [(None, 900), ("", 900), ("20", 1200), ("2.5", 150), ("90s", 90), ("1h", 3600)]
)
def test_budget_is_minutes_or_a_duration(text: str | None, seconds: float) -> None:
    assert budget_seconds(text) == seconds


def test_bad_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        budget_seconds("soon")
