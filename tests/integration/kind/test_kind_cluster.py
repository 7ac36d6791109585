"""`lab cluster up --provider kind` for real: kind from its module, a node image built here, labs verified.

The session's kind cluster (control plane + one worker) comes from the `kind_cluster` fixture, which runs
the `lab` console script; the tests run in file order, except that `lab verify` runs in the background from
`test_verify_on_kind_starts` on: its tests and the one that takes the cluster down are marked
`after_the_rest` and run at the end of the session (tests/conftest.py), while the rest of the suite goes on.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from breakfix.catalog import load_catalog
from breakfix.inventory import load_inventory
from tests.integration.verify_phases import check_phase_order
from tests.polling import eventually
from tests.testbed import dockercli
from tests.testbed.artifacts import binary
from tests.testbed.kind.cluster import KindCluster, lab_command

pytestmark = [pytest.mark.testbed, pytest.mark.slow]


def kubectl(cluster: KindCluster, *args: str, input: str | None = None, check: bool = True) -> str:
    spec = load_inventory(cluster.inventory)
    proc = subprocess.run(
        [str(binary("kubernetes", "kubectl")), "--kubeconfig", str(spec.kubeconfig), *args],
        capture_output=True, text=True, input=input, timeout=120, check=False,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def test_up_makes_a_marked_lab_cluster_with_progress(kind_cluster: KindCluster) -> None:
    out = kind_cluster.up_output
    for step in ("Preparing nodes", "Starting control-plane", "Installing CNI", "Joining worker nodes"):
        assert step in out, f"kind's progress line {step!r} was not passed on:\n{out[-3000:]}"
    assert "marked as a lab cluster and the default" in out
    spec = load_inventory(kind_cluster.inventory)
    assert spec.provider == "kind" and {"static-pods", "multi-node"} <= spec.capabilities
    assert "real-clock" not in spec.capabilities and "swap" not in spec.capabilities
    assert [(n.role, str(n.transport)) for n in spec.nodes] == [
        ("control-plane", f"docker://{kind_cluster.name}-control-plane"),
        ("worker", f"docker://{kind_cluster.name}-worker"),
    ]
    assert spec.images["web"].startswith("breakfix.local/") and spec.pull_policy == "Never"
    server = yaml.safe_load(spec.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]  # type: ignore[union-attr]
    assert server.startswith("https://127.0.0.1:")
    context = f"breakfix-{kind_cluster.name}"
    assert f"added context {context}" in out
    mine = yaml.safe_load((kind_cluster.state_dir / "user-kubeconfig").read_text())
    assert [c["name"] for c in mine["contexts"]] == [context] and mine["current-context"] == context
    assert mine["clusters"][0]["cluster"]["server"] == server


def test_status_reaches_the_api_and_every_node_over_docker(kind_cluster: KindCluster) -> None:
    status = kind_cluster.lab("cluster", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["api"] == "v1.34.4" and data["marked"] is True and data["provider"] == "kind"
    assert all(v.startswith("ok (") and "docker" in v for v in data["nodes"].values()), data["nodes"]


def test_nodes_ready_and_a_service_answers_across_nodes(kind_cluster: KindCluster) -> None:
    spec = load_inventory(kind_cluster.inventory)
    worker = spec.workers[0].name

    def ready() -> bool:
        nodes = json.loads(kubectl(kind_cluster, "get", "nodes", "-o", "json"))["items"]
        conditions = [c for n in nodes for c in n["status"]["conditions"] if c["type"] == "Ready"]
        return len(conditions) == 2 and all(c["status"] == "True" for c in conditions)

    eventually("both kind nodes Ready", ready, timeout=180, interval=2)
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: default, labels: {{app: kind-web}}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {kind_cluster.name}-control-plane}}
  tolerations: [{{operator: Exists}}]
  containers: [{{name: web, image: {spec.images["web"]}, imagePullPolicy: Never}}]
---
apiVersion: v1
kind: Service
metadata: {{name: kind-web, namespace: default}}
spec:
  selector: {{app: kind-web}}
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: default}}
spec:
  nodeSelector: {{kubernetes.io/hostname: {worker}}}
  restartPolicy: Never
  containers:
    - name: client
      image: {spec.images["shell"]}
      imagePullPolicy: Never
      command:
        - sh
        - -c
        - for i in $(seq 60); do timeout 5 wget -qO- http://kind-web && exit 0; sleep 2; done; exit 1
"""
    kubectl(kind_cluster, "apply", "-f", "-", input=manifest)

    def finished() -> str | None:
        phase = json.loads(kubectl(kind_cluster, "get", "pod", "client", "-o", "json"))["status"].get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = eventually("the client pod on the worker to finish", finished, timeout=180, interval=2)
    logs = kubectl(kind_cluster, "logs", "client", check=False)
    assert phase == "Succeeded" and "breakfix web" in logs, logs
    kubectl(kind_cluster, "delete", "pod,service", "web", "client", "kind-web", "--ignore-not-found", "--wait=false")


