"""Vagrant clusters: VMs from vagrant/Vagrantfile, provisioned with Ansible through ansible-runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from breakfix.errors import ClusterError, UsageError
from breakfix.providers.base import Log, cluster_dir, missing, stream


def vagrant_dir() -> Path:
    """The folder holding the Vagrantfile: BREAKFIX_VAGRANT_DIR, the installed package's copy or the repo's vagrant/."""
    if os.environ.get("BREAKFIX_VAGRANT_DIR"):
        return Path(os.environ["BREAKFIX_VAGRANT_DIR"])
    package = Path(__file__).resolve().parents[1]
    shipped = package / "_vagrant"
    return shipped if shipped.is_dir() else package.parent / "vagrant"


class VagrantProvider:
    """1 control plane + N workers as VMs; everything a lab can need, real clock and swap included."""

    name = "vagrant"
    capabilities = frozenset(
        {
            "static-pods",
            "systemd",
            "multi-node",
            "cni",
            "real-clock",
            "swap",
            "netpol-cni",
            "cni-config-file",
            "metrics-server",
            "private-registry",
        }
    )

    def missing_tools(self) -> list[str]:
        """Missing tools with install hints."""
        from breakfix.ansible import search_path

        lines = missing(["vagrant"]) + missing(["ansible-playbook"], search_path())
        if not (vagrant_dir() / "Vagrantfile").is_file():
            lines.append(f"no Vagrantfile in {vagrant_dir()} (set BREAKFIX_VAGRANT_DIR)")
        return lines

    def _env(self, name: str) -> dict[str, str]:
        return {
            **os.environ,
            "VAGRANT_CWD": str(vagrant_dir()),
            "BREAKFIX_CLUSTER_NAME": name,
            "VAGRANT_DOTFILE_PATH": str(cluster_dir(name) / ".vagrant"),
        }

    def _write_inventory(self, name: str, log: Log) -> Path:
        """Write the cluster's inventory from `vagrant ssh-config` (SSH ports, keys and scanned host keys)."""
        folder = cluster_dir(name)
        stream(
            [sys.executable, str(vagrant_dir() / "inventory_from_ssh_config.py"), "--out", str(folder)],
            log,
            "writing the inventory (host keys scanned from the VMs)",
            env=self._env(name),
        )
        inventory = folder / "inventory.yml"
        if not inventory.is_file():
            raise ClusterError(f"no inventory was written to {inventory}")
        return inventory

    def up(self, name: str, workers: int, log: Log, image: str | None = None) -> Path:
        """Boot the VMs, write the inventory from `vagrant ssh-config`, provision them with the playbooks."""
        from breakfix.ansible import run_playbook

        if image:
            raise UsageError(f"--image is for kind; the Vagrant box is set in {vagrant_dir() / 'settings.yaml'}")
        folder = cluster_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        env = self._env(name)
        log(
            f"note: the Vagrant cluster's nodes come from {vagrant_dir() / 'settings.yaml'} (--workers {workers} "
            "applies to kind only)"
        )
        stream(["vagrant", "up", "--no-provision"], log, "booting VMs", env=env)
        inventory = self._write_inventory(name, log)
        log("provisioning with Ansible (kubeadm + containerd + Calico)")
        run_playbook(
            vagrant_dir() / "playbooks" / "site.yml",
            inventory,
            log,
            extravars={"kubeconfig_fetch_dest": str(folder / "admin.conf")},
        )
        return inventory

    def stop(self, name: str, log: Log) -> None:
        """`vagrant halt`: every VM shuts down cleanly; its disk stays."""
        stream(["vagrant", "halt"], log, "halting VMs", env=self._env(name))

    def start(self, name: str, log: Log) -> Path:
        """`vagrant up --no-provision`, then the inventory again (Vagrant may forward SSH on other ports)."""
        stream(["vagrant", "up", "--no-provision"], log, "booting VMs", env=self._env(name))
        return self._write_inventory(name, log)

    def down(self, name: str, log: Log) -> None:
        """Destroy the VMs and the cluster's folder."""
        env = self._env(name)
        stream(["vagrant", "destroy", "-f"], log, "destroying VMs", env=env)
        shutil.rmtree(cluster_dir(name), ignore_errors=True)

    def snapshot_save(self, name: str, label: str, log: Log) -> None:
        """`vagrant snapshot save --force LABEL` on every VM."""
        stream(["vagrant", "snapshot", "save", "--force", label], log, f"saving snapshot {label}", env=self._env(name))

    def snapshot_restore(self, name: str, label: str, log: Log) -> None:
        """`vagrant snapshot restore --no-provision LABEL` on every VM."""
        if label not in self.snapshot_list(name):
            raise ClusterError(f"cluster {name} has no snapshot {label!r} on every VM (`lab cluster snapshot list`)")
        stream(
            ["vagrant", "snapshot", "restore", "--no-provision", label],
            log,
            f"restoring snapshot {label}",
            env=self._env(name),
        )

    def snapshot_list(self, name: str) -> list[str]:
        """Snapshots that every VM has, from `vagrant snapshot list --machine-readable`."""
        proc = subprocess.run(
            ["vagrant", "snapshot", "list", "--machine-readable"],
            capture_output=True,
            text=True,
            env=self._env(name),
            check=False,
        )
        per_vm = parse_snapshot_list(proc.stdout)
        if proc.returncode != 0:
            errors = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines() if "error" in line.lower()]
            raise ClusterError(f"vagrant snapshot list failed: {(errors or [proc.stderr.strip()])[-1]}")
        if not per_vm:
            return []
        common = set.intersection(*(set(v) for v in per_vm.values()))
        return sorted(common)


def parse_snapshot_list(machine_readable: str) -> dict[str, list[str]]:
    """{VM: [snapshot, ...]} from `vagrant snapshot list --machine-readable`: each VM's `ui,detail` lines."""
    out: dict[str, list[str]] = {}
    empty: set[str] = set()
    for line in machine_readable.splitlines():
        fields = line.split(",", 4)
        if len(fields) != 5 or fields[2] != "ui" or not fields[1]:
            continue
        vm, kind, text = fields[1], fields[3], fields[4].replace("%!(VAGRANT_COMMA)", ",").strip()
        out.setdefault(vm, [])
        if kind == "output" and text.startswith("No snapshots"):
            empty.add(vm)  # the detail that follows is advice, not a snapshot
        elif kind == "detail" and text and vm not in empty:
            out[vm].append(text)
    return out
