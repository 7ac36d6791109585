"""A real kubeadm cluster on the test bed's node containers, provisioned by vagrant/'s Ansible roles.

`start_kubeadm_cluster()` starts cp1 + w1 (tests.testbed.nodes), builds or reuses the local images,
runs vagrant/playbooks/site.yml with ansible-runner over SSH with the variables that switch the roles
to local artifacts, writes a breakfix inventory and an admin kubeconfig that reaches the API server
through a port published on 127.0.0.1, and waits until every node is Ready and CoreDNS answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.testbed import cleanup, dockercli
from tests.testbed.artifacts import component
from tests.testbed.kubeadm.images import ImageSet, artifacts_ready, ensure_images
from tests.testbed.nodes import Run, start_nodes

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO / "vagrant" / "playbooks" / "site.yml"
ROLES = REPO / "vagrant" / "roles"
CGROUP_PARENT = "breakfix-testbed"  # pods of node N of run R live under /breakfix-testbed/R-N
API_PORT = 6443
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
CAPABILITIES = ["static-pods", "systemd", "multi-node", "cni", "cni-config-file", "metrics-server", "private-registry"]
REGISTRY_PORT = 5000
REGISTRY_WEB = "breakfix/web:1"  # the web image, pushed into the registry by the registry role
READY_TIMEOUT = float(os.environ.get("BREAKFIX_KUBEADM_READY_TIMEOUT", "300"))

# Preflight checks that cannot pass in a container node, and why:
#  SystemVerification: kubeadm reads the kernel config (/proc/config.gz or /boot/config-*) and
#    /lib/modules, which a container of this host does not have; cgroup v1 is also reported there.
PREFLIGHT_IGNORED = ["SystemVerification"]


class KubeadmError(RuntimeError):
    """The kubeadm test bed could not be brought up."""


def _log(msg: str) -> None:
    print(f"[kubeadm] {msg}", file=sys.stderr, flush=True)


NODE_SHARE = "/opt/breakfix"  # where nodes see the host's binaries and image archives (read-only)


def shared_folders(images: ImageSet) -> dict[str, Path]:
    """Return {folder inside the node: host folder} shared read-only, like a Vagrant synced folder."""
    return {
        f"{NODE_SHARE}/kubernetes": component("kubernetes").bin_dir,
        f"{NODE_SHARE}/cni": component("cni-plugins").bin_dir,
        f"{NODE_SHARE}/images": images.control_plane_archive.parent,
    }


def node_run_args(images: ImageSet | None = None) -> list[str]:
    """Return the extra docker run arguments a kubeadm node needs on top of the test bed's."""
    args = ["-p", f"127.0.0.1::{API_PORT}"]
    for inside, host in (shared_folders(images) if images else {}).items():
        args += ["-v", f"{host}:{inside}:ro"]
    if Path("/dev/kmsg").exists():
        args += ["--device", "/dev/kmsg"]  # kubelet's OOM watcher reads it
    # /proc/sys is read-only in the node: set the namespaced sysctls kubeadm needs at creation.
    args += ["--sysctl", "net.ipv4.ip_forward=1"]
    if Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        args += ["--sysctl", "net.bridge.bridge-nf-call-iptables=1"]
        args += ["--sysctl", "net.bridge.bridge-nf-call-ip6tables=1"]
    return args


def host_has_swap() -> bool:
    """Tell whether the host (and so every node container) has swap enabled."""
    try:
        return len(Path("/proc/swaps").read_text().strip().splitlines()) > 1
    except OSError:
        return False