def test_stop_and_start_bring_the_cluster_back(kind_cluster: KindCluster) -> None:
    """`lab cluster stop` stops every node container; `lab cluster start` waits until all is Ready again, with the
    inventory naming the nodes' addresses as docker gives them now (the labs below are verified on it)."""
    stopped = kind_cluster.lab("cluster", "stop", "--name", kind_cluster.name, timeout=900)
    assert stopped.returncode == 0, stopped.stderr
    assert f"cluster {kind_cluster.name} stopped" in stopped.stdout
    running = dockercli.lines("ps", "--filter", f"label=io.x-k8s.kind.cluster={kind_cluster.name}", "-q")
    assert running == [], "node containers still running after `lab cluster stop`"
    started = kind_cluster.lab("cluster", "start", "--name", kind_cluster.name, timeout=900)
    assert started.returncode == 0, started.stderr + started.stdout
    assert f"cluster {kind_cluster.name} is back: every node Ready" in started.stdout
    for node in load_inventory(kind_cluster.inventory).nodes:
        ip = dockercli.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", node.name)
        assert node.ip == ip.strip(), f"{node.name}: the inventory says {node.ip}, docker {ip.strip()}"
    status = kind_cluster.lab("cluster", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["marked"] is True


ON_KIND = ["svc-wrong-selector", "etcd-datadir"]  # an API-only lab and a node lab (docker exec)


# each lab in turn on the one cluster; its report, progress and exit code in files named after it
VERIFY_EACH = 'lab="$1"; shift; for id in "$@"; do "$lab" verify "$id" --json --settle 300 --cheat-window 45 \
  > "$id.json" 2> "$id.err"; echo $? > "$id.rc"; done'


@dataclass
class Verifying:
    """`lab verify` of the ON_KIND labs, one after the other, running in the background on the kind cluster."""

    process: subprocess.Popen[bytes]
    folder: Path

    def report(self, lab_id: str) -> tuple[int, str, str]:
        """Wait for LAB_ID's turn to end: exit code, stdout (JSON), stderr (progress)."""
        self.process.wait(timeout=3600)
        rc = self.folder / f"{lab_id}.rc"
        if not rc.exists():
            return -1, "", f"lab verify {lab_id} did not run (the background runner exited {self.process.returncode})"
        out, err = (self.folder / f"{lab_id}.json").read_text(), (self.folder / f"{lab_id}.err").read_text()
        return int(rc.read_text()), out, err


@pytest.fixture(scope="session")
def kind_verify(kind_cluster: KindCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verifying]:
    """Start `lab verify` of the ON_KIND labs in the background; the tests that read it run last."""
    folder = tmp_path_factory.mktemp("kind-verify")
    process = subprocess.Popen(
        ["sh", "-c", VERIFY_EACH, "sh", *lab_command(), *ON_KIND],
        cwd=folder, env=kind_cluster.env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield Verifying(process, folder)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_verify_on_kind_starts(kind_verify: Verifying) -> None:
    """The labs are verified in the background from here on; their tests come at the end of the session."""
    assert kind_verify.process.poll() in (None, 0)


@pytest.mark.after_the_rest
@pytest.mark.parametrize("lab_id", ON_KIND)
def test_verify_on_kind(kind_verify: Verifying, lab_id: str) -> None:
    code, out, err = kind_verify.report(lab_id)
    assert out, f"lab verify exited {code} without a report: {err[-3000:]}"
    report = json.loads(out)[lab_id]
    failed = [p for p in report["phases"] if not p["ok"]]
    assert not failed, json.dumps(failed, indent=1)
    check_phase_order([p["phase"] for p in report["phases"]], load_catalog().get(lab_id))
    assert code == 0, err[-3000:]
    print(f"\n{err}")  # verify's progress, for the CI log


@pytest.mark.after_the_rest
def test_another_machine_resets_a_lab_from_the_journal_copy_on_the_node(
    kind_cluster: KindCluster, kind_verify: Verifying, tmp_path: Path
) -> None:
    """The copy of a running lab's journal on the control-plane node: a reset from another state folder."""
    kind_verify.process.wait(timeout=3600)  # the cluster is free again
    started = kind_cluster.lab("start", "svc-wrong-selector", timeout=600)
    assert started.returncode == 0, started.stderr
    node, copy = f"{kind_cluster.name}-control-plane", "/var/lib/breakfix/journal.json.gz"
    assert dockercli.succeeds("exec", node, "test", "-s", copy)
    other = {**kind_cluster.env, "BREAKFIX_STATE_DIR": str(tmp_path / "machine2")}

    def elsewhere(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*lab_command(), *args], env=other, capture_output=True, text=True, timeout=600)

    assert elsewhere("cluster", "adopt", str(kind_cluster.inventory), "--yes").returncode == 0
    refused = elsewhere("reset")
    assert refused.returncode == 1 and "`lab reset --take-over`" in refused.stderr, refused.stderr
    taken = elsewhere("reset", "--take-over")
    assert taken.returncode == 0 and "undone; the cluster is as it was" in taken.stdout, taken.stderr
    assert not dockercli.succeeds("exec", node, "test", "-e", copy)
    assert kind_cluster.lab("-o", "json", "cluster", "status").returncode == 0
    again = kind_cluster.lab("reset")  # the first machine's journal is void now: nothing is replayed
    assert again.returncode == 0 and "was taken over and reset from" in again.stderr, again.stderr
    assert "nothing to undo" in again.stdout


#: two labs that keep to namespaces of their own (one services-networking, one troubleshooting)
MOCK_POOL = ["svc-wrong-selector", "readiness-wrong-path"]


@pytest.mark.after_the_rest
def test_a_mock_exam_of_two_tasks_on_the_one_cluster(kind_cluster: KindCluster, kind_verify: Verifying) -> None:
    """Two labs live at once on real nodes, named by their titles only; one fixed by hand scores 50%; the end
    resets both."""
    kind_verify.process.wait(timeout=3600)  # the cluster is free again
    args = ["--count", "2", "--cluster", kind_cluster.name, "--seed", "7", "--name", "kind-mock"]
    started = kind_cluster.lab("exam", "mock", *args, *(a for lab in MOCK_POOL for a in ("--from", lab)), timeout=1800)
    assert started.returncode == 0, started.stderr
    status = kind_cluster.lab("status", "--json")
    tasks = json.loads(status.stdout)["tasks"]
    assert len(tasks) == 2 and all(t["lab"] is None and t["status"] == "active" for t in tasks)
    graded = kind_cluster.lab("grade", timeout=900)
    assert graded.returncode == 1 and "0 of 2 tasks fixed" in graded.stdout
    for lab_id in MOCK_POOL:  # the student's own commands never name a lab
        assert lab_id not in started.stdout + started.stderr + status.stdout + graded.stdout + graded.stderr

    # a student's fix, by kubectl: the Service selects the app again
    selector = [{"op": "replace", "path": "/spec/selector", "value": {"app": "web"}}]
    kubectl(kind_cluster, "-n", "shop", "patch", "svc", "web", "--type=json", "-p", json.dumps(selector))

    def one_fixed() -> str | None:
        board = kind_cluster.lab("exam", "status", "--grade", timeout=900)
        return board.stdout if "me 50% (1/2 fixed)" in board.stdout else None

    eventually("one of the two tasks to grade as fixed", one_fixed, timeout=300, interval=10)
    ended = kind_cluster.lab("exam", "end", "--json", timeout=1800)
    assert ended.returncode == 0, ended.stderr
    board = json.loads(ended.stdout)
    assert board["results"] == [{"student": "me", "score_percent": 50.0, "passed": False, "tasks_fixed": 1, "tasks": 2}]
    domains = {d["domain"]: d["score_percent"] for d in board["domains"]}
    assert domains == {"troubleshooting": 0.0, "services-networking": 100.0}
    assert sorted(s["lab"] for s in board["students"]) == sorted(MOCK_POOL)
    for namespace in ("shop", "docs"):
        left = kubectl(kind_cluster, "get", "namespace", namespace, "--ignore-not-found", "-o", "name")
        assert not left or "Terminating" in kubectl(kind_cluster, "get", "namespace", namespace, check=False)
    assert json.loads(kind_cluster.lab("status", "--json").stdout)["status"] == "idle"


@pytest.mark.after_the_rest
def test_down_deletes_the_nodes_and_forgets_the_cluster(kind_cluster: KindCluster, kind_verify: Verifying) -> None:
    kind_verify.process.wait(timeout=3600)  # never under a running verify
    assert kind_cluster.containers()
    down = kind_cluster.lab("cluster", "down", "--name", kind_cluster.name, timeout=300)
    assert down.returncode == 0, down.stderr
    assert f"cluster {kind_cluster.name} deleted" in down.stdout
    assert f"removed context breakfix-{kind_cluster.name}" in down.stderr + down.stdout
    assert yaml.safe_load((kind_cluster.state_dir / "user-kubeconfig").read_text())["contexts"] == []
    assert kind_cluster.containers() == []
    listed = kind_cluster.lab("cluster", "list", "--json")
    assert json.loads(listed.stdout) == []
    assert not kind_cluster.inventory.exists()
    assert dockercli.succeeds("network", "inspect", kind_cluster.network)  # kind keeps it; the fixture removes it
