"""`lab verify` on real kubeadm clusters: break -> grade fails, cheats fail, the fix passes, reset is clean.

Which labs a run verifies is planned by `breakfix.proof.select` (docs/writing-labs.md, "How labs are
proven"): every lab whose record (labs/<id>/verified.json) is missing or older than its content, then
the labs with the oldest proof that fit BREAKFIX_VERIFY_BUDGET (minutes per lane, 15 by default);
the others are skipped with their reason. BREAKFIX_VERIFY_LABS=a,b verifies just those labs,
BREAKFIX_VERIFY_ALL=1 every lab, and BREAKFIX_VERIFY_RECORD=1 has `lab verify --record` write the
records of the labs that pass (commit them).

Most of a verification is waiting (for a fault to show, a cheat window to pass, a fix to settle), so the
labs are shared out between lanes that run side by side: the session's kubeadm cluster and up to
BREAKFIX_VERIFY_LANES - 1 more (2 lanes by default; a lane with no lab starts no cluster). Each lane runs
its labs one after another with the `lab` command, in a state folder of its own, and checks after each one
that its cluster is as healthy as before; each test waits for its lab's outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from breakfix import proof
from breakfix.catalog import load_catalog
from breakfix.errors import BreakfixError
from breakfix.inventory import load_inventory
from breakfix.kube import KubeClient
from breakfix.paths import cache_dir
from tests.testbed.kubeadm.cluster import CAPABILITIES, KubeadmCluster, bring_up, diagnose_cluster

LANES = max(1, int(os.environ.get("BREAKFIX_VERIFY_LANES", "2")))
CATALOG = load_catalog()
CAN_RUN = sorted(lab.id for lab in CATALOG.labs.values() if set(lab.spec.requires) <= set(CAPABILITIES))
# BREAKFIX_VERIFY_LABS=a,b narrows a run to some labs (while writing them)
ONLY = {name for name in os.environ.get("BREAKFIX_VERIFY_LABS", "").split(",") if name}
RECORD = os.environ.get("BREAKFIX_VERIFY_RECORD") == "1"
# this machine's green runs, so that the rotation moves on between runs even where no record is committed
MEMO = cache_dir() / "verify-rotation.json"
CANDIDATES = proof.candidates([CATALOG.labs[lab_id] for lab_id in CAN_RUN], proof.read_rotation(MEMO))
HASHES = {c.lab: c.content_hash for c in CANDIDATES}
PLAN = proof.select(
    CANDIDATES,
    lanes=LANES,
    budget=proof.budget_seconds(os.environ.get("BREAKFIX_VERIFY_BUDGET")),
    named=ONLY,
    verify_all=os.environ.get("BREAKFIX_VERIFY_ALL") == "1",
)


def healthy(cluster: Any, timeout: float = 420) -> str | None:
    """Within TIMEOUT (a restarted component may be in back-off): every node and kube-system pod Ready."""
    spec = load_inventory(cluster.inventory)
    kube = KubeClient(spec.kubeconfig, spec.context)
    deadline = time.monotonic() + timeout
    while True:
        try:
            nodes = kube.list("v1", "Node")
            ready = {
                n["metadata"]["name"]: any(
                    c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]
                )
                for n in nodes
            }
            pods = kube.list("v1", "Pod", "kube-system")
            unready = sorted(  # Running is not enough: a container in back-off is Running too
                p["metadata"]["name"]
                for p in pods
                if not any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
            )
            problem = (
                None if ready == {"cp1": True, "w1": True} and not unready else f"nodes {ready}, not Ready {unready}"
            )
        except BreakfixError as exc:  # down, or up with the wrong state (a 403 for the admin is a broken cluster)
            problem = str(exc)
        if problem is None:
            return None
        if time.monotonic() > deadline:
            return f"{problem}\n{diagnose_cluster(cluster)}"  # which pods, their events and last log lines
        time.sleep(5)


@dataclass
class Outcome:
    """What `lab verify` printed for one lab, and the cluster's health afterwards."""

    code: int
    out: str
    err: str
    health: str | None
    lane: int


