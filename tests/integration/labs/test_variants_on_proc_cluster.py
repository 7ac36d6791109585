"""A lab with variables on a real API server (process control plane + kwok): its seed decides what breaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from breakfix.catalog import load_lab
from breakfix.cli.main import main
from breakfix.kube import KubeClient
from breakfix.state import State
from tests.integration.verify_phases import QUICK_VERIFY

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "labs"


def lab(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_seed_gives_its_own_lab_and_verify_proves_a_variant(
    capsys: pytest.CaptureFixture[str], proc_cluster_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(FIXTURES))
    cluster = proc_cluster_factory(name="variants")
    assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--yes")[0] == 0
    kube = KubeClient(Path(cluster.kubeconfig), None)
    written = load_lab(FIXTURES / "svc-variant" / "lab.yaml")
    seed = next(s for s in range(100) if written.variant(s).values["namespace"] != "shop")
    values = written.variant(seed).values
    ns, app = str(values["namespace"]), str(values["app"])

    code, out, err = lab(capsys, "start", "svc-variant", "--seed", str(seed))
    assert code == 0, err
    assert f"namespace `{ns}`" in out and f"--seed {seed}" in out
    service = kube.get("v1", "Service", app, ns)
    assert service is not None and service["spec"]["selector"] == {values["wrong_key"]: app}
    assert service["spec"]["ports"][0]["port"] == values["port"]
    assert kube.get("apps/v1", "Deployment", app, ns)["spec"]["replicas"] == values["replicas"]  # type: ignore[index]
    assert kube.get("apps/v1", "Deployment", str(values["canary"]), ns) is not None
    code, out, _ = lab(capsys, "status", "--json")
    assert json.loads(out)["seed"] == seed
    code, out, _ = lab(capsys, "hint")
    assert f"kubectl -n {ns} get endpointslices" in out

    code, out, _ = lab(capsys, "grade", "--json")
    assert code == 1 and not json.loads(out)["passed"]
    cluster.kubectl(
        "-n", ns, "patch", "svc", app, "--type=json", "-p",
        json.dumps([{"op": "replace", "path": "/spec/selector", "value": {"app": app}}]),
    )  # fmt: skip
    code, out, _ = lab(capsys, "grade", "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"], report
    assert report["checks"][0]["name"] == f"{app} routes to the {app} pods only"
    assert lab(capsys, "reset")[0] == 0
    assert kube.get("v1", "Namespace", ns) is None and State().journal(cluster.name) == []

    other = next(s for s in range(seed + 1, 200) if written.variant(s).values["namespace"] != ns)
    code, out, err = lab(
        capsys,
        "verify",
        "svc-variant",
        "--seed",
        str(other),
        *QUICK_VERIFY,
    )
    assert code == 0, err
    result = json.loads(out)["svc-variant"]
    assert [v["seed"] for v in result["variants"]] == [other] and result["ok"]
    assert f"verify svc-variant --seed {other}:" in err and "values: namespace=" in err
    drawn = written.variant(other).values
    where = f"Deployment/{drawn['namespace']}"
    bypasses = [
        f"{b}:{where}/{d}"
        for d in sorted([str(drawn["app"]), str(drawn["canary"])])
        for b in ("scale-to-zero", "no-probes")
    ]
    bypasses += [f"{b}:Service/{drawn['namespace']}/{drawn['app']}" for b in ("hand-endpoints", "hand-slice")]
    renamed = [f"renamed:{where}/{d}" for d in sorted([str(drawn["app"]), str(drawn["canary"])])]
    assert [p["phase"] for p in result["phases"]] == [
        "break",
        "grade-after-break",
        "cheat:relabel-pods",
        "cheat:select-by-tier",
        *(f"bypass:{b}" for b in bypasses),
        "alternative:both-labels",
        "solve",
        *(f"bypass:{b}" for b in renamed),
        "reset",
    ]
    assert kube.get("v1", "Namespace", str(written.variant(other).values["namespace"])) is None
