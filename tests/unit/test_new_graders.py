"""Graders and breakers behind the node, workload, DNS, scheduler and controller labs, on refusing fakes."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from breakers import files
from breakers import kube as kube_breakers
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.inventory import ClusterSpec, NodeSpec
from breakfix.state import State
from breakfix.transport.node import Node
from breakfix.transport.spec import TransportSpec
from graders import node as node_graders
from graders import probe, service, static_pod, systemd, workload
from tests.fakes import FakeKube, FakeTransport, Unexpected, unit_settings
from tests.unit.contexts import make_ctx

CLUSTER = ClusterSpec("t", "inventory", Path("/dev/null"), (), None, None, frozenset(), pull_policy="Never")
IMAGES = {"pause": "breakfix.local/pause:1", "shell": "breakfix.local/shell:1", "web": "breakfix.local/web:1"}


def a_node(transport: FakeTransport, name: str = "w1") -> Node:
    return Node(name, "worker", transport, "10.0.0.3")


# nodes and units -----------------------------------------------------------------


def node_obj(ready: str, message: str = "") -> dict[str, Any]:
    cond = {"type": "Ready", "status": ready, "message": message}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"}, "status": {"conditions": [cond]}}


def test_node_ready_reads_the_condition_and_says_why_not() -> None:
    kube = FakeKube({"Node"})
    node = a_node(FakeTransport())
    assert node_graders.ready(kube, node).status == "fail"  # not registered
    kube.create(node_obj("Unknown", "Kubelet stopped posting node status."))
    result = node_graders.ready(kube, node)
    assert result.status == "fail" and "Kubelet stopped posting node status" in result.message
    kube.replace(node_obj("True"))
    assert node_graders.ready(kube, node, stable_for=0.3, poll=0.1).ok
    kube.down = True
    assert node_graders.ready(kube, node).status == "error"


def test_node_ready_fails_when_it_flips_during_the_window() -> None:
    class Flipping(FakeKube):
        reads = 0

        def get(self, *args: Any, **kwargs: Any) -> Any:
            self.reads += 1
            return node_obj("True" if self.reads < 3 else "False")

    assert node_graders.ready(Flipping({"Node"}), a_node(FakeTransport()), stable_for=5, poll=0.01).status == "fail"


@pytest.mark.parametrize(
    ("active", "enabled", "ok_active", "ok_enabled"),
    [
        ("active", "enabled", True, True),
        ("inactive", "disabled", False, False),
        ("active", "enabled-runtime", True, False),
    ],
)
def test_unit_active_and_enabled(active: str, enabled: str, ok_active: bool, ok_enabled: bool) -> None:
    t = FakeTransport()
    t.expect("systemctl is-active kubelet", rc=0 if active == "active" else 3, stdout=active + "\n")
    t.expect("systemctl is-enabled kubelet", rc=0 if enabled == "enabled" else 1, stdout=enabled + "\n")
    unit_settings(t)
    assert systemd.active(a_node(t), "kubelet").ok is ok_active
    result = systemd.enabled(a_node(t), "kubelet")
    assert result.ok is ok_enabled
    if not ok_enabled:
        assert "would not start after a reboot" in result.message and result.hint == "systemctl enable kubelet"


@pytest.mark.parametrize(
    ("settings", "lost"),
    [
        ({"dropins": "/etc/kubelet.service.d/10-kubeadm.conf /run/systemd/system/kubelet.service.d/x.conf"},
         "/run/systemd/system/kubelet.service.d/x.conf is a runtime file"),
        ({"dropins": "/run/systemd/system.control/kubelet.service.d/50-CPUQuota.conf"}, "system.control"),
        ({"transient": "yes"}, "transient unit (systemd-run)"),
        ({"environment": "PATH=/usr/bin\nKUBELET_EXTRA_ARGS=--pod-manifest-path=/x"},
         "KUBELET_EXTRA_ARGS is set with systemctl set-environment"),
    ],
)  # fmt: skip
def test_a_unit_running_on_settings_a_reboot_loses_is_not_fixed(settings: dict[str, str], lost: str) -> None:
    t = FakeTransport()
    t.expect("systemctl is-active kubelet", stdout="active\n")
    unit_settings(t, **settings)
    result = systemd.active(a_node(t), "kubelet")
    assert result.status == "fail" and "the next boot loses" in result.message and lost in result.message


def test_generated_units_and_unrelated_manager_variables_are_kept_at_boot() -> None:
    t = FakeTransport()
    t.expect("systemctl is-active kubelet", stdout="active\n")
    unit_settings(t, dropins="/run/systemd/generator/kubelet.service.d/x.conf", environment="PATH=/bin\nFOO=1")
    assert systemd.active(a_node(t), "kubelet").ok


# workloads --------------------------------------------------------------------------


def deployment(replicas: int = 2, ready: int = 2, liveness: bool = True) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": "x", "readinessProbe": {"tcpSocket": {"port": 80}}}
    if liveness:
        container["livenessProbe"] = {"tcpSocket": {"port": 80}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cart", "namespace": "store", "generation": 2, "uid": "u1"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "cart"}},
            "template": {"metadata": {"labels": {"app": "cart"}}, "spec": {"containers": [container]}},
        },
        "status": {"observedGeneration": 2, "readyReplicas": ready, "updatedReplicas": ready},
    }


def cart_pod(name: str, restarts: int, waiting: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"ready": not waiting, "restartCount": restarts, "state": {}}
    if waiting:
        status["state"] = {"waiting": {"reason": waiting}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "store", "labels": {"app": "cart"}},
        "status": {"containerStatuses": [status]},
    }


def test_available_names_what_the_pods_wait_on() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment(ready=0))
    kube.create(cart_pod("cart-1", 0, waiting="ImagePullBackOff"))
    result = workload.available(kube, "cart", "store")
    assert result.status == "fail" and "0/2" in result.message and "ImagePullBackOff" in result.message


def test_available_needs_no_restart_during_the_window() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment())
    kube.create(cart_pod("cart-1", 4))
    kube.create(cart_pod("cart-2", 0))
    assert workload.available(kube, "cart", "store", stable_for=0.2, poll=0.05).ok

    class Restarting(FakeKube):
        lists = 0

        def list(self, *args: Any, **kwargs: Any) -> Any:
            self.lists += 1
            return [cart_pod("cart-1", 4 + self.lists)]

    crashing = Restarting({"Deployment", "Pod"})
    crashing.create(deployment())
    result = workload.available(crashing, "cart", "store", stable_for=5, poll=0.01)
    assert result.status == "fail" and "restarted" in result.message


def test_available_fails_on_zero_replicas_and_missing_objects() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    assert workload.available(kube, "cart", "store").status == "fail"
    kube.create(deployment(replicas=0, ready=0))
    assert "runs no replicas" in workload.available(kube, "cart", "store").message


def test_replicas_restored_compares_with_what_setup_saw() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment(replicas=1, ready=1))
    state = SessionState(State(), None)
    assert workload.replicas_restored(kube, state, "cart", "store").status == "error"
    state.set("remember:Deployment:store/cart", {"uid": "u1", "template": "x", "replicas": 2})
    assert "it had 2" in workload.replicas_restored(kube, state, "cart", "store").message
    kube.replace(deployment(replicas=2, ready=2))
    assert workload.replicas_restored(kube, state, "cart", "store").ok


def test_probes_kept() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment(liveness=False))
    state = SessionState(State(), None)
    result = workload.probes_kept(kube, state, "cart", "store")
    assert result.status == "fail" and "web has no livenessProbe" in result.message
    kube.replace(deployment())
    assert workload.probes_kept(kube, state, "cart", "store").ok


# services through the API server's proxy ----------------------------------------------


def test_service_answers_by_status_and_content() -> None:
    kube = FakeKube(set())
    kube.proxied["books/catalog:80/"] = (
        503,
        "error trying to reach service: dial tcp 10.244.1.5:8080: connect: connection refused",
    )
    result = service.answers(kube, "catalog", "books")
    assert result.status == "fail" and "HTTP 503" in result.message and "8080" in result.message
    kube.proxied["books/catalog:80/"] = (200, "<h1>breakfix web</h1>")
    assert service.answers(kube, "catalog", "books").ok
    assert service.answers(kube, "catalog", "books", contains="nginx").status == "fail"
    with pytest.raises(Unexpected):
        service.answers(kube, "catalog", "books", port="8080")  # the fake refuses what it was not told
    kube.down = True
    assert service.answers(kube, "catalog", "books").status == "error"


# kubeconfig identities --------------------------------------------------------------


def client_cert(common_name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def kubeconfig(cn: str) -> bytes:
    data = base64.b64encode(client_cert(cn)).decode()
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "c",
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            "users": [{"name": "u", "user": {"client-certificate-data": data}}],
        }
    ).encode()


SCHEDULER = "/etc/kubernetes/manifests/kube-scheduler.yaml"


def scheduler_manifest(path: str, mount_path: str = "/etc/kubernetes/scheduler.conf") -> bytes:
    """kube-scheduler as kubeadm writes it: its kubeconfig is a hostPath file mounted at MOUNT_PATH."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-scheduler"},
        "spec": {
            "containers": [
                {
                    "name": "kube-scheduler",
                    "command": ["kube-scheduler", f"--kubeconfig={path}"],
                    "volumeMounts": [{"mountPath": mount_path, "name": "kubeconfig", "readOnly": True}],
                }
            ],
            "volumes": [
                {"hostPath": {"path": "/etc/kubernetes/scheduler.conf", "type": "FileOrCreate"}, "name": "kubeconfig"}
            ],
        },
    }
    return yaml.safe_dump(pod).encode()


