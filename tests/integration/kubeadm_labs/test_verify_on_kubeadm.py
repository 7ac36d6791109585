"""`lab verify` on a real kubeadm cluster: break -> grade fails, cheats fail, the fix passes, reset is clean."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from breakfix.catalog import load_catalog
from breakfix.cli.main import main
from breakfix.errors import ClusterError
from breakfix.inventory import load_inventory
from breakfix.kube import KubeClient
from tests.testbed.kubeadm.cluster import CAPABILITIES


def lab(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def healthy(cluster: Any, timeout: float = 240) -> None:
    """Within TIMEOUT: every node Ready and every kube-system pod Running, the cluster as it was."""
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
            phases = {p["metadata"]["name"]: p["status"]["phase"] for p in kube.list("v1", "Pod", "kube-system")}
            problem = (
                None
                if ready == {"cp1": True, "w1": True} and all(v == "Running" for v in phases.values())
                else f"nodes {ready}, pods {phases}"
            )
        except ClusterError as exc:
            problem = str(exc)
        if problem is None:
            return
        assert time.monotonic() < deadline, problem
        time.sleep(5)


RUNNABLE = sorted(lab.id for lab in load_catalog().labs.values() if set(lab.spec.requires) <= set(CAPABILITIES))


def test_every_lab_that_needs_no_vm_is_verified_here() -> None:
    """Only labs that need a real clock, swap or a NetworkPolicy CNI (a VM) may be left out."""
    left_out = {lab.id: lab.spec.requires for lab in load_catalog().labs.values() if lab.id not in RUNNABLE}
    assert all(set(req) & {"real-clock", "swap", "netpol-cni"} for req in left_out.values()), left_out


@pytest.mark.parametrize("lab_id", RUNNABLE)
def test_verify(capsys: pytest.CaptureFixture[str], kubeadm_cluster: Any, lab_id: str) -> None:
    assert lab(capsys, "cluster", "adopt", str(kubeadm_cluster.inventory), "--yes")[0] == 0
    code, out, err = lab(capsys, "verify", lab_id, "--json", "--settle", "300", "--cheat-window", "45")
    assert out, f"lab verify exited {code} without a report: {err[-3000:]}"
    result = json.loads(out)[lab_id]
    failed = [p for p in result["phases"] if not p["ok"]]
    assert code == 0 and not failed, json.dumps(failed, indent=1)
    names = [p["phase"] for p in result["phases"]]
    assert names[:2] == ["break", "grade-after-break"] and names[-2:] == ["solve", "reset"]
    assert names[2:-2] == [f"cheat:{name}" for name in load_catalog().get(lab_id).cheats]
    healthy(kubeadm_cluster)
    with capsys.disabled():
        print(f"\n{err}")  # verify's progress, for the CI log
