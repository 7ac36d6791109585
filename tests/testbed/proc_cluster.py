"""A process control plane: etcd, kube-apiserver, controller-manager, scheduler and kwok as local processes.

``start_proc_cluster()`` starts a real Kubernetes control plane (binaries built by
``python -m tests.testbed.artifacts``) bound to 127.0.0.1 on free ports, with fresh certificates and a
service account key, plus kwok simulating nodes (``kwok-node-0`` and ``kwok-node-1`` by default), so
Deployments, ReplicaSets, scheduling, Services and EndpointSlices behave for real: pods on the kwok
nodes get an IP and turn Running and Ready. It writes a kubeconfig and a breakfix inventory
(docs/inventory.md) into its run folder. Several clusters can run at once.

Pytest: add ``pytest_plugins = ["tests.testbed.proc_cluster"]`` to a top-level conftest, or import the
``proc_cluster`` fixture, or call ``start_proc_cluster()`` directly.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tests.testbed.artifacts as artifacts

PROVIDER = "testbed-proc"
SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_CIDR = "10.244.0.0/16"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
NEEDED_COMPONENTS = ("kubernetes", "etcd", "kwok")
_RUN_MARKER = "breakfix-proc-cluster"


def testbed_dir() -> Path:
    """Return the folder holding one sub-folder per process cluster (BREAKFIX_TESTBED_DIR overrides)."""
    override = os.environ.get("BREAKFIX_TESTBED_DIR")
    if override:
        return Path(override).expanduser().resolve() / "proc"
    return artifacts.cache_root() / "testbed" / "proc"


def missing_artifacts() -> list[str]:
    """Return the components the process cluster needs that are not built yet."""
    missing = artifacts.missing(NEEDED_COMPONENTS)
    if "kwok" not in missing and not all(p.is_file() for p in artifacts.kwok_stages()):
        missing.append("kwok")
    return missing


class ProcClusterError(RuntimeError):
    """The process cluster could not start or did not become ready."""


# ---------------------------------------------------------------- certificates


def _pki(directory: Path) -> None:
    """Write a CA, serving and client certificates and a service account key pair into DIRECTORY."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    later = now + dt.timedelta(days=365)

    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(name: str, k: ec.EllipticCurvePrivateKey) -> None:
        path = directory / f"{name}.key"
        path.write_bytes(
            k.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)

    def name(cn: str, org: str | None = None) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def make_ca(file: str, cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
        ca_key = key()
        ca_name = name(cn)
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_key(file, ca_key)
        (directory / f"{file}.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        return ca_key, ca_name

    ca_key, ca_name = make_ca("ca", "breakfix-testbed-ca")
    proxy_ca_key, proxy_ca_name = make_ca("front-proxy-ca", "breakfix-testbed-front-proxy-ca")

    def issue(file: str, subject: x509.Name, server: bool, sans: Sequence[str] = (), front_proxy: bool = False) -> None:
        signer, issuer = (proxy_ca_key, proxy_ca_name) if front_proxy else (ca_key, ca_name)
        k = key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(k.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if sans:
            alt: list[x509.GeneralName] = []
            for san in sans:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(san)))
                except ValueError:
                    alt.append(x509.DNSName(san))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(signer, hashes.SHA256())
        write_key(file, k)
        (directory / f"{file}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
    issue(
        "apiserver",
        name("kube-apiserver"),
        server=True,
        sans=[
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
            "127.0.0.1",
            service_ip,
        ],
    )
    issue("kwok-serving", name("kwok-node"), server=True, sans=["localhost", "127.0.0.1"])
    issue("apiserver-kubelet-client", name("kube-apiserver-kubelet-client", "kubeadm:cluster-admins"), False)
    issue("admin", name("kubernetes-admin", "system:masters"), server=False)
    issue("controller-manager", name("system:kube-controller-manager"), server=False)
    issue("scheduler", name("system:kube-scheduler"), server=False)
    issue("kwok", name("kwok-controller", "system:masters"), server=False)
    issue("front-proxy-client", name("front-proxy-client"), server=False, front_proxy=True)

    sa = key()
    write_key("sa", sa)
    (directory / "sa.pub").write_bytes(
        sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _kubeconfig(path: Path, pki: Path, server: str, user: str, cluster: str) -> None:
    """Write a self-contained kubeconfig (certificates embedded) for one client certificate."""

    def b64(file: str) -> str:
        return base64.b64encode((pki / file).read_bytes()).decode()

    context = f"{user}@{cluster}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")}}],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(f"{user}.crt"),
                    "client-key-data": b64(f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
        "preferences": {},
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)