def test_kubeconfig_user_checks_the_file_and_the_certificates_name() -> None:
    files_ = {
        SCHEDULER: scheduler_manifest("/etc/kubernetes/scheduler.conf"),
        "/etc/kubernetes/scheduler.conf": kubeconfig("system:kube-scheduler"),
        "/etc/kubernetes/admin.conf": kubeconfig("kubernetes-admin"),
    }
    t = FakeTransport(files_)
    node = Node("cp1", "control-plane", t, "10.0.0.2")
    assert static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler").ok
    t.files["/etc/kubernetes/scheduler.conf"] = t.files["/etc/kubernetes/admin.conf"]
    result = static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler")
    assert result.status == "fail" and "authenticates as kubernetes-admin" in result.message
    t.files[SCHEDULER] = scheduler_manifest("/etc/kubernetes/scheduler.kubeconfig")
    result = static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler")
    assert result.status == "fail" and "no such file" in result.message


def test_kubeconfig_user_looks_through_the_pods_mounts() -> None:
    other = "/etc/kubernetes/scheduler.kubeconfig"
    t = FakeTransport(
        {
            SCHEDULER: scheduler_manifest(other, mount_path=other),  # the right file, mounted at another path
            "/etc/kubernetes/scheduler.conf": kubeconfig("system:kube-scheduler"),
        }
    )
    node = Node("cp1", "control-plane", t, "10.0.0.2")
    assert static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler").ok
    t.files[other] = kubeconfig("kubernetes-admin")  # a file on the host at the flag's path is not what the pod sees
    assert static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler").ok
    t.files[SCHEDULER] = scheduler_manifest(other)  # on the host, but never mounted into the pod
    result = static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler")
    assert result.status == "fail" and "no volume" in result.message


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/controller-manager.conf"),
        ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
        ("/etc/kubernetes/pki/etcd/ca.crt", "/srv/etcd-pki/ca.crt"),  # the deeper mount wins
        ("/etc/kubernetes/pki/../admin.conf", None),  # normalised: /etc/kubernetes is not mounted
        ("/cfg/kc", "/etc/kubernetes/controller-manager.conf"),
        ("/sub/kubeconfig", "/etc/kubernetes/cm/kubeconfig"),  # subPath
        ("/usr/bin/kube-controller-manager", None),  # in the image
        ("/etc/kubernetes/pkix", None),  # a sibling, not under /etc/kubernetes/pki
    ],
)
def test_host_path_follows_hostpath_mounts(path: str, host: str | None) -> None:
    pod = {
        "spec": {
            "volumes": [
                {"name": "kubeconfig", "hostPath": {"path": "/etc/kubernetes/controller-manager.conf"}},
                {"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki"}},
                {"name": "etcd-certs", "hostPath": {"path": "/srv/etcd-pki"}},
                {"name": "dir", "hostPath": {"path": "/etc/kubernetes"}},
                {"name": "empty", "emptyDir": {}},
            ]
        }
    }
    container = {
        "volumeMounts": [
            {"name": "kubeconfig", "mountPath": "/etc/kubernetes/controller-manager.conf"},
            {"name": "kubeconfig", "mountPath": "/cfg/kc"},
            {"name": "k8s-certs", "mountPath": "/etc/kubernetes/pki"},
            {"name": "etcd-certs", "mountPath": "/etc/kubernetes/pki/etcd/"},
            {"name": "dir", "mountPath": "/sub/kubeconfig", "subPath": "cm/kubeconfig"},
            {"name": "empty", "mountPath": "/usr/bin"},
        ]
    }
    assert static_pod.host_path(pod, container, path) == host