def provisioning_vars(run: Run, images: ImageSet, workdir: Path, copy_over_ssh: bool = False) -> dict[str, Any]:
    """Return the extra vars that point vagrant/'s roles at this run's local artifacts.

    By default the nodes read binaries and archives from the read-only shared folders; with
    COPY_OVER_SSH Ansible copies them from this host instead (slower, about 90 s more).
    """
    kubelet_extra: dict[str, Any] = {
        "failCgroupV1": False,  # the host runs cgroup v1; kubelet 1.34 refuses it unless told
        # Images cannot be pulled again: never garbage-collect them, never evict for a busy host disk.
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        # The node's /etc/resolv.conf names docker's 127.0.0.11, which inside a pod is CoreDNS itself
        # (its loop plugin stops it). The test bed has no upstream DNS: name the node's own address,
        # so cluster names resolve and other names fail fast, and no query leaves the node network.
        "resolvConf": "/etc/kubernetes/resolv.conf",
    }
    if host_has_swap():
        kubelet_extra["failSwapOn"] = False  # the host's swap is visible in the node and cannot be turned off
    if copy_over_ssh:
        k8s_bin, cni_bin = component("kubernetes").bin_dir, component("cni-plugins").bin_dir
        cp_path, node_path = images.control_plane_archive, images.node_archive
    else:
        k8s_bin, cni_bin = Path(NODE_SHARE, "kubernetes"), Path(NODE_SHARE, "cni")
        cp_path = Path(NODE_SHARE, "images", images.control_plane_archive.name)
        node_path = Path(NODE_SHARE, "images", images.node_archive.name)
    cp_tar, node_tar = repr(str(cp_path)), repr(str(node_path))
    return {
        "common_install_packages": False,  # the node image has them; nodes reach no mirror
        "common_apply_sysctls": False,  # read-only /proc/sys: set by docker run --sysctl, checked by the role
        "containerd_install": False,
        "containerd_cgroup_driver": "cgroupfs",  # systemd in the node does not own the host's cgroup tree
        "containerd_sandbox_image": images.pause,
        "containerd_restrict_oom_score_adj": True,  # nodes run without CAP_SYS_RESOURCE
        "kubernetes_version": component("kubernetes").version.lstrip("v"),
        "k8s_local_artifacts": str(k8s_bin),
        "k8s_local_cni_plugins": str(cni_bin),
        "k8s_local_src_on_node": not copy_over_ssh,
        "k8s_local_images": f"{{{{ [{cp_tar}, {node_tar}] if 'control_plane' in group_names else [{node_tar}] }}}}",
        "kubelet_cgroup_root": f"/{CGROUP_PARENT}/{run.run_id}-{{{{ inventory_hostname }}}}",
        "kubelet_kernel_tunables_shim": True,
        "kubelet_resolv_conf_nameservers": ["{{ kubeadm_node_ip }}"],
        "kubeadm_image_repository": images.repository,
        "kubeadm_etcd_image_tag": images.etcd_tag,
        "kubeadm_dns_image_tag": images.coredns_tag,
        "metrics_server_image": images.metrics_server,
        "registry_install": False,  # the node image has Debian's package; nodes reach no mirror
        "registry_port": REGISTRY_PORT,
        "registry_seed_images": [{"source": images.web, "name": REGISTRY_WEB}],
        "kubeadm_image_pull_policy": "Never",
        "kubeadm_ignore_preflight_errors": list(PREFLIGHT_IGNORED),
        "kubeadm_cert_sans": ["127.0.0.1", "localhost"],
        "kubeadm_pod_cidr": POD_CIDR,
        "kubeadm_service_cidr": SERVICE_CIDR,
        "kubelet_config_extra": kubelet_extra,
        # nf_conntrack_max is global to the host kernel: a node's network namespace may not set it.
        "kube_proxy_config_extra": {"conntrack": {"maxPerCore": 0}},
        "cni_plugin": "bridge",
        "kubeconfig_fetch_dest": str(workdir / "admin.conf"),
    }


