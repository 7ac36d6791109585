"""The verify lanes, run in a process of their own: `python -m tests.integration.kubeadm_labs.lanes PLAN.json`.

The lanes start as soon as the plan is known and run while the rest of the suite goes on (most of a
verification is waiting): their own process, so that the fakes and fake clocks of unit tests running
meanwhile never reach them. Lane 0 uses the session's kubeadm cluster (PLAN's `session_run`); each further
lane brings up a cluster of its own (retried once on fresh nodes) and removes it at the end. Each lane
runs its labs one after another with the `lab` command, in a state folder of its own, and checks after
each one that its cluster is as healthy as before. As each lab ends, `OUT/<lab>.json` gets its outcome.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.inventory import load_inventory
from breakfix.kube import KubeClient
from tests.testbed.kubeadm.cluster import KubeadmCluster, bring_up, diagnose_cluster, load_cluster


@dataclass
class Outcome:
    """What `lab verify` printed for one lab, and the cluster's health afterwards."""

    code: int
    out: str
    err: str
    health: str | None
    lane: int


def outcome_path(out: Path, lab_id: str) -> Path:
    """Where the lanes write LAB_ID's outcome."""
    return out / f"{lab_id}.json"


def read_outcome(out: Path, lab_id: str) -> Outcome | None:
    """LAB_ID's outcome once its lane has written it, else None."""
    path = outcome_path(out, lab_id)
    return Outcome(**json.loads(path.read_text())) if path.exists() else None


def _write(out: Path, lab_id: str, outcome: Outcome) -> None:
    part = outcome_path(out, lab_id).with_suffix(".part")
    part.write_text(json.dumps(asdict(outcome)))
    part.replace(outcome_path(out, lab_id))  # whole or absent: the test never reads half a file


def healthy(cluster: KubeadmCluster, timeout: float = 420) -> str | None:
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


def lab_cli(state: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """Run the `lab` command of this interpreter's environment with its own state folder."""
    env = {**os.environ, "BREAKFIX_STATE_DIR": str(state)}
    command = [str(Path(sys.executable).parent / "lab"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def run_lane(
    lane: int,
    cluster: KubeadmCluster | str,
    state: Path,
    labs: list[str],
    out: Path,
    record: bool,
    variants: dict[str, int] | None = None,
) -> None:
    """Adopt the lane's cluster, then verify its labs one by one, each followed by a health check.

    CLUSTER is why the lane has none when its bring-up failed: each of its labs then fails with that.
    VARIANTS: how many variants to prove of each lab it names (a lab with variables).
    Once a lab leaves the cluster unhealthy, the lane's later labs are not run: their tests say which lab
    broke the lane rather than failing for a fault that is not theirs."""
    if isinstance(cluster, str):
        for lab_id in labs:
            _write(out, lab_id, Outcome(-1, "", cluster, None, lane))
        return
    state.mkdir(parents=True, exist_ok=True)
    adopted = lab_cli(state, "cluster", "adopt", str(cluster.inventory), "--yes")
    broken_by: str | None = None
    for lab_id in labs:
        if adopted.returncode != 0:
            _write(out, lab_id, Outcome(adopted.returncode, "", adopted.stderr, None, lane))
            continue
        if broken_by is not None:
            why = f"not run: {broken_by} left lane {lane}'s cluster unhealthy"
            _write(out, lab_id, Outcome(-1, "", why, None, lane))
            continue
        try:
            flags = ["--record"] if record else []
            if (variants or {}).get(lab_id, 1) > 1:
                flags += ["--variants", str((variants or {})[lab_id])]
            done = lab_cli(state, "verify", lab_id, "--json", "--settle", "300", "--cheat-window", "45", *flags)
            outcome = Outcome(done.returncode, done.stdout, done.stderr, healthy(cluster), lane)
        except Exception as exc:  # the test of this lab reports it
            outcome = Outcome(-1, "", f"the lane could not verify {lab_id}: {type(exc).__name__}: {exc}", None, lane)
        broken_by = lab_id if outcome.health is not None else None
        _write(out, lab_id, outcome)


def extra_lane(lane: int) -> KubeadmCluster | str:
    """Bring up one more lane's cluster (retried once on fresh nodes), or say why it did not come up."""
    try:
        return bring_up(workers=1)
    except Exception as exc:  # the lane's labs fail with this; the other lanes go on
        return f"lane {lane}'s cluster did not come up, so its labs were not verified: {exc}"


def run(plan: dict[str, Any]) -> None:
    """Run every lane of PLAN to its end, then remove the clusters the lanes brought up."""
    out, state = Path(plan["out"]), Path(plan["state"])
    lanes: list[list[str]] = plan["lanes"]
    extra: list[KubeadmCluster | str] = []
    threads: list[threading.Thread] = []
    try:
        session: KubeadmCluster | str = load_cluster(plan["session_run"])
        for i, labs in enumerate(lanes):
            cluster = session if i == 0 else extra_lane(i)
            if i:
                extra.append(cluster)
            args = (i, cluster, state / f"lane{i}", labs, out, bool(plan.get("record")), plan.get("variants"))
            thread = threading.Thread(target=run_lane, args=args, daemon=True)
            thread.start()  # lane 0 starts its labs while the next lane's cluster comes up
            threads.append(thread)
        for thread in threads:
            thread.join()
    finally:
        for cluster in extra:
            if not isinstance(cluster, str):
                cluster.stop()


def _stop(_signum: int, _frame: object) -> None:
    raise SystemExit("the lanes were stopped; their clusters are removed")


def main(argv: list[str]) -> int:
    """Read the plan file named in ARGV and run it."""
    signal.signal(signal.SIGTERM, _stop)
    run(json.loads(Path(argv[0]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