# ---------------------------------------------------------------- ports and processes


def _free_ports(count: int) -> list[int]:
    """Return COUNT distinct free TCP ports on 127.0.0.1."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Proc:
    """One control plane process and its log file."""

    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        """Start the process in its own session, output to its log file."""
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        """Return the process id, if started."""
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        """Return the last lines of the log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _terminate(procs: Sequence[Proc], grace: float = 5.0) -> None:
    """Stop processes: SIGTERM to each one's process group, SIGKILL after GRACE seconds."""
    live = [p for p in procs if p.alive()]
    for p in live:
        assert p.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in live:
        assert p.popen is not None
        try:
            p.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.popen.pid, signal.SIGKILL)
            p.popen.wait(5)


# ---------------------------------------------------------------- the API, without a client library


class _Api:
    """A tiny HTTPS client for the apiserver, authenticated with the admin certificate."""

    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def request(self, method: str, path: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        return body if status == 200 else None


def _fake_node(name: str) -> dict[str, Any]:
    """Return a Node object that kwok manages (the shape kwok documents, without the NoSchedule taint)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", KWOK_NODE_ANNOTATION: "fake"},
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    }


# ---------------------------------------------------------------- the cluster


@dataclass
class ProcCluster:
    """A running process control plane with kwok nodes; stop() ends every process and removes its folder."""

    name: str
    run_dir: Path
    kubeconfig: Path
    inventory: Path
    server: str
    ports: dict[str, int]
    nodes: list[str]
    procs: list[Proc] = field(default_factory=list)
    keep: bool = False
    _started: float = field(default_factory=time.monotonic)
    startup_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds from start to each phase
    _stopped: bool = False

    @property
    def context(self) -> str:
        """Return the kubeconfig context name."""
        return f"admin@{self.name}"

    @property
    def pki(self) -> Path:
        """Return the folder with the CA, certificates and service account key."""
        return self.run_dir / "pki"

    def proc(self, name: str) -> Proc:
        """Return one control plane process by name (etcd, kube-apiserver, ..., kwok)."""
        return next(p for p in self.procs if p.name == name)

    def pids(self) -> dict[str, int]:
        """Return the process ids of the running components."""
        return {p.name: p.pid for p in self.procs if p.pid is not None and p.alive()}

    def kubectl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this cluster."""
        cmd = [str(artifacts.binary("kubernetes", "kubectl")), "--kubeconfig", str(self.kubeconfig), *args]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)

    def api(self) -> _Api:
        """Return a minimal admin HTTPS client (for readiness checks)."""
        return _Api(self.server, self.pki)

    def stop(self) -> None:
        """Kill every process of this cluster and remove its run folder (unless keep=True)."""
        if self._stopped:
            return
        self._stopped = True
        _terminate([p for p in reversed(self.procs) if p.name != "etcd"])  # clients first, then the store
        _terminate([p for p in self.procs if p.name == "etcd"])
        _LIVE.discard(self)
        if not self.keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> ProcCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __hash__(self) -> int:
        return id(self)


_LIVE: set[ProcCluster] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:
    for cluster in list(_LIVE):
        cluster.stop()


