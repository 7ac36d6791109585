"""The whole student cycle through the `lab` command, on a real API server (process control plane + kwok)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from breakfix.cli.main import main
from breakfix.kube import KubeClient
from breakfix.results import HELD_BACK
from breakfix.state import State
from tests.integration.verify_phases import QUICK_VERIFY


def lab(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cluster(proc_cluster_factory: Any) -> Any:
    return proc_cluster_factory(name="cli")


def kube_of(cluster: Any) -> KubeClient:
    return KubeClient(Path(cluster.kubeconfig), None)


def test_unmarked_cluster_is_never_broken(capsys: pytest.CaptureFixture[str], cluster: Any) -> None:
    State().add_cluster("cli", str(cluster.inventory), "testbed-proc", "not-adopted")
    code, _, err = lab(capsys, "start", "svc-wrong-selector")
    assert code == 1 and "no breakfix marker" in err
    assert kube_of(cluster).get("v1", "Namespace", "shop") is None
    assert State().journal("cli") == []


def test_student_cycle(capsys: pytest.CaptureFixture[str], cluster: Any, tmp_path: Path) -> None:
    assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--yes")[0] == 0
    code, out, _ = lab(capsys, "cluster", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["marked"] is True and status["api"].startswith("v1.34")

    code, out, err = lab(capsys, "start", "svc-wrong-selector")
    assert code == 0, err
    assert "namespace `shop`" in out and "confirming the fault is live" in err
    kube = kube_of(cluster)
    assert kube.get("v1", "Service", "web", "shop")["spec"]["selector"] == {"app.kubernetes.io/name": "web"}

    code, out, _ = lab(capsys, "status", "--json")
    assert json.loads(out)["status"] == "active" and json.loads(out)["lab"] == "svc-wrong-selector"
    code, out, _ = lab(capsys, "hint")
    assert code == 0 and out.startswith("hint 1/3:")

    junit = tmp_path / "grade.xml"
    code, out, _ = lab(capsys, "grade", "--json", "--junit", str(junit))
    report = json.loads(out)
    assert code == 1 and not report["passed"]
    assert [c["status"] for c in report["checks"]] == ["fail", "pass", "pass"] + ["pass"] * 4  # + the engine's guard
    assert report["checks"][0]["message"] == HELD_BACK  # "no endpoints" would name the fault: held back while it lasts
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"

    # a too-wide selector is not a fix
    cluster.kubectl(
        "-n",
        "shop",
        "patch",
        "svc",
        "web",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/selector","value":{"tier":"web"}}]',
    )
    code, out, _ = lab(capsys, "grade", "--json")
    assert code == 1 and json.loads(out)["checks"][0]["status"] == "fail"  # the endpoints still do not match
    assert json.loads(out)["checks"][0]["message"] == HELD_BACK

    # the real fix
    cluster.kubectl(
        "-n",
        "shop",
        "patch",
        "svc",
        "web",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/selector","value":{"app":"web"}}]',
    )
    code, out, _ = lab(capsys, "grade", "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] and report["score"] == report["max_score"] == 4 + 4
    assert report["score_percent"] == 90.0  # one hint taken

    code, out, _ = lab(capsys, "reset")
    assert code == 0 and "undone" in out
    assert kube.get("v1", "Namespace", "shop") is None
    assert State().journal(cluster.name) == []
    code, out, _ = lab(capsys, "status", "--json")
    assert json.loads(out)["status"] == "idle"


def test_reset_puts_back_what_the_student_changed_beside_the_lab(
    capsys: pytest.CaptureFixture[str], cluster: Any
) -> None:
    kube = kube_of(cluster)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "team", "namespace": "default"},
            "data": {"a": "1"},
        }
    )
    assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--yes")[0] == 0
    code, _, err = lab(capsys, "start", "svc-wrong-selector")
    assert code == 0, err
    # a hurried student: edits a ConfigMap the lab never touched, widens RBAC, leaves a namespace behind
    cluster.kubectl("-n", "default", "patch", "configmap", "team", "--type=merge", "-p", '{"data":{"a":"2"}}')
    cluster.kubectl("create", "clusterrolebinding", "shop-edit", "--clusterrole=edit", "--serviceaccount=shop:default")
    cluster.kubectl("create", "namespace", "scratch")
    code, _, err = lab(capsys, "reset")
    assert code == 0, err
    assert "put back ConfigMap default/team (changed during the lab)" in err
    assert "removed ClusterRoleBinding shop-edit (created during the lab)" in err
    assert "removed namespace scratch (created during the lab)" in err
    assert kube.get("v1", "ConfigMap", "team", "default")["data"] == {"a": "1"}
    assert kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "shop-edit") is None
    scratch = kube.get("v1", "Namespace", "scratch")
    assert scratch is None or scratch["status"]["phase"] == "Terminating"


def test_verify_svc_wrong_selector(capsys: pytest.CaptureFixture[str], cluster: Any) -> None:
    assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--yes")[0] == 0
    code, out, err = lab(
        capsys,
        "verify",
        "svc-wrong-selector",
        *QUICK_VERIFY,
    )
    result = json.loads(out)["svc-wrong-selector"]
    assert code == 0, err
    assert [(p["phase"], p["ok"]) for p in result["phases"]] == [
        ("break", True),
        ("grade-after-break", True),
        ("cheat:relabel-pods", True),
        ("cheat:select-by-tier", True),
        ("cheat:hand-endpoints", True),  # no selector, Endpoints and an EndpointSlice written by hand
        *(
            (f"bypass:{b}:Deployment/shop/{d}", True)
            for d in ("web", "web-canary")
            for b in ("scale-to-zero", "no-probes")
        ),
        ("bypass:hand-endpoints:Service/shop/web", True),  # routed by hand to the pods it selected before
        ("bypass:hand-slice:Service/shop/web", True),
        ("alternative:both-labels", True),
        ("solve", True),
        *((f"bypass:renamed:Deployment/shop/{d}", True) for d in ("web", "web-canary")),  # on the fixed cluster
        ("reset", True),
    ]
    assert kube_of(cluster).get("v1", "Namespace", "shop") is None


def test_unreachable_cluster_says_what_was_tried(
    capsys: pytest.CaptureFixture[str], cluster: Any, tmp_path: Path
) -> None:
    import shutil

    import yaml

    # keep a copy of the cluster's description: stopping the cluster removes its folder
    shutil.copy(cluster.kubeconfig, tmp_path / "kubeconfig")
    inventory = yaml.safe_load(Path(cluster.inventory).read_text())
    inventory["all"]["vars"]["breakfix_kubeconfig"] = "kubeconfig"
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    assert lab(capsys, "cluster", "adopt", str(tmp_path / "inventory.yaml"), "--yes")[0] == 0
    cluster.stop()
    for command in (["start", "svc-wrong-selector"], ["cluster", "status"]):
        code, out, err = lab(capsys, *command)
        assert "cannot reach the API server at " + cluster.server in err + out, (command, out, err)
    assert code == 3  # status reports every part, then exits 3: the API server cannot be reached


def test_reset_from_another_machine_takes_the_lab_over(
    capsys: pytest.CaptureFixture[str], cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's copy on the cluster: a second machine (or this one after its store was lost) resets."""
    assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--yes")[0] == 0
    code, _, err = lab(capsys, "start", "svc-wrong-selector")
    assert code == 0, err
    kube = kube_of(cluster)
    copy = kube.get("v1", "ConfigMap", "breakfix-journal", "kube-system")
    assert copy is not None and copy["binaryData"]["journal.json.gz"]
    monkeypatch.setenv("BREAKFIX_STATE_DIR", str(tmp_path / "machine2"))  # another machine's store
    assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--yes")[0] == 0
    code, out, err = lab(capsys, "reset")
    assert code == 1 and "lab svc-wrong-selector was started on" in err and "`lab reset --take-over`" in err
    assert kube.get("v1", "Namespace", "shop") is not None  # not without asking
    code, out, err = lab(capsys, "reset", "--take-over")
    assert code == 0, err
    assert "putting back the" in err and "undone; the cluster is as it was" in out
    shop = kube.get("v1", "Namespace", "shop")
    assert shop is None or shop["status"]["phase"] == "Terminating"
    assert kube.get("v1", "ConfigMap", "breakfix-journal", "kube-system") is None
    code, _, err = lab(capsys, "start", "svc-wrong-selector")  # the lease was taken over and freed
    assert code == 0, err
    assert lab(capsys, "reset")[0] == 0
