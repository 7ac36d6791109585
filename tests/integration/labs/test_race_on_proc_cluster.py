"""Two `lab start` processes racing on one real API server: one wins, the other is refused in one line, and reset
puts the cluster back; from a second machine (another state folder) the cluster's lease refuses the loser too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from breakfix.state import State
from tests.integration.labs.test_cli_on_proc_cluster import kube_of, lab

pytestmark = pytest.mark.timeout(600)


def race(env_of: list[dict[str, str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start `lab start svc-wrong-selector` once per environment, all at the same moment; their results."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "breakfix", "start", "svc-wrong-selector"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env in env_of
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=400)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def judge(results: list[subprocess.CompletedProcess[str]]) -> subprocess.CompletedProcess[str]:
    """Exactly one start won; the loser said why in one line, without a traceback. The loser."""
    codes = sorted(r.returncode for r in results)
    assert codes[0] == 0 and codes[1] != 0, [(r.returncode, r.stderr[-400:]) for r in results]
    loser = next(r for r in results if r.returncode != 0)
    assert "Traceback" not in loser.stderr and loser.stderr.strip(), loser.stderr
    return loser


def test_two_starts_on_one_machine_and_from_two_machines(
    capsys: pytest.CaptureFixture[str], proc_cluster: Any, tmp_path: Path
) -> None:
    assert lab(capsys, "cluster", "adopt", str(proc_cluster.inventory), "--name", "race", "--yes")[0] == 0
    env = {**os.environ, "BREAKFIX_CLUSTER": "race"}

    # one machine, two terminals
    judge(race([env, env]))
    assert len([s for s in State().sessions("race") if s.status == "active"]) == 1
    svc = kube_of(proc_cluster).get("v1", "Service", "web", "shop")
    assert svc is not None and svc["spec"]["selector"] == {"app.kubernetes.io/name": "web"}  # the winner's break
    assert lab(capsys, "--cluster", "race", "reset")[0] == 0
    assert kube_of(proc_cluster).get("v1", "Namespace", "shop") is None and State().journal("race") == []

    # two machines (two state folders) adopt the same cluster and start at once: the cluster's lease decides
    other = tmp_path / "other-machine"
    other.mkdir()
    env2 = {**env, "BREAKFIX_STATE_DIR": str(other)}
    adopt = subprocess.run(
        [sys.executable, "-m", "breakfix", "cluster", "adopt", str(proc_cluster.inventory), "--name", "race", "--yes"],
        env=env2,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert adopt.returncode == 0, adopt.stderr
    results = race([env, env2])
    loser = judge(results)
    winner_env = env if results[0].returncode == 0 else env2
    refusal = [line for line in loser.stderr.splitlines() if line.startswith("lab: ")]
    # the lease was either written first by the winner ("in use") or both wrote at once ("taken at the same moment")
    assert len(refusal) == 1 and "lab svc-wrong-selector" in refusal[0] and "lab reset" in refusal[0], refusal
    assert "is in use:" in refusal[0] or "was taken at the same moment:" in refusal[0]
    reset = subprocess.run(
        [sys.executable, "-m", "breakfix", "reset"], env=winner_env, capture_output=True, text=True, timeout=300
    )
    assert reset.returncode == 0, reset.stderr
    assert kube_of(proc_cluster).get("v1", "Namespace", "shop") is None
