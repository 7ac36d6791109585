"""Vagrant clusters: VMs from vagrant/Vagrantfile, provisioned with Ansible through ansible-runner."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from breakfix.errors import ClusterError
from breakfix.providers.base import Log, cluster_dir, missing, stream


def vagrant_dir() -> Path:
    """The folder holding the Vagrantfile (the repo's vagrant/, or BREAKFIX_VAGRANT_DIR)."""
    if os.environ.get("BREAKFIX_VAGRANT_DIR"):
        return Path(os.environ["BREAKFIX_VAGRANT_DIR"])
    return Path(__file__).resolve().parents[2] / "vagrant"


class VagrantProvider:
    """1 control plane + N workers as VMs; everything a lab can need, real clock and swap included."""

    name = "vagrant"
    capabilities = frozenset({"static-pods", "systemd", "multi-node", "cni", "real-clock", "swap", "netpol-cni"})

    def missing_tools(self) -> list[str]:
        """Missing tools with install hints."""
        lines = missing(["vagrant"])
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

    def up(self, name: str, workers: int, log: Log) -> Path:
        """Boot the VMs, write the inventory from `vagrant ssh-config`, provision them with the playbooks."""
        import sys

        from breakfix.ansible import run_playbook

        folder = cluster_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        env = self._env(name)
        log(
            f"note: the Vagrant cluster's nodes come from {vagrant_dir() / 'settings.yaml'} (--workers {workers} "
            "applies to kind only)"
        )
        stream(["vagrant", "up", "--no-provision"], log, "booting VMs", env=env)
        stream(
            [sys.executable, str(vagrant_dir() / "inventory_from_ssh_config.py"), "--out", str(folder)],
            log,
            "writing the inventory (host keys scanned from the new VMs)",
            env=env,
        )
        inventory = folder / "inventory.yml"
        if not inventory.is_file():
            raise ClusterError(f"no inventory was written to {inventory}")
        log("provisioning with Ansible (kubeadm + containerd + Calico)")
        run_playbook(
            vagrant_dir() / "playbooks" / "site.yml",
            inventory,
            log,
            extravars={"kubeconfig_fetch_dest": str(folder / "admin.conf")},
        )
        return inventory

    def down(self, name: str, log: Log) -> None:
        """Destroy the VMs and the cluster's folder."""
        env = self._env(name)
        stream(["vagrant", "destroy", "-f"], log, "destroying VMs", env=env)
        shutil.rmtree(cluster_dir(name), ignore_errors=True)
