"""`lab verify` on real kubeadm clusters: break -> grade fails, cheats fail, the fix passes, reset is clean.

Which labs a run verifies is planned by `breakfix.proof.select` (docs/writing-labs.md, "How labs are
proven"): every lab whose record (labs/<id>/verified.json) is missing or older than its content, then
the labs with the oldest proof that fit BREAKFIX_VERIFY_BUDGET (minutes per lane, 15 by default);
the others are skipped with their reason. BREAKFIX_VERIFY_LABS=a,b verifies just those labs,
BREAKFIX_VERIFY_ALL=1 every lab, and BREAKFIX_VERIFY_RECORD=1 has `lab verify --record` write the
records of the labs that pass (commit them). BREAKFIX_VERIFY_VARIANTS=N proves each lab with variables on N
variants (`--variants N`, each from a new seed; the record lists them).

Most of a verification is waiting (for a fault to show, a cheat window to pass, a fix to settle), so the
labs are shared out between lanes that run side by side: the session's kubeadm cluster and up to
BREAKFIX_VERIFY_LANES - 1 more (2 lanes by default; a lane with no lab starts no cluster). The lanes run
in a process of their own (`lanes.py`), started by `test_lanes_start` early in the session; the
`test_verify` tests are marked `after_the_rest` and run at the end of the session (tests/conftest.py), so
the rest of the suite runs while the lanes wait, and each of them waits for its lab's outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from breakfix import proof
from breakfix.catalog import load_catalog
from breakfix.paths import cache_dir
from tests.integration.kubeadm_labs.lanes import Outcome, read_outcome
from tests.integration.verify_phases import check_phase_order
from tests.testbed.kubeadm.cluster import CAPABILITIES, KubeadmCluster

LANES = max(1, int(os.environ.get("BREAKFIX_VERIFY_LANES", "2")))
CATALOG = load_catalog()
CAN_RUN = sorted(lab.id for lab in CATALOG.labs.values() if set(lab.spec.requires) <= set(CAPABILITIES))
# BREAKFIX_VERIFY_LABS=a,b narrows a run to some labs (while writing them)
ONLY = {name for name in os.environ.get("BREAKFIX_VERIFY_LABS", "").split(",") if name}
RECORD = os.environ.get("BREAKFIX_VERIFY_RECORD") == "1"
# BREAKFIX_VERIFY_VARIANTS=3: each lab with variables is proven on that many variants (`lab verify --variants 3`)
VARIANTS = max(1, int(os.environ.get("BREAKFIX_VERIFY_VARIANTS", "1")))
# this machine's green runs, so that the rotation moves on between runs even where no record is committed
MEMO = cache_dir() / "verify-rotation.json"
CANDIDATES = proof.candidates([CATALOG.labs[lab_id] for lab_id in CAN_RUN], proof.read_rotation(MEMO))
HASHES = {c.lab: c.content_hash for c in CANDIDATES}
REPO = Path(__file__).resolve().parents[3]
# the environment pytest was started with, before any test changes it
LANES_ENV = {
    **os.environ,
    "PYTHONUNBUFFERED": "1",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}
PLAN = proof.select(
    CANDIDATES,
    lanes=LANES,
    budget=proof.budget_seconds(os.environ.get("BREAKFIX_VERIFY_BUDGET")),
    named=ONLY,
    verify_all=os.environ.get("BREAKFIX_VERIFY_ALL") == "1",
)


class Lanes:
    """The lanes' process and where it writes each lab's outcome."""

    def __init__(self, process: subprocess.Popen[bytes] | None, out: Path, log: Path) -> None:
        self.process, self.out, self.log = process, out, log

    def outcome(self, lab_id: str, timeout: float = 3 * 3600) -> Outcome:
        """LAB_ID's outcome: waits for its lane; fails at once if the lanes' process ended without it."""
        deadline = time.monotonic() + timeout
        while True:
            found = read_outcome(self.out, lab_id)
            if found is not None:
                return found
            ended = self.process is None or self.process.poll() is not None
            if ended or time.monotonic() > deadline:
                found = read_outcome(self.out, lab_id)  # written just before the process ended
                if found is not None:
                    return found
                why = "ended" if ended else f"gave no outcome within {timeout:.0f}s"
                raise AssertionError(f"the verify lanes {why} without {lab_id}'s outcome; their log:\n{self._tail()}")
            time.sleep(2)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else "(no log)"


@pytest.fixture(scope="session")
def verifications(kubeadm_cluster: KubeadmCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lanes]:
    """Start the lanes the plan fills in a process of their own; yields where their outcomes appear."""
    folder = tmp_path_factory.mktemp("verify-lanes")
    out, log = folder / "outcomes", folder / "lanes.log"
    out.mkdir()
    lanes = [labs for labs in PLAN.lanes if labs]  # filled from the first lane on: a prefix
    if not lanes:
        yield Lanes(None, out, log)
        return
    plan = {
        "session_run": kubeadm_cluster.run.run_id,
        "lanes": lanes,
        "record": RECORD,
        "variants": {
            lab: VARIANTS for lane in lanes for lab in lane if CATALOG.get(lab).has_variables and VARIANTS > 1
        },
        "out": str(out),
        "state": str(folder / "state"),
    }
    (folder / "plan.json").write_text(json.dumps(plan))
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.kubeadm_labs.lanes", str(folder / "plan.json")],
            cwd=REPO,
            env=LANES_ENV,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Lanes(process, out, log)
    finally:
        done = all(read_outcome(out, lab_id) is not None for labs in lanes for lab_id in labs)
        try:  # every outcome read: the lanes are removing their clusters; else the session was cut short
            process.wait(timeout=600 if done else 1)
        except subprocess.TimeoutExpired:
            process.terminate()  # the lanes remove their clusters on SIGTERM
            try:
                process.wait(timeout=300)
            except subprocess.TimeoutExpired:
                process.kill()  # its clusters are then stale (owner gone) and removed by the next run


def test_every_lab_that_needs_no_vm_is_verified_here() -> None:
    """Only labs that need a real clock, swap or a NetworkPolicy CNI (a VM) may be left out."""
    left_out = {lab.id: lab.spec.requires for lab in CATALOG.labs.values() if lab.id not in CAN_RUN}
    assert all(set(req) & {"real-clock", "swap", "netpol-cni"} for req in left_out.values()), left_out


def test_selection(capsys: pytest.CaptureFixture[str]) -> None:
    """The CI log shows which labs this run verifies and why, and which it skips and why."""
    with capsys.disabled():
        print("\n" + "\n".join(PLAN.lines()))
    unknown = sorted(ONLY - set(CAN_RUN))
    assert not unknown, f"BREAKFIX_VERIFY_LABS names labs that cannot run on the kubeadm test bed: {unknown}"
    stale = [c.lab for c in CANDIDATES if c.record is None or c.record.content_hash != c.content_hash]
    assert all(PLAN.choice(lab_id).verify for lab_id in stale if not ONLY or lab_id in ONLY)


def test_lanes_start(request: pytest.FixtureRequest) -> None:
    """The lanes start now, in their own process; the suite goes on while they verify (their tests come last)."""
    if not any(choice.verify for choice in PLAN.choices):
        pytest.skip("no lab to verify in this run")
    lanes: Lanes = request.getfixturevalue("verifications")
    assert lanes.process is not None and lanes.process.poll() in (None, 0), lanes._tail()


@pytest.mark.after_the_rest
@pytest.mark.parametrize("lab_id", [c.lab for c in PLAN.choices])
def test_verify(capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, lab_id: str) -> None:
    choice = PLAN.choice(lab_id)
    if not choice.verify:
        pytest.skip(f"{lab_id}: {choice.reason}")
    lanes: Lanes = request.getfixturevalue("verifications")
    outcome = lanes.outcome(lab_id)
    with capsys.disabled():
        print(f"\n[lane {outcome.lane}] {lab_id}: verified because {choice.reason}\n{outcome.err}")
    assert outcome.out, f"lab verify exited {outcome.code} without a report: {outcome.err[-6000:]}"
    result = json.loads(outcome.out)[lab_id]
    failed = [p for p in result["phases"] if not p["ok"]]
    assert outcome.code == 0 and not failed, json.dumps(failed, indent=1)
    check_phase_order([p["phase"] for p in result["phases"]], CATALOG.get(lab_id))
    if VARIANTS > 1 and CATALOG.get(lab_id).has_variables:
        seeds = [v["seed"] for v in result["variants"] if v["ok"]]
        assert len(set(seeds)) == VARIANTS, f"{len(set(seeds))} of {VARIANTS} variants proven: {result['variants']}"
    assert outcome.health is None, f"after {lab_id} the cluster is not as it was: {outcome.health}"
    try:
        proof.note_rotation(MEMO, lab_id, HASHES[lab_id])
    except OSError as exc:  # a read-only cache only stops the rotation from moving on between runs
        with capsys.disabled():
            print(f"[lane {outcome.lane}] {lab_id}: this run is not remembered in {MEMO}: {exc}")
    if RECORD:
        assert result.get("record", "").startswith("recorded "), result.get("record")
