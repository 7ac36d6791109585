"""`lab doctor`: local checks, one line each, with the fix when one fails; every probe can be replaced in tests."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from breakfix.inventory import ClusterSpec
from breakfix.providers.base import INSTALL_HINTS

MIN_PYTHON = (3, 11)
INOTIFY = {"fs.inotify.max_user_instances": 512, "fs.inotify.max_user_watches": 524288}
MIN_MEMORY = 4 * 1024**3  # kind needs about 4 GiB free
SSH_TIMEOUT = 3.0
TOOL_TIMEOUT = 10.0
MAX_HOSTS = 32  # an inventory bigger than this is checked in part (each probe is bounded, so is the count)
TOOLS = {
    "kind": ["kind", "version"],
    "vagrant": ["vagrant", "--version"],
    "kubectl": ["kubectl", "version", "--client"],
}


@dataclass
class Check:
    """One local check: its name, whether it passed, what was seen, and the fix when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The check as one line: a check mark, or a cross and the fix."""
        return f"✓ {self.name}: {self.detail}" if self.ok else f"✗ {self.name}: {self.detail}; fix: {self.fix}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _run(argv: list[str]) -> tuple[int, str]:
    """Run a local command with a deadline; (exit code, first line of its output)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)[:200]
    text = (done.stdout or done.stderr).strip().splitlines()
    return done.returncode, (text[0][:200] if text else "")


def _sysctl(name: str) -> int | None:
    try:
        return int(Path("/proc/sys", *name.split(".")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _mem_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


@dataclass
class Probes:
    """How the doctor looks at this machine; tests swap any of them."""

    python: Callable[[], tuple[int, int, int]] = lambda: (sys.version_info[0], sys.version_info[1], sys.version_info[2])
    which: Callable[[str], str | None] = shutil.which
    run: Callable[[list[str]], tuple[int, str]] = _run
    sysctl: Callable[[str], int | None] = _sysctl
    mem_available: Callable[[], int | None] = _mem_available
    connect: Callable[[str, int, float], None] = _connect
    exists: Callable[[str], bool] = os.path.exists


def minor(version: str) -> tuple[int, int] | None:
    """(major, minor) of a version string like v1.34.1 or 'Client Version: v1.33.0'."""
    found = re.search(r"v?(\d+)\.(\d+)", version)
    return (int(found.group(1)), int(found.group(2))) if found else None


def check_python(p: Probes) -> Check:
    """Python is recent enough."""
    v = p.python()
    shown = ".".join(map(str, v))
    return Check("python", v[:2] >= MIN_PYTHON, shown, f"use Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer")


def check_docker(p: Probes) -> Check:
    """The docker daemon answers (kind runs its nodes in it)."""
    if p.which("docker") is None:
        return Check("docker", False, "not on PATH", INSTALL_HINTS["docker"])
    code, out = p.run(["docker", "info", "--format", "{{.ServerVersion}}"])
    if code != 0:
        return Check(
            "docker", False, f"the daemon does not answer ({out})", "start it, or add yourself to the docker group"
        )
    return Check("docker", True, f"daemon {out}")


def check_tool(p: Probes, tool: str) -> tuple[Check, str]:
    """TOOL is on PATH and answers; returns the check and its version line."""
    if p.which(tool) is None:
        return Check(tool, False, "not on PATH", INSTALL_HINTS[tool]), ""
    code, out = p.run(TOOLS[tool])
    if code != 0:
        return Check(tool, False, f"does not run ({out})", INSTALL_HINTS[tool]), ""
    return Check(tool, True, out), out


def check_hypervisor(p: Probes) -> Check:
    """Vagrant has a hypervisor to run its VMs: VirtualBox, or libvirt with KVM."""
    if p.which("VBoxManage") is not None:
        code, out = p.run(["VBoxManage", "--version"])
        if code == 0:
            return Check("hypervisor", True, f"VirtualBox {out}")
    if p.which("virsh") is not None:
        code, out = p.run(["virsh", "--version"])
        if code == 0 and p.exists("/dev/kvm"):
            return Check("hypervisor", True, f"libvirt {out} with KVM")
        if code == 0:
            return Check(
                "hypervisor",
                False,
                f"libvirt {out}, but no /dev/kvm",
                "enable virtualization (VT-x/AMD-V) in the firmware and load kvm_intel or kvm_amd",
            )
    return Check(
        "hypervisor",
        False,
        "neither VirtualBox nor libvirt answers",
        "install VirtualBox, or libvirt with the vagrant-libvirt plugin (vagrant plugin install vagrant-libvirt)",
    )


def check_skew(kubectl_version: str, cluster_version: str | None, cluster: str) -> Check:
    """kubectl is within one minor version of the cluster's recorded version."""
    if not cluster_version:
        return Check("kubectl skew", True, f"{cluster}'s version is not recorded: not checked")
    client, server = minor(kubectl_version), minor(cluster_version)
    if client is None or server is None:
        return Check("kubectl skew", True, "a version could not be read: not checked")
    ok = client[0] == server[0] and abs(client[1] - server[1]) <= 1
    return Check(
        "kubectl skew",
        ok,
        f"kubectl {client[0]}.{client[1]}, {cluster} {server[0]}.{server[1]}",
        f"install kubectl {server[0]}.{server[1]} (within one minor of the cluster)",
    )


def check_inotify(p: Probes) -> list[Check]:
    """The inotify limits multi-node kind needs."""
    out = []
    for name, least in INOTIFY.items():
        value = p.sysctl(name)
        out.append(
            Check(
                name,
                value is not None and value >= least,
                f"{value if value is not None else 'unknown'} (needs {least})",
                f"sudo sysctl -w {name}={least} (and add it to /etc/sysctl.d/ to keep it)",
            )
        )
    return out


def check_memory(p: Probes) -> Check:
    """Enough free memory for a kind cluster."""
    free = p.mem_available()
    if free is None:
        return Check("memory", True, "free memory unknown: not checked")
    gib = free / 1024**3
    return Check("memory", free >= MIN_MEMORY, f"{gib:.1f} GiB free (kind needs 4)", "close programs or add memory")


def check_hosts(p: Probes, spec: ClusterSpec) -> list[Check]:
    """Each SSH node of the inventory answers on its port (TCP connect, bounded)."""
    out = []
    ssh = [n for n in spec.nodes if n.transport.scheme == "ssh"]
    for node in ssh[:MAX_HOSTS]:
        where = f"{node.transport.host}:{node.transport.port}"
        try:
            p.connect(node.transport.host, node.transport.port, SSH_TIMEOUT)
        except OSError as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc) or type(exc).__name__)
            out.append(Check(f"ssh {node.name}", False, f"{where} {why}", "start the machine or fix its address"))
        else:
            out.append(Check(f"ssh {node.name}", True, f"{where} answers"))
    if len(ssh) > MAX_HOSTS:
        out.append(Check("ssh", True, f"{len(ssh) - MAX_HOSTS} more hosts not checked"))
    return out