def _write_inventory(path: Path, name: str, kubeconfig: Path, context: str, server: str) -> None:
    import yaml

    inventory = {
        "all": {
            "vars": {
                "breakfix_cluster": name,
                "breakfix_provider": PROVIDER,
                "breakfix_kubeconfig": kubeconfig.name,
                "breakfix_context": context,
                "breakfix_capabilities": [],
                "breakfix_api_server": server,
            },
        }
    }
    path.write_text(
        "# A breakfix process test cluster: etcd, control plane and kwok as local processes; no hosts.\n"
        + yaml.safe_dump(inventory, sort_keys=False)
    )


def _wait(what: str, cond: Any, deadline: float, procs: Sequence[Proc], interval: float = 0.1) -> Any:
    """Poll COND until it returns something truthy; fail if a process died or the deadline passed."""
    while True:
        value = cond()
        if value:
            return value
        for p in procs:
            if p.popen is not None and not p.alive():
                raise ProcClusterError(
                    f"{p.name} exited with code {p.popen.returncode} while waiting for {what}:\n{p.tail()}"
                )
        if time.monotonic() > deadline:
            raise ProcClusterError(f"timed out waiting for {what}")
        time.sleep(interval)


def start_proc_cluster(
    name: str | None = None,
    nodes: int | Sequence[str] = 2,
    timeout: float = 90.0,
    keep: bool = False,
    wait_ready: bool = True,
) -> ProcCluster:
    """Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok; return when usable.

    Ready means: the apiserver answers /readyz, every kwok node is Ready, and the ``default``
    ServiceAccount exists (pods can be created). keep=True leaves the run folder after stop().
    """
    missing = missing_artifacts()
    if missing:
        raise ProcClusterError(
            f"test bed binaries not built: {', '.join(missing)}; run: python -m tests.testbed.artifacts"
        )
    started = time.monotonic()
    deadline = started + timeout
    name = name or f"proc-{secrets.token_hex(3)}"
    node_names = [f"kwok-node-{i}" for i in range(nodes)] if isinstance(nodes, int) else list(nodes)
    base = testbed_dir()
    base.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
    (run_dir / _RUN_MARKER).write_text(json.dumps({"name": name, "owner_pid": os.getpid()}) + "\n")
    pki = run_dir / "pki"
    _pki(pki)

    port_names = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")
    ports = dict(zip(port_names, _free_ports(len(port_names)), strict=True))
    server = f"https://127.0.0.1:{ports['apiserver']}"
    kubeconfig = run_dir / "kubeconfig"
    _kubeconfig(kubeconfig, pki, server, "admin", name)
    # The user name in each kubeconfig follows its certificate file name.
    for user in ("controller-manager", "scheduler", "kwok"):
        _kubeconfig(run_dir / f"{user}.kubeconfig", pki, server, user, name)
    # The context of the admin kubeconfig is admin@<name>.
    inventory = run_dir / "inventory.yaml"
    _write_inventory(inventory, name, kubeconfig, f"admin@{name}", server)

    kwok_config = run_dir / "kwok.yaml"
    kwok_config.write_text("\n---\n".join(p.read_text() for p in artifacts.kwok_stages()))

    k8s = artifacts.component("kubernetes")
    etcd_bin = artifacts.binary("etcd")
    logs = run_dir / "logs"
    logs.mkdir()
    etcd_client = f"http://127.0.0.1:{ports['etcd']}"
    etcd_peer = f"http://127.0.0.1:{ports['etcd-peer']}"
    procs = [
        Proc(
            "etcd",
            [
                str(etcd_bin),
                "--name=default",
                f"--data-dir={run_dir / 'etcd'}",
                f"--listen-client-urls={etcd_client}",
                f"--advertise-client-urls={etcd_client}",
                f"--listen-peer-urls={etcd_peer}",
                f"--initial-advertise-peer-urls={etcd_peer}",
                f"--initial-cluster=default={etcd_peer}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync",
                "--log-level=warn",
                "--quota-backend-bytes=1073741824",
            ],
            logs / "etcd.log",
        ),
        Proc(
            "kube-apiserver",
            [
                str(k8s.binary("kube-apiserver")),
                "--advertise-address=127.0.0.1",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                f"--etcd-servers={etcd_client}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-username-headers=X-Remote-User",
                f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
                # The kubernetes Service would list 127.0.0.1, which Endpoints validation rejects.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                f"--cert-dir={run_dir / 'apiserver-certs'}",
            ],
            logs / "kube-apiserver.log",
        ),
        Proc(
            "kube-controller-manager",
            [
                str(k8s.binary("kube-controller-manager")),
                f"--kubeconfig={run_dir / 'controller-manager.kubeconfig'}",
                f"--authentication-kubeconfig={run_dir / 'controller-manager.kubeconfig'}",
                f"--authorization-kubeconfig={run_dir / 'controller-manager.kubeconfig'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['controller-manager']}",
                f"--cert-dir={run_dir / 'controller-manager-certs'}",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=true",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                "--allocate-node-cidrs=true",
                f"--cluster-cidr={CLUSTER_CIDR}",
                "--node-cidr-mask-size=24",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers=*,bootstrapsigner,tokencleaner",
                "--profiling=false",
            ],
            logs / "kube-controller-manager.log",
        ),
        Proc(
            "kube-scheduler",
            [
                str(k8s.binary("kube-scheduler")),
                f"--kubeconfig={run_dir / 'scheduler.kubeconfig'}",
                f"--authentication-kubeconfig={run_dir / 'scheduler.kubeconfig'}",
                f"--authorization-kubeconfig={run_dir / 'scheduler.kubeconfig'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['scheduler']}",
                f"--cert-dir={run_dir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--profiling=false",
            ],
            logs / "kube-scheduler.log",
        ),
        Proc(
            "kwok",
            [
                str(artifacts.binary("kwok")),
                f"--config={kwok_config}",
                f"--kubeconfig={run_dir / 'kwok.kubeconfig'}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                "--node-ip=127.0.0.1",
                f"--node-port={ports['kwok']}",
                f"--server-address=127.0.0.1:{ports['kwok']}",
                f"--tls-cert-file={pki / 'kwok-serving.crt'}",
                f"--tls-private-key-file={pki / 'kwok-serving.key'}",
                "--node-lease-duration-seconds=40",
                f"--cidr={CLUSTER_CIDR}",
            ],
            logs / "kwok.log",
        ),
    ]
    cluster = ProcCluster(
        name=name,
        run_dir=run_dir,
        kubeconfig=kubeconfig,
        inventory=inventory,
        server=server,
        ports=ports,
        nodes=node_names,
        procs=procs,
        keep=keep,
        _started=started,
    )
    with _LIVE_LOCK:
        _LIVE.add(cluster)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECONFIG")}
    env["HOME"] = str(run_dir)  # kwok and kubectl keep their own caches under $HOME
    env.setdefault("GOMAXPROCS", os.environ.get("BREAKFIX_GOMAXPROCS", "2"))
    try:
        # etcd and the apiserver first; the other components start once the apiserver is ready (its
        # RBAC bootstrap roles exist), as a kubelet would have restarted them until then.
        for p in procs[:2]:
            p.start(env)
        _write_pids(cluster)
        cluster.timings["certificates"] = round(time.monotonic() - started, 2)
        _wait_apiserver(cluster, deadline)
        cluster.timings["apiserver-ready"] = round(time.monotonic() - started, 2)
        for p in procs[2:]:
            p.start(env)
        _write_pids(cluster)
        if wait_ready:
            _wait_ready(cluster, deadline)
    except BaseException:
        cluster.keep = keep or bool(os.environ.get("BREAKFIX_KEEP_FAILED"))
        cluster.stop()
        raise
    cluster.startup_seconds = time.monotonic() - started
    cluster.timings["ready"] = round(cluster.startup_seconds, 2)
    return cluster