# probes that watch the control plane act ----------------------------------------------


class ActingKube(FakeKube):
    """A fake whose 'scheduler' binds new pods and whose 'controllers' give ReplicaSets a pod, when on."""

    def __init__(self, scheduler: bool, controllers: bool, dns: str = "Succeeded") -> None:
        super().__init__({"Pod", "ReplicaSet"})
        self.scheduler, self.controllers, self.dns = scheduler, controllers, dns

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = super().create(obj)
        if obj["kind"] == "Pod" and self.scheduler:
            self.objects[("v1", "Pod", "default", obj["metadata"]["name"])]["spec"]["nodeName"] = "w1"
        if obj["kind"] == "Pod" and obj["spec"].get("restartPolicy") == "Never":
            self.objects[("v1", "Pod", "default", obj["metadata"]["name"])]["status"] = {"phase": self.dns}
        if obj["kind"] == "ReplicaSet" and self.controllers:
            labels = obj["spec"]["template"]["metadata"]["labels"]
            super().create(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "rs-pod", "namespace": "default", "labels": labels},
                    "spec": {},
                }
            )
        return out


def test_scheduling_probe_passes_only_when_a_node_is_assigned_and_cleans_up() -> None:
    kube = ActingKube(scheduler=True, controllers=False)
    assert probe.new_pods_scheduled(kube, IMAGES, CLUSTER, wait_for=1).ok
    stopped = ActingKube(scheduler=False, controllers=False)
    result = probe.new_pods_scheduled(stopped, IMAGES, CLUSTER, wait_for=0.3)
    assert result.status == "fail" and "got no node" in result.message
    assert not kube.objects and not stopped.objects  # the probe pods were deleted