def breakfix_inventory(run: Run, kubeconfig: Path, images: ImageSet) -> dict[str, Any]:
    """Return the cluster's breakfix inventory (docs/inventory.md format) from the run's node inventory."""
    data: dict[str, Any] = yaml.safe_load(run.inventory_path.read_text())
    all_vars = data["all"]["vars"]
    control_plane = next(iter(data["all"]["children"]["control_plane"]["hosts"].values()))
    registry = f"{control_plane['breakfix_node_ip']}:{REGISTRY_PORT}"
    all_vars.update(
        {
            "breakfix_cluster": f"kubeadm-{run.run_id}",
            "breakfix_provider": "testbed",
            "breakfix_kubeconfig": str(kubeconfig),
            "breakfix_context": "kubernetes-admin@kubernetes",
            "breakfix_capabilities": list(CAPABILITIES),
            "breakfix_images": {
                "web": images.web,
                "shell": images.shell,
                "python": images.python,
                "pause": images.pause,
                "private-web": f"{registry}/{REGISTRY_WEB}",  # pulled for real, with credentials
            },
            "breakfix_image_pull_policy": "Never",
        }
    )
    return data


@dataclass
class KubeadmCluster:
    """A running kubeadm cluster on test bed nodes."""

    run: Run
    inventory: Path  # breakfix inventory (also an Ansible inventory)
    kubeconfig: Path  # admin kubeconfig, server https://127.0.0.1:PORT
    api_port: int
    images: ImageSet | None = None  # None for a cluster loaded from disk
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        """Return the folder with the inventory, kubeconfig and Ansible logs."""
        return self.inventory.parent

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None) -> str:
        """Run the locally built kubectl against this cluster and return its output."""
        cmd = [str(component("kubernetes").binary("kubectl")), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input, check=False)
        if check and proc.returncode != 0:
            raise KubeadmError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def stop(self) -> cleanup.Leftovers:
        """Remove the nodes (containers, volumes, network), the run folder and the pods' cgroups."""
        left = self.run.teardown()
        remove_cgroups(self.run.run_id)
        return left


