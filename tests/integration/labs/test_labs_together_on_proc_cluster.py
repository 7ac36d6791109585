"""Several labs on one real cluster (`lab start A B`): one clock, graded task by task, one reset for all.

A real API server (process control plane + kwok); the labs are svc-wrong-selector (namespace shop) and the
test fixture svc-variant, whose namespace comes from the seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from breakfix.state import State
from tests.integration.labs.test_cli_on_proc_cluster import kube_of, lab

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "labs"
SEED_IN_SHOP = "10"  # svc-variant in namespace shop, beside svc-wrong-selector: they clash
SEED_IN_STORE = "11"  # svc-variant: namespace store, app web, wrong key app.kubernetes.io/name


@pytest.fixture
def cluster(proc_cluster_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(FIXTURES))
    return proc_cluster_factory(name="together")


def fix_selector(cluster: Any, namespace: str, service: str) -> None:
    """A student's fix: the Service selects the app's pods again."""
    patch = json.dumps([{"op": "replace", "path": "/spec/selector", "value": {"app": service}}])
    cluster.kubectl("-n", namespace, "patch", "svc", service, "--type=json", "-p", patch)


def test_two_labs_on_one_cluster(capsys: pytest.CaptureFixture[str], cluster: Any) -> None:
    assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--yes")[0] == 0
    kube = kube_of(cluster)

    code, _, err = lab(capsys, "start", "svc-wrong-selector", "svc-variant", "--seed", SEED_IN_SHOP)
    assert code == 1 and "cannot run together" in err and "namespace shop" in err
    assert kube.get("v1", "Namespace", "shop") is None and State().journal("together") == []
    code, _, err = lab(capsys, "start", "svc-wrong-selector", "--count", "2")
    assert code == 2 and "not both" in err

    code, out, err = lab(capsys, "start", "svc-wrong-selector", "svc-variant", "--seed", SEED_IN_STORE)
    assert code == 0, err
    assert "== 2 labs on together" in out and "-- task 1: svc-wrong-selector" in out and "-- task 2: svc-variant" in out
    assert "namespace `shop`" in out and "namespace `store`" in out
    assert kube.get("v1", "Namespace", "shop") and kube.get("v1", "Namespace", "store")

    code, out, _ = lab(capsys, "status", "--json")
    status = json.loads(out)
    assert [t["lab"] for t in status["tasks"]] == ["svc-wrong-selector", "svc-variant"]
    assert [t["status"] for t in status["tasks"]] == ["active", "active"]
    code, _, err = lab(capsys, "hint")
    assert code == 2 and "--task 1 or 2" in err
    code, out, _ = lab(capsys, "hint", "--task", "2")
    assert code == 0 and out.startswith("hint 1/3:") and "store" in out

    fix_selector(cluster, "store", "web")  # task 2 only
    code, out, _ = lab(capsys, "grade", "--json")
    tasks = json.loads(out)["tasks"]
    assert code == 1 and [t["passed"] for t in tasks] == [False, True]
    assert tasks[1]["score_percent"] == 90.0  # its one hint taken; task 1 took none

    fix_selector(cluster, "shop", "web")
    code, out, _ = lab(capsys, "grade")
    assert code == 0 and "2 of 2 tasks fixed" in out
    code, out, _ = lab(capsys, "status", "--json")
    assert [t["status"] for t in json.loads(out)["tasks"]] == ["solved", "solved"]

    code, out, err = lab(capsys, "reset")
    assert code == 0, err
    for namespace in ("shop", "store"):
        left = kube.get("v1", "Namespace", namespace)
        assert left is None or left["status"]["phase"] == "Terminating"
    assert State().journal("together") == [] and State().open_sessions("together") == []
    code, out, _ = lab(capsys, "status", "--json")
    assert json.loads(out)["status"] == "idle"