def test_controller_probe_needs_a_pod_for_the_replicaset_and_cleans_up() -> None:
    assert probe.controllers_reconcile(ActingKube(False, True), IMAGES, CLUSTER, wait_for=1).ok
    idle = ActingKube(False, False)
    assert probe.controllers_reconcile(idle, IMAGES, CLUSTER, wait_for=0.3).status == "fail"
    assert not idle.objects


@pytest.mark.parametrize(("phase", "status"), [("Succeeded", "pass"), ("Failed", "fail")])
def test_dns_probe_reads_the_pods_outcome(phase: str, status: str) -> None:
    kube = ActingKube(True, True, dns=phase)
    result = probe.dns_resolves(kube, IMAGES, CLUSTER, wait_for=1)
    assert result.status == status and not kube.objects


def test_probe_pods_use_the_clusters_images_and_pull_policy() -> None:
    seen: list[dict[str, Any]] = []

    class Recording(ActingKube):
        def create(self, obj: dict[str, Any]) -> dict[str, Any]:
            seen.append(obj)
            return super().create(obj)

    probe.dns_resolves(Recording(True, True), IMAGES, CLUSTER, wait_for=1)
    container = seen[0]["spec"]["containers"][0]
    assert container["image"] == IMAGES["shell"] and container["imagePullPolicy"] == "Never"
    assert container["command"] == ["nslookup", "kubernetes.default.svc.cluster.local"]


