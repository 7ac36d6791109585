"""Control-plane graders and breakers (probes that pass, NodeRestriction, CSRs signed), on refusing fakes."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from breakers import control_plane as cp_breakers
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.inventory import ClusterSpec
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders import control_plane
from tests.fakes import FakeKube, FakeTransport, Unexpected
from tests.unit.contexts import make_ctx
from tests.unit.test_pki import cluster_for, make_ca, pem

SCHEDULER = "/etc/kubernetes/manifests/kube-scheduler.yaml"


def scheduler_manifest(**container: Any) -> bytes:
    probe = {"httpGet": {"host": "127.0.0.1", "path": "/livez", "port": "probe-port", "scheme": "HTTPS"}}
    box: dict[str, Any] = {
        "name": "kube-scheduler",
        "command": ["kube-scheduler", "--bind-address=127.0.0.1"],
        "ports": [{"containerPort": 10259, "hostPort": 10259, "name": "probe-port", "protocol": "TCP"}],
        "livenessProbe": probe,
        "readinessProbe": {"httpGet": {**probe["httpGet"], "path": "/readyz"}},
        "startupProbe": probe,
    }
    box.update(container)
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": {"hostNetwork": True, "containers": [box]}}
    return yaml.safe_dump(pod).encode()


def cp_node(t: FakeTransport) -> Node:
    return Node("cp1", "control-plane", t, "10.0.0.2")


# probes ------------------------------------------------------------------------------------------


def test_probes_pass_tries_each_probe_at_the_named_port() -> None:
    t = FakeTransport({SCHEDULER: scheduler_manifest()})
    t.expect(r"curl .*'https://127\.0\.0\.1:10259/(livez|readyz)'", stdout="200")
    result = control_plane.probes_pass(cp_node(t), "kube-scheduler")
    assert result.ok, result.message
    assert len([c for c in t.log if c.startswith("curl")]) == 3


def test_probes_pass_fails_when_nothing_serves_the_probed_port() -> None:
    t = FakeTransport({SCHEDULER: scheduler_manifest()})
    t.expect(r"curl .*:10259/.*", rc=7, stdout="000")
    result = control_plane.probes_pass(cp_node(t), "kube-scheduler")
    assert result.status == "fail" and "livenessProbe" in result.message and "no answer" in result.message


def test_probes_pass_fails_on_an_error_status_and_on_removed_probes() -> None:
    t = FakeTransport({SCHEDULER: scheduler_manifest()})
    t.expect(r"curl .*/livez'", stdout="200")
    t.expect(r"curl .*/readyz'", rc=0, stdout="500")
    result = control_plane.probes_pass(cp_node(t), "kube-scheduler")
    assert result.status == "fail" and "readinessProbe" in result.message and "HTTP 500" in result.message
    bare = FakeTransport({SCHEDULER: scheduler_manifest(livenessProbe=None, readinessProbe=None)})
    result = control_plane.probes_pass(cp_node(bare), "kube-scheduler")
    assert result.status == "fail" and "lost its livenessProbe and readinessProbe" in result.message


def test_probes_pass_refuses_a_probe_that_tests_nothing() -> None:
    t = FakeTransport({SCHEDULER: scheduler_manifest(livenessProbe={"exec": {"command": ["true"]}})})
    t.expect(r"curl .*", stdout="200")
    result = control_plane.probes_pass(cp_node(t), "kube-scheduler")
    assert result.status == "fail" and "no HTTP or TCP check" in result.message


def test_probes_pass_uses_the_node_address_and_tcp() -> None:
    box = {"livenessProbe": {"tcpSocket": {"port": 2381}}, "readinessProbe": {"httpGet": {"port": 2381}}}
    t = FakeTransport({SCHEDULER: scheduler_manifest(**box, startupProbe=None)})
    t.expect(r"timeout 5 bash -c 'exec 3<>/dev/tcp/10\.0\.0\.2/2381' && echo 200", stdout="200")
    t.expect(r"curl .*'http://10\.0\.0\.2:2381/'", stdout="200")
    assert control_plane.probes_pass(cp_node(t), "kube-scheduler").ok


def test_set_probe_port_renumbers_the_named_port_and_undo_puts_it_back() -> None:
    t = FakeTransport({SCHEDULER: scheduler_manifest()})
    ctx = make_ctx(t)
    cp_breakers.set_probe_port(ctx.node("cp1"), ChangeLog(ctx, "break"), "kube-scheduler", 10260)
    box = yaml.safe_load(t.files[SCHEDULER])["spec"]["containers"][0]
    assert box["ports"][0]["containerPort"] == 10260 and box["ports"][0]["hostPort"] == 10260
    assert box["livenessProbe"]["httpGet"]["port"] == "probe-port"
    replay(ctx)
    assert t.files[SCHEDULER] == scheduler_manifest()


def test_set_probe_port_replaces_numbers_and_needs_a_probe() -> None:
    numbered = {"livenessProbe": {"httpGet": {"port": 10259}}, "readinessProbe": None, "startupProbe": None}
    t = FakeTransport({SCHEDULER: scheduler_manifest(**numbered)})
    ctx = make_ctx(t)
    cp_breakers.set_probe_port(ctx.node("cp1"), ChangeLog(ctx, "break"), "kube-scheduler", 10260)
    assert yaml.safe_load(t.files[SCHEDULER])["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] == 10260
    none = FakeTransport({SCHEDULER: scheduler_manifest(livenessProbe=None, readinessProbe=None, startupProbe=None)})
    ctx = make_ctx(none)
    with pytest.raises(StepError, match="no HTTP or TCP probe"):
        cp_breakers.set_probe_port(ctx.node("cp1"), ChangeLog(ctx, "break"), "kube-scheduler", 10260)


def test_remove_probes_is_journaled() -> None:
    t = FakeTransport({SCHEDULER: scheduler_manifest()})
    ctx = make_ctx(t)
    cp_breakers.remove_probes(ctx.node("cp1"), ChangeLog(ctx, "cheat"), "kube-scheduler")
    box = yaml.safe_load(t.files[SCHEDULER])["spec"]["containers"][0]
    assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(box)
    replay(ctx)
    assert t.files[SCHEDULER] == scheduler_manifest()


def test_wait_restarted_waits_for_the_processes_that_ran_before() -> None:
    t = FakeTransport({SCHEDULER: scheduler_manifest()})
    t.expect(r"pgrep -f -- '\^kube-scheduler\( \|\$\)'", stdout="41\n42\n")
    t.expect(r"i=0; while kill -0 41 42 2>/dev/null; .*", rc=0)
    cp_breakers.wait_restarted(cp_node(t), "kube-scheduler", timeout=5)
    stuck = FakeTransport({SCHEDULER: scheduler_manifest()})
    stuck.expect(r"pgrep .*", stdout="41\n")
    stuck.expect(r"i=0; while kill -0 41 .*", rc=1)
    with pytest.raises(StepError, match="still runs"):
        cp_breakers.wait_restarted(cp_node(stuck), "kube-scheduler", timeout=5)
    gone = FakeTransport({SCHEDULER: scheduler_manifest()})
    gone.expect(r"pgrep .*", rc=1)
    cp_breakers.wait_restarted(cp_node(gone), "kube-scheduler")  # nothing to wait for


# NodeRestriction -----------------------------------------------------------------------------------

KUBELET_CONF = yaml.safe_dump(
    {
        "users": [
            {
                "name": "default-auth",
                "user": {
                    "client-certificate": "/var/lib/kubelet/pki/kubelet-client-current.pem",
                    "client-key": "/var/lib/kubelet/pki/kubelet-client-current.pem",
                },
            }
        ]
    }
).encode()


def kubelet_nodes() -> tuple[Node, list[Node]]:
    t = FakeTransport(
        {control_plane.KUBELET_KUBECONFIG: KUBELET_CONF, "/var/lib/kubelet/pki/kubelet-client-current.pem": b"PEM"}
    )
    w1 = Node("w1", "worker", t, "10.0.0.3")
    return w1, [Node("cp1", "control-plane", FakeTransport(), "10.0.0.2"), w1]


def answers(monkeypatch: pytest.MonkeyPatch, table: dict[str, tuple[int, str]]) -> list[tuple[str, str, Any]]:
    calls: list[tuple[str, str, Any]] = []

    def fake(
        _cluster: ClusterSpec, cert: bytes, key: bytes, method: str, path: str, body: Any = None, timeout: float = 15
    ) -> tuple[int, str]:
        calls.append((method, path, body))
        for prefix, answer in table.items():
            if path.startswith(prefix):
                return answer
        raise Unexpected(f"unexpected request {method} {path}")

    monkeypatch.setattr(control_plane, "_api_request", fake)
    return calls


CLUSTER = ClusterSpec("t", "inventory", Path("/dev/null"), (), None, None, frozenset())
FORBIDDEN = json.dumps({"message": 'nodes "cp1" is forbidden: node "w1" is not allowed to modify node "cp1"'})


def test_node_restriction_enforced_when_a_kubelet_cannot_change_another_node(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = answers(monkeypatch, {"/api/v1/nodes/w1": (200, "{}"), "/api/v1/nodes/cp1": (403, FORBIDDEN)})
    w1, nodes = kubelet_nodes()
    result = control_plane.node_restriction_enforced(w1, nodes, CLUSTER)
    assert result.ok, result.message
    assert all(path.endswith("?dryRun=All") and method == "PATCH" for method, path, _ in calls)  # nothing stored


def test_node_restriction_lost_when_a_kubelet_may_change_another_node(monkeypatch: pytest.MonkeyPatch) -> None:
    answers(monkeypatch, {"/api/v1/nodes/": (200, "{}")})
    w1, nodes = kubelet_nodes()
    result = control_plane.node_restriction_enforced(w1, nodes, CLUSTER)
    assert result.status == "fail" and "may change node cp1" in result.message


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"/api/v1/nodes/w1": (401, "{}")}, "cannot change its own Node object"),
        ({"/api/v1/nodes/w1": (200, "{}"), "/api/v1/nodes/cp1": (403, '{"message": "RBAC: denied"}')}, "unexpected"),
    ],
)
def test_node_restriction_is_an_error_when_the_credentials_prove_nothing(
    monkeypatch: pytest.MonkeyPatch, table: dict[str, tuple[int, str]], words: str
) -> None:
    answers(monkeypatch, table)
    w1, nodes = kubelet_nodes()
    result = control_plane.node_restriction_enforced(w1, nodes, CLUSTER)
    assert result.status == "error" and words in result.message


# certificate signing requests ---------------------------------------------------------------------------


class CsrKube(FakeKube):
    """An API server whose signer, once a CSR is approved, issues what SIGN makes of it (or nothing)."""

    def __init__(self, sign: Any) -> None:
        super().__init__({"CertificateSigningRequest"})
        self.sign = sign
        self.approved: list[str] = []

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        obj = super().get(api_version, kind, name, namespace)
        if obj is not None and name in self.approved and self.sign is not None:
            request = x509.load_pem_x509_csr(base64.b64decode(obj["spec"]["request"]))
            obj["status"] = {"certificate": base64.b64encode(self.sign(request)).decode()}
        return obj


def signer(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> Any:
    def sign(request: x509.CertificateSigningRequest) -> bytes:
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(ca.subject)
            .public_key(request.public_key())
            .serial_number(7)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(hours=1))
            .sign(ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    return sign


def csr_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sign: Any, login: tuple[int, str] | None = None
) -> tuple[CsrKube, ClusterSpec]:
    ca, _key = make_ca()
    kube = CsrKube(sign)
    monkeypatch.setattr(control_plane, "APPROVE", [lambda _cluster, name: kube.approved.append(name)])

    def fake(
        _cluster: ClusterSpec, cert: bytes, key: bytes, method: str, path: str, body: Any = None, timeout: float = 15
    ) -> tuple[int, str]:
        assert method == "POST" and path.endswith("/selfsubjectreviews")
        user = x509.load_pem_x509_certificate(cert).subject.rfc4514_string().removeprefix("CN=")
        return login or (201, json.dumps({"status": {"userInfo": {"username": user}}}))

    monkeypatch.setattr(control_plane, "_api_request", fake)
    return kube, cluster_for(6443, pem(ca), tmp_path)


def test_csr_signed_by_the_cluster_ca_passes_and_the_probe_is_deleted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca, ca_key = make_ca()
    kube, _ = csr_setup(monkeypatch, tmp_path, signer(ca, ca_key))
    cluster = cluster_for(6443, pem(ca), tmp_path)
    result = control_plane.csr_signed(kube, cluster, wait_for=5)
    assert result.ok, result.message
    assert kube.approved and not kube.objects  # approved, then cleaned up
    assert "create CertificateSigningRequest" in kube.calls


def test_csr_never_issued_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kube, cluster = csr_setup(monkeypatch, tmp_path, None)
    monkeypatch.setattr(control_plane.time, "sleep", lambda _s: None)
    result = control_plane.csr_signed(kube, cluster, wait_for=0.05)
    assert result.status == "fail" and "got no certificate" in result.message
    assert not kube.objects


def test_csr_signed_by_another_ca_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other, other_key = make_ca()
    kube, cluster = csr_setup(monkeypatch, tmp_path, signer(other, other_key))
    result = control_plane.csr_signed(kube, cluster, wait_for=5)
    assert result.status == "fail" and "not by the cluster CA" in result.message


def test_csr_certificate_that_does_not_log_in_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca, ca_key = make_ca()
    kube, _ = csr_setup(monkeypatch, tmp_path, signer(ca, ca_key), login=(401, '{"message": "Unauthorized"}'))
    result = control_plane.csr_signed(kube, cluster_for(6443, pem(ca), tmp_path), wait_for=5)
    assert result.status == "fail" and "does not log in" in result.message and "Unauthorized" in result.message


def test_csr_probe_is_an_error_when_the_api_refuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kube, cluster = csr_setup(monkeypatch, tmp_path, None)
    kube.down = True
    assert control_plane.csr_signed(kube, cluster, wait_for=1).status == "error"


# etcd on its real data ---------------------------------------------------------------------------------

ETCD = "/etc/kubernetes/manifests/etcd.yaml"


def etcd_manifest(host: str = "/var/lib/etcd") -> bytes:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {
            "containers": [
                {
                    "name": "etcd",
                    "command": ["etcd", "--data-dir=/var/lib/etcd"],
                    "volumeMounts": [{"mountPath": "/var/lib/etcd", "name": "etcd-data"}],
                }
            ],
            "volumes": [{"hostPath": {"path": host, "type": "DirectoryOrCreate"}, "name": "etcd-data"}],
        },
    }
    return yaml.safe_dump(pod).encode()


def test_wait_on_volume_compares_the_process_view_with_the_host_folder() -> None:
    t = FakeTransport({ETCD: etcd_manifest()})
    t.expect(
        r"want=\$\(stat -L -c %d:%i /var/lib/etcd\) \|\| exit 1; .*pgrep -f -- '\^etcd\( \|\$\)'.*"
        r"/proc/\$p/root/var/lib/etcd .*",
        rc=0,
    )
    cp_breakers.wait_on_volume(cp_node(t), "etcd", "etcd-data", timeout=5)
    never = FakeTransport({ETCD: etcd_manifest()})
    never.expect(r"want=.*", rc=1)
    with pytest.raises(StepError, match="no etcd runs on /var/lib/etcd"):
        cp_breakers.wait_on_volume(cp_node(never), "etcd", "etcd-data", timeout=5)
    with pytest.raises(StepError, match="no hostPath volume 'nope'"):
        cp_breakers.wait_on_volume(cp_node(never), "etcd", "nope")


def test_wait_on_volume_on_reset_waits_for_the_folder_of_before_the_break() -> None:
    t = FakeTransport({ETCD: etcd_manifest()})
    t.expect("true")
    ctx = make_ctx(t)
    changes = ChangeLog(ctx, "break")
    cp_breakers.wait_on_volume_on_reset(ctx.node("cp1"), changes, "etcd", "etcd-data")
    from breakers import manifest

    manifest.set_volume_path(ctx.node("cp1"), changes, "etcd", "etcd-data", "/var/lib/etcd-ssd")
    t.expect(r"want=\$\(stat -L -c %d:%i /var/lib/etcd\) .*", rc=0)  # the real folder, not the moved one
    replay(ctx)
    assert t.files[ETCD] == etcd_manifest()
    assert t.log[-1].startswith("want=$(stat -L -c %d:%i /var/lib/etcd)")


# a unit that must stay down, and the port squatter -------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "enabled", "status", "words"),
    [
        ("inactive", "disabled", "pass", "does not start at boot (disabled)"),
        ("inactive", "masked", "pass", "(masked)"),
        ("inactive", "", "pass", "no such unit"),
        ("active", "disabled", "fail", "still runs"),
        ("inactive", "enabled", "fail", "starts again at the next boot"),
        ("failed", "enabled-runtime", "fail", "starts again at the next boot"),
    ],
)
def test_unit_stays_down(active: str, enabled: str, status: str, words: str) -> None:
    t = FakeTransport()
    t.expect("systemctl is-active relay", rc=0 if active == "active" else 3, stdout=active + "\n")
    t.expect("systemctl is-enabled relay", rc=0 if enabled.startswith("enabled") else 1, stdout=enabled + "\n")
    result = control_plane.unit_stays_down(cp_node(t), "relay")
    assert result.status == status and words in result.message, result.message


def test_squat_port_installs_a_unit_and_undo_removes_it_whatever_became_of_it() -> None:
    from breakers import processes

    t = FakeTransport()
    t.expect(r"true")
    t.expect(r"systemctl daemon-reload && systemctl enable --now relay\.service")
    ctx = make_ctx(t)
    processes.squat_port(ctx.node("cp1"), ChangeLog(ctx, "break"), "relay", 6443)
    assert "PORT = 6443" in t.files["/usr/local/bin/relay"].decode()
    assert t.stats["/usr/local/bin/relay"].mode == 0o755
    unit = t.files["/etc/systemd/system/relay.service"].decode()
    assert "ExecStart=/usr/bin/python3 /usr/local/bin/relay" in unit and "WantedBy=multi-user.target" in unit
    del t.files["/etc/systemd/system/relay.service"]  # the student removed it: undo must still go through
    t.expect(r"systemctl unmask relay\.service .*disable --now relay\.service.*; true")
    t.expect(r"systemctl daemon-reload")
    replay(ctx)
    assert not t.files
    assert t.log[-1] == "systemctl daemon-reload"


def test_squat_port_refuses_to_overwrite_and_odd_names() -> None:
    from breakers import processes

    t = FakeTransport({"/usr/local/bin/relay": b"mine"})
    ctx = make_ctx(t)
    with pytest.raises(StepError, match="already exists"):
        processes.squat_port(ctx.node("cp1"), ChangeLog(ctx, "break"), "relay", 6443)
    with pytest.raises(StepError, match="letters, digits and dashes"):
        processes.squat_port(ctx.node("cp1"), ChangeLog(ctx, "break"), "../x", 6443)