def _write_pids(cluster: ProcCluster) -> None:
    (cluster.run_dir / "pids.json").write_text(json.dumps(cluster.pids()) + "\n")


def _wait_apiserver(cluster: ProcCluster, deadline: float) -> None:
    api = cluster.api()

    def readyz() -> bool:
        try:
            status, _ = api.request("GET", "/readyz", timeout=2)
        except (OSError, ssl.SSLError):
            return False
        return status == 200

    _wait("kube-apiserver /readyz", readyz, deadline, cluster.procs)


def _wait_ready(cluster: ProcCluster, deadline: float) -> None:
    api = cluster.api()
    for node in cluster.nodes:
        status, body = api.request("POST", "/api/v1/nodes", _fake_node(node))
        if status not in (201, 409):
            raise ProcClusterError(f"creating node {node} failed ({status}): {body}")

    def nodes_ready() -> bool:
        for node in cluster.nodes:
            obj = api.get(f"/api/v1/nodes/{node}")
            conds = (obj or {}).get("status", {}).get("conditions", [])
            if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                return False
        return True

    _wait("kwok nodes Ready", nodes_ready, deadline, cluster.procs)
    cluster.timings["nodes-ready"] = round(time.monotonic() - cluster._started, 2)
    _wait(
        "the default ServiceAccount",
        lambda: api.get("/api/v1/namespaces/default/serviceaccounts/default"),
        deadline,
        cluster.procs,
    )