# breakers -----------------------------------------------------------------------------


def test_edit_container_and_set_image_journal_and_undo() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment())
    ctx = make_ctx(FakeTransport(), kube)
    changes = ChangeLog(ctx, "break")
    kube_breakers.edit_container(
        changes, kube, "cart", "web", {"livenessProbe": {"tcpSocket": {"port": 8080}}}, "store"
    )
    live = kube.get("apps/v1", "Deployment", "cart", "store")
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] == {"tcpSocket": {"port": 8080}}
    kube_breakers.set_image(changes, kube, IMAGES, "cart", "web", "web", typo="0", namespace="store")
    live = kube.get("apps/v1", "Deployment", "cart", "store")
    assert live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"] == "breakfix.local/web:10"
    kube_breakers.edit_container(changes, kube, "cart", "web", {"livenessProbe": None}, "store")
    live = kube.get("apps/v1", "Deployment", "cart", "store")
    assert live is not None and "livenessProbe" not in live["spec"]["template"]["spec"]["containers"][0]
    assert len(ctx.store.journal("test")) == 3
    with pytest.raises(Exception, match="no container 'nope'"):
        kube_breakers.edit_container(changes, kube, "cart", "nope", {"image": "x"}, "store")


def test_copy_file_journals_what_it_overwrites() -> None:
    t = FakeTransport({"/a": b"admin", "/b": b"scheduler"})
    ctx = make_ctx(t)
    files.copy(ctx.node("cp1"), ChangeLog(ctx, "cheat"), "/a", "/b")
    assert t.files["/b"] == b"admin"
    (entry,) = ctx.store.journal("test")
    assert entry.record["path"] == "/b" and base64.b64decode(entry.record["content"]) == b"scheduler"


def test_node_port_answers_runs_curl_on_the_client_node() -> None:
    t = FakeTransport()
    cmd = r"curl -sS -o /dev/null -w '%\{http_code\}' -m 5 http://10.0.0.2:30080/"
    t.expect(cmd, stdout="200")
    assert service.node_port_answers(a_node(t), "10.0.0.2", 30080).ok
    dropped = FakeTransport()
    dropped.expect(cmd, rc=28, stdout="000", stderr="curl: (28) Connection timed out after 5001 milliseconds\n")
    result = service.node_port_answers(a_node(dropped), "10.0.0.2", 30080)
    assert result.status == "fail" and "timed out" in result.message and "traffic policy" in result.hint


def tainted_node(name: str, taints: list[dict[str, str]], cordoned: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"taints": taints} if taints else {}
    if cordoned:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec}


def test_taint_and_untaint_keep_the_other_taints() -> None:
    kube = FakeKube({"Node"})
    cp = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    kube.create(tainted_node("cp1", [cp]))
    ctx = make_ctx(FakeTransport(), kube)
    changes = ChangeLog(ctx, "break")
    kube_breakers.taint(changes, kube, "cp1", "breakfix.dev/maintenance", "true")
    assert kube.get("v1", "Node", "cp1")["spec"]["taints"] == [  # type: ignore[index]
        cp,
        {"key": "breakfix.dev/maintenance", "effect": "NoSchedule", "value": "true"},
    ]
    kube_breakers.untaint(changes, kube, "cp1", "breakfix.dev/maintenance")
    assert kube.get("v1", "Node", "cp1")["spec"]["taints"] == [cp]  # type: ignore[index]