def lab_cli(state: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """Run the `lab` command of this interpreter's environment with its own state folder."""
    env = {**os.environ, "BREAKFIX_STATE_DIR": str(state)}
    command = [str(Path(sys.executable).parent / "lab"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def run_lane(
    lane: int, cluster: KubeadmCluster | str, state: Path, labs: list[str], results: dict[str, Future[Outcome]]
) -> None:
    """Adopt the lane's cluster, then verify its labs one by one, each followed by a health check.

    CLUSTER is why the lane has none when its bring-up failed: each of its labs then fails with that.
    Once a lab leaves the cluster unhealthy, the lane's later labs are not run: their tests say which lab
    broke the lane rather than failing for a fault that is not theirs."""
    if isinstance(cluster, str):
        for lab_id in labs:
            results[lab_id].set_result(Outcome(-1, "", cluster, None, lane))
        return
    adopted = lab_cli(state, "cluster", "adopt", str(cluster.inventory), "--yes")
    broken_by: str | None = None
    record = ["--record"] if RECORD else []
    for lab_id in labs:
        if adopted.returncode != 0:
            results[lab_id].set_result(Outcome(adopted.returncode, "", adopted.stderr, None, lane))
            continue
        if broken_by is not None:
            why = f"not run: {broken_by} left lane {lane}'s cluster unhealthy"
            results[lab_id].set_result(Outcome(-1, "", why, None, lane))
            continue
        try:
            done = lab_cli(state, "verify", lab_id, "--json", "--settle", "300", "--cheat-window", "45", *record)
            outcome = Outcome(done.returncode, done.stdout, done.stderr, healthy(cluster), lane)
            broken_by = lab_id if outcome.health is not None else None
            results[lab_id].set_result(outcome)
        except BaseException as exc:  # the test of this lab reports it
            results[lab_id].set_exception(exc)


def extra_lane(lane: int) -> KubeadmCluster | str:
    """Bring up one more lane's cluster (retried once on fresh nodes), or say why it did not come up."""
    try:
        return bring_up(workers=1)
    except Exception as exc:  # the lane's labs fail with this; the other lanes go on
        return f"lane {lane}'s cluster did not come up, so its labs were not verified: {exc}"


@pytest.fixture(scope="module")
def verifications(
    kubeadm_cluster: KubeadmCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Outcome]]]:
    """Start the lanes the plan fills; yields a future outcome per lab to verify."""
    lanes = [labs for labs in PLAN.lanes if labs]  # filled from the first lane on: a prefix
    clusters: list[KubeadmCluster | str] = [kubeadm_cluster, *(extra_lane(i) for i in range(1, len(lanes)))]
    results: dict[str, Future[Outcome]] = {lab_id: Future() for labs in lanes for lab_id in labs}
    threads = [
        threading.Thread(
            target=run_lane, args=(i, cluster, tmp_path_factory.mktemp(f"lane{i}"), labs, results), daemon=True
        )
        for i, (cluster, labs) in enumerate(zip(clusters, lanes, strict=True))
    ]
    for thread in threads:
        thread.start()
    try:
        yield results
    finally:
        for thread in threads:
            thread.join(timeout=3600)
        for cluster in clusters[1:]:
            if not isinstance(cluster, str):
                cluster.stop()


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


@pytest.mark.parametrize("lab_id", [c.lab for c in PLAN.choices])
def test_verify(capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, lab_id: str) -> None:
    choice = PLAN.choice(lab_id)
    if not choice.verify:
        pytest.skip(f"{lab_id}: {choice.reason}")
    verifications: dict[str, Future[Outcome]] = request.getfixturevalue("verifications")
    outcome = verifications[lab_id].result(timeout=3600)
    with capsys.disabled():
        print(f"\n[lane {outcome.lane}] {lab_id}: verified because {choice.reason}\n{outcome.err}")
    assert outcome.out, f"lab verify exited {outcome.code} without a report: {outcome.err[-6000:]}"
    result = json.loads(outcome.out)[lab_id]
    failed = [p for p in result["phases"] if not p["ok"]]
    assert outcome.code == 0 and not failed, json.dumps(failed, indent=1)
    names = [p["phase"] for p in result["phases"]]
    assert names[:2] == ["break", "grade-after-break"] and names[-2:] == ["solve", "reset"]
    lab = CATALOG.get(lab_id)
    assert names[2:-2] == [f"cheat:{name}" for name in lab.cheats] + [
        f"alternative:{name}" for name in lab.alternatives
    ]
    assert outcome.health is None, f"after {lab_id} the cluster is not as it was: {outcome.health}"
    try:
        proof.note_rotation(MEMO, lab_id, HASHES[lab_id])
    except OSError as exc:  # a read-only cache only stops the rotation from moving on between runs
        with capsys.disabled():
            print(f"[lane {outcome.lane}] {lab_id}: this run is not remembered in {MEMO}: {exc}")
    if RECORD:
        assert result.get("record", "").startswith("recorded "), result.get("record")