def cleanup_stale() -> list[Path]:
    """Stop processes of clusters whose owning test process died, and remove their folders."""
    removed: list[Path] = []
    base = testbed_dir()
    if not base.is_dir():
        return removed
    for run_dir in base.iterdir():
        marker = run_dir / _RUN_MARKER
        if not marker.is_file():
            continue
        try:
            owner = int(json.loads(marker.read_text())["owner_pid"])
        except (ValueError, KeyError, OSError):
            continue
        if Path(f"/proc/{owner}").exists():
            continue
        try:
            pids = json.loads((run_dir / "pids.json").read_text())
        except (OSError, ValueError):
            pids = {}
        for pid in pids.values():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(run_dir).encode() in cmdline:  # only processes started for this run folder
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(run_dir)
    return removed


# ---------------------------------------------------------------- pytest


def skip_or_fail_reason() -> str | None:
    """Return why the process cluster cannot run here, or None when it can."""
    missing = missing_artifacts()
    if not missing:
        return None
    return (
        f"process test cluster needs built binaries ({', '.join(missing)} missing under "
        f"{artifacts.artifacts_dir()}); build them with: python -m tests.testbed.artifacts"
    )


def require_artifacts() -> None:
    """Skip the calling test when binaries are missing, or fail when BREAKFIX_REQUIRE_TESTBED is set."""
    import pytest

    reason = skip_or_fail_reason()
    if reason is None:
        return
    if os.environ.get("BREAKFIX_REQUIRE_TESTBED"):
        pytest.fail(f"BREAKFIX_REQUIRE_TESTBED is set but {reason}", pytrace=False)
    pytest.skip(reason)


try:
    import pytest as _pytest
except ImportError:  # pragma: no cover - the module also works without pytest
    _pytest = None  # type: ignore[assignment]

if _pytest is not None:

    @_pytest.fixture(scope="session")
    def proc_cluster() -> Iterator[ProcCluster]:
        """A process control plane with two kwok nodes, shared by the whole test session."""
        require_artifacts()
        cleanup_stale()
        cluster = start_proc_cluster(name="session")
        try:
            yield cluster
        finally:
            cluster.stop()

    @_pytest.fixture
    def proc_cluster_factory() -> Iterator[Any]:
        """Start extra process clusters in a test; every one is stopped at the end of the test."""
        require_artifacts()
        started: list[ProcCluster] = []

        def factory(**kwargs: Any) -> ProcCluster:
            cluster = start_proc_cluster(**kwargs)
            started.append(cluster)
            return cluster

        try:
            yield factory
        finally:
            for cluster in started:
                cluster.stop()