def test_schedulable_and_keeps_taint() -> None:
    kube = FakeKube({"Node"})
    w1 = a_node(FakeTransport())
    kube.create(tainted_node("w1", [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]))
    assert node_graders.schedulable(kube, w1).ok  # the node controller's own taints are not a choice
    renamed = {"key": "node.kubernetes.io/maintenance", "effect": "NoSchedule"}  # not the controller's: a choice
    kube.replace(tainted_node("w1", [renamed]))
    assert "node.kubernetes.io/maintenance=:NoSchedule" in node_graders.schedulable(kube, w1).message
    kube.replace(tainted_node("w1", [{"key": "maint", "value": "true", "effect": "NoSchedule"}]))
    result = node_graders.schedulable(kube, w1)
    assert result.status == "fail" and "maint=true:NoSchedule" in result.message
    kube.replace(tainted_node("w1", [], cordoned=True))
    assert "cordoned" in node_graders.schedulable(kube, w1).message
    assert node_graders.keeps_taint(kube, w1, "maint").status == "fail"
    kube.replace(tainted_node("w1", [{"key": "maint", "effect": "NoSchedule"}]))
    assert node_graders.keeps_taint(kube, w1, "maint").ok


def test_cluster_ip_answers_curls_the_services_cluster_ip() -> None:
    kube = FakeKube({"Service"})
    kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "gateway"},
                 "spec": {"clusterIP": "10.96.0.42"}})  # fmt: skip
    t = FakeTransport()
    t.expect(r"curl .* http://10.96.0.42:80/", rc=7, stdout="000", stderr="curl: (7) Failed to connect\n")
    result = service.cluster_ip_answers(kube, a_node(t), "api", "gateway")
    assert result.status == "fail" and "Service gateway/api (10.96.0.42:80)" in result.message
    assert "kube-proxy" in result.hint


def two_worker_cluster() -> ClusterSpec:
    nodes = tuple(
        NodeSpec(n, r, TransportSpec("local"), None)
        for n, r in [("cp1", "control-plane"), ("w1", "worker"), ("w2", "worker")]
    )
    return ClusterSpec("test", "inventory", Path("/dev/null"), nodes, None, None, frozenset())


def test_every_worker_is_tainted_and_judged() -> None:
    """With two workers the fault must show on both (else the pod just lands on the other one)."""
    kube = FakeKube({"Node"})
    for name in ("cp1", "w1", "w2"):
        kube.create(tainted_node(name, []))
    cluster = two_worker_cluster()
    ctx = make_ctx(FakeTransport(), kube)
    kube_breakers.taint_workers(ChangeLog(ctx, "break"), kube, cluster, "maint", "true")
    assert kube.get("v1", "Node", "cp1")["spec"] == {}  # type: ignore[index]
    for name in ("w1", "w2"):
        assert kube.get("v1", "Node", name)["spec"]["taints"] == [
            {"key": "maint", "effect": "NoSchedule", "value": "true"}
        ]  # type: ignore[index]
    kube_breakers.untaint_workers(ChangeLog(ctx, "solve"), kube, cluster, "maint")
    kube_breakers.taint(ChangeLog(ctx, "cheat"), kube, "w2", "maint", "true")  # one worker left tainted
    result = node_graders.workers_schedulable(kube, cluster)
    assert result.status == "fail" and "w2 repels" in result.message and "w1" not in result.message
    kube_breakers.untaint(ChangeLog(ctx, "solve"), kube, "w2", "maint")
    assert node_graders.workers_schedulable(kube, cluster).ok


def test_add_mount_mounts_a_volume_once_more_and_the_kubeconfig_check_follows_it() -> None:
    from breakers import manifest

    other = "/etc/kubernetes/scheduler.kubeconfig"
    t = FakeTransport(
        {SCHEDULER: scheduler_manifest(other), "/etc/kubernetes/scheduler.conf": kubeconfig("system:kube-scheduler")}
    )
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    assert not static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler").ok
    manifest.add_mount(node, ChangeLog(ctx, "alternative"), "kube-scheduler", "kubeconfig", other)
    mounts = yaml.safe_load(t.files[SCHEDULER])["spec"]["containers"][0]["volumeMounts"]
    assert [m["mountPath"] for m in mounts] == ["/etc/kubernetes/scheduler.conf", other]
    assert static_pod.kubeconfig_user(node, "kube-scheduler", "system:kube-scheduler").ok
    with pytest.raises(StepError, match="no volume named"):
        manifest.add_mount(node, ChangeLog(ctx, "alternative"), "kube-scheduler", "nope", other)