def remove_cgroups(run_id: str | None = None) -> None:
    """Remove the (empty) pod cgroups of RUN_ID, or of every run that no longer has containers."""
    live = set(cleanup.all_runs()) if run_id is None else set()
    for hierarchy in Path("/sys/fs/cgroup").glob("*"):
        parent = hierarchy / CGROUP_PARENT
        if hierarchy.is_symlink() or not parent.is_dir():
            continue
        for node_dir in parent.iterdir():
            if not node_dir.is_dir():
                continue
            owner = node_dir.name.split("-", 1)[0]
            if (run_id is not None and owner != run_id) or owner in live:
                continue
            for sub in sorted((p for p in node_dir.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                _rmdir(sub)
            _rmdir(node_dir)
        _rmdir(parent)


def _rmdir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _published_port(container: str, port: int) -> int:
    for line in dockercli.docker("port", container, f"{port}/tcp").splitlines():
        host, _, published = line.strip().rpartition(":")
        if host == "127.0.0.1":
            return int(published)
    raise KubeadmError(f"{container}: port {port} is not published on 127.0.0.1")


def ansible_path() -> str:
    """Return PATH with this interpreter's folder first, so the venv's ansible-playbook is found."""
    from breakfix.ansible import search_path

    return search_path()


def run_playbook(
    inventory: Path, extravars: dict[str, Any], workdir: Path, limit: str | None = None
) -> dict[str, dict[str, int]]:
    """Run vagrant/playbooks/site.yml with ansible-runner; return its stats, raise on failure."""
    import ansible_runner

    private = Path(tempfile.mkdtemp(prefix="runner-", dir=workdir))
    control = Path(tempfile.mkdtemp(prefix="cp-", dir="/tmp"))  # short: ssh's socket path limit
    try:
        result = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(PLAYBOOK),
            inventory=str(inventory),
            extravars=extravars,
            limit=limit,
            envvars={
                "PATH": ansible_path(),
                "ANSIBLE_ROLES_PATH": str(ROLES),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
                "ANSIBLE_HOST_KEY_CHECKING": "True",
                "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
                "ANSIBLE_FORCE_COLOR": "False",
                "ANSIBLE_NOCOLOR": "True",
                "ANSIBLE_PIPELINING": "True",
            },
            quiet=True,
        )
        stdout = result.stdout.read() if result.stdout else ""
        (workdir / "ansible.log").write_text(stdout)
        (workdir / "ansible-profile.txt").write_text(task_profile(result.events))
        if result.rc != 0 or result.status != "successful":
            raise KubeadmError(
                f"site.yml failed ({result.status}, rc {result.rc}); log: {workdir / 'ansible.log'}\n{stdout[-6000:]}"
            )
        stats: dict[str, dict[str, int]] = result.stats or {}
        return stats
    finally:
        shutil.rmtree(control, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


def task_profile(events: Any) -> str:
    """Return the slowest tasks of an ansible-runner run, one `seconds  role : task` line each."""
    slowest: dict[str, float] = {}
    for event in events:
        data = event.get("event_data", {})
        if event.get("event", "").startswith("runner_on_") and data.get("duration"):
            name = f"{data.get('role', '-')} : {data.get('task', '?')}"
            slowest[name] = max(slowest.get(name, 0.0), float(data["duration"]))
    ranked = sorted(slowest.items(), key=lambda item: -item[1])
    return "".join(f"{seconds:7.1f}  {name}\n" for seconds, name in ((s, n) for n, s in ranked))


def _kubeconfig_for_host(admin_conf: Path, port: int, dest: Path) -> None:
    """Write admin.conf with its server pointed at https://127.0.0.1:PORT (a SAN of the API server cert)."""
    data = yaml.safe_load(admin_conf.read_text())
    for entry in data["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{port}"
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    dest.chmod(0o600)


def wait_ready(cluster: KubeadmCluster, timeout: float = READY_TIMEOUT) -> None:
    """Wait until every node is Ready and the kube-proxy, CoreDNS and metrics-server pods are Ready."""
    deadline = time.monotonic() + timeout
    expected = {n.name for n in cluster.run.nodes}
    last = ""
    while time.monotonic() < deadline:
        try:
            nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json", timeout=30))["items"]
            ready = {
                n["metadata"]["name"]
                for n in nodes
                if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
            }
            pods = json.loads(cluster.kubectl("get", "pods", "-n", "kube-system", "-o", "json", timeout=30))["items"]
            pending = [
                p["metadata"]["name"]
                for p in pods
                if p["metadata"]["name"].startswith(("coredns", "kube-proxy", "metrics-server"))
                and not any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
            ]
            have_dns = any(p["metadata"]["name"].startswith("coredns") for p in pods)
            last = f"nodes ready {sorted(ready)} of {sorted(expected)}; not ready pods {pending}"
            if ready >= expected and not pending and have_dns:
                return
        except (KubeadmError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            last = str(exc)
        time.sleep(2)
    raise KubeadmError(f"cluster not ready after {timeout:.0f}s: {last}\n{diagnose_cluster(cluster)}")


def diagnose_cluster(cluster: KubeadmCluster) -> str:
    """Which nodes and kube-system pods are not Ready, with their events and last log lines (for an error)."""
    from tests.testbed.kubeadm.diagnose import diagnose

    def node_exec(name: str, command: Sequence[str]) -> str:
        try:
            container = cluster.run.node(name).container
            return dockercli.docker("exec", container, *command, check=False, timeout=30)
        except Exception as exc:  # the node container itself is gone or hangs
            return f"(docker exec on {name} failed: {exc})"

    try:
        return diagnose(cluster.kubectl, node_exec, [n.name for n in cluster.run.nodes])
    except Exception as exc:  # the diagnosis must never hide the failure it explains
        return f"(no diagnosis: {type(exc).__name__}: {exc})"


def start_kubeadm_cluster(
    workers: int = 1, keep: bool = False, ready_timeout: float = READY_TIMEOUT, copy_over_ssh: bool = False
) -> KubeadmCluster:
    """Start nodes, provision kubeadm + containerd + bridge CNI with the roles, and wait until Ready.

    COPY_OVER_SSH: Ansible copies binaries and image archives from this host (as it would to remote
    machines) instead of the nodes reading them from read-only shared folders.
    """
    absent = artifacts_ready()
    if absent:
        raise KubeadmError(
            f"artifacts not built: {', '.join(absent)} (python -m tests.testbed.artifacts {' '.join(absent)})"
        )
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    images = ensure_images()
    timings["images"] = time.monotonic() - t0
    remove_cgroups(None)
    t = time.monotonic()
    run = start_nodes(count_workers=workers, keep=keep, extra_run_args=node_run_args(None if copy_over_ssh else images))
    timings["nodes"] = time.monotonic() - t
    try:
        workdir = run.directory / "kubeadm"
        workdir.mkdir()
        api_port = _published_port(run.node("cp1").container, API_PORT)
        kubeconfig = workdir / "kubeconfig"
        inventory = workdir / "inventory.yml"
        inv = breakfix_inventory(run, kubeconfig, images)
        inventory.write_text(
            "# breakfix kubeadm test bed: written by tests/testbed/kubeadm, removed with its run\n"
            + yaml.safe_dump(inv, sort_keys=False)
        )
        t = time.monotonic()
        run_playbook(inventory, provisioning_vars(run, images, workdir, copy_over_ssh), workdir)
        timings["provision"] = time.monotonic() - t
        _kubeconfig_for_host(workdir / "admin.conf", api_port, kubeconfig)
        cluster = KubeadmCluster(run, inventory, kubeconfig, api_port, images, timings)
        t = time.monotonic()
        wait_ready(cluster, ready_timeout)
        timings["ready"] = time.monotonic() - t
        timings["total"] = time.monotonic() - t0
        (workdir / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
        return cluster
    except BaseException:
        if os.environ.get("BREAKFIX_TESTBED_KEEP_FAILED") != "1":
            run.teardown()
            remove_cgroups(run.run_id)
        raise


BRINGUP_ATTEMPTS = int(os.environ.get("BREAKFIX_KUBEADM_ATTEMPTS", "2"))


def bring_up(
    workers: int = 1,
    attempts: int = BRINGUP_ATTEMPTS,
    start: Callable[..., KubeadmCluster] | None = None,
    log: Callable[[str], None] = _log,
) -> KubeadmCluster:
    """Start a cluster; when its bring-up fails, say why and start a fresh one (ATTEMPTS in all), else raise.

    start_kubeadm_cluster removes a cluster that did not come up (unless BREAKFIX_TESTBED_KEEP_FAILED=1),
    so each attempt begins from new nodes. Missing artifacts are not retried: nothing would change."""
    absent = artifacts_ready() if start is None else []
    if absent:
        raise KubeadmError(
            f"artifacts not built: {', '.join(absent)} (python -m tests.testbed.artifacts {' '.join(absent)})"
        )
    failures: list[str] = []
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return (start or start_kubeadm_cluster)(workers=workers)
        except Exception as exc:  # a node that did not boot, Ansible, a pod never Ready: try once more
            failures.append(f"attempt {attempt}: {type(exc).__name__}: {exc}")
            if attempt < attempts:
                log(f"bring-up attempt {attempt} of {attempts} failed; starting a fresh cluster. Why:\n{exc}")
    raise KubeadmError(f"the kubeadm cluster did not come up in {len(failures)} attempts:\n" + "\n".join(failures))


def load_cluster(run_id: str) -> KubeadmCluster:
    """Return the kubeadm cluster of an existing run (started with keep=True)."""
    run = Run.load(run_id)
    workdir = run.directory / "kubeadm"
    inventory = workdir / "inventory.yml"
    if not inventory.is_file():
        raise KubeadmError(f"run {run_id} has no kubeadm cluster")
    port = _published_port(run.node("cp1").container, API_PORT)
    return KubeadmCluster(run, inventory, workdir / "kubeconfig", port)


def reprovision(cluster: KubeadmCluster, copy_over_ssh: bool = False) -> dict[str, dict[str, int]]:
    """Run site.yml again on a running cluster (same variables); return Ansible's stats."""
    images = cluster.images or ensure_images()
    vars_ = provisioning_vars(cluster.run, images, cluster.directory, copy_over_ssh)
    return run_playbook(cluster.inventory, vars_, cluster.directory)