def diagnose(
    probes: Probes | None = None,
    spec: ClusterSpec | None = None,
    cluster_version: str | None = None,
) -> list[Check]:
    """Every local check; the cluster's (SPEC) decide which tools matter and which hosts to reach."""
    p = probes or Probes()
    provider = spec.provider if spec else None
    checks = [check_python(p)]
    kind = provider in (None, "kind")
    if kind:
        checks.append(check_docker(p))
    for tool in ("kind", "vagrant", "kubectl"):
        if (tool == "kind" and not kind) or (tool == "vagrant" and provider not in (None, "vagrant")):
            continue
        check, version = check_tool(p, tool)
        if tool == "vagrant" and provider is None and not check.ok:
            check = Check(tool, True, "not on PATH (only `lab cluster up --provider vagrant` needs it)")
        checks.append(check)
        if tool == "vagrant" and version:
            hypervisor = check_hypervisor(p)
            if provider is None and not hypervisor.ok:  # no Vagrant cluster chosen: a note, not a failure
                hypervisor = Check("hypervisor", True, f"{hypervisor.detail} (only Vagrant clusters need one)")
            checks.append(hypervisor)
        if tool == "kubectl" and check.ok and spec is not None:
            checks.append(check_skew(version, cluster_version, spec.name))
    if kind:
        checks.extend(check_inotify(p))
        checks.append(check_memory(p))
    if spec is not None:
        checks.extend(check_hosts(p, spec))
    return checks
