"""vagrant/: the inventory generator, and the playbook, roles and Vagrantfile checked by their own tools."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from breakfix.providers import get_provider
from tests.testbed.kubeadm.cluster import ansible_path

VAGRANT = Path(__file__).resolve().parents[3] / "vagrant"

SSH_CONFIG = """\
Host cp1
  HostName 127.0.0.1
  User vagrant
  Port 2222
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  IdentityFile /home/u/lab/.vagrant/machines/cp1/libvirt/private_key
  IdentitiesOnly yes

Host w1
  HostName 127.0.0.1
  User vagrant
  Port 2200
  IdentityFile "/home/u/lab dir/.vagrant/machines/w1/libvirt/private_key"

Host w2
  HostName=127.0.0.1
  User=vagrant
  Port=2201
  IdentityFile /k/w2
"""


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inventory_from_ssh_config", VAGRANT / "inventory_from_ssh_config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((VAGRANT / "settings.yaml").read_text())
    return data


def test_inventory_from_ssh_config_follows_settings() -> None:
    inv = _generator().inventory(SSH_CONFIG, _settings(), known_hosts="/x/known_hosts", kubeconfig="/x/admin.conf")
    hosts = inv["all"]["children"]
    assert list(hosts["control_plane"]["hosts"]) == ["cp1"]
    assert list(hosts["workers"]["hosts"]) == ["w1", "w2"]
    cp1 = hosts["control_plane"]["hosts"]["cp1"]
    assert cp1 == {
        "ansible_host": "127.0.0.1",
        "ansible_port": 2222,
        "ansible_user": "vagrant",
        "ansible_ssh_private_key_file": "/home/u/lab/.vagrant/machines/cp1/libvirt/private_key",
        "breakfix_node_ip": "192.168.56.10",
    }
    assert hosts["workers"]["hosts"]["w1"]["ansible_ssh_private_key_file"].endswith(
        "lab dir/.vagrant/machines/w1/libvirt/private_key"
    )
    assert hosts["workers"]["hosts"]["w2"]["ansible_port"] == 2201
    all_vars = inv["all"]["vars"]
    assert all_vars["breakfix_provider"] == "vagrant" and all_vars["ansible_become"] is True
    assert "StrictHostKeyChecking=yes" in all_vars["ansible_ssh_common_args"]  # Vagrant's "no" is not copied
    assert all_vars["kubeadm_pod_cidr"] == "10.244.0.0/16" and all_vars["cni_plugin"] == "calico"
    assert set(all_vars["breakfix_capabilities"]) == get_provider("vagrant").capabilities


def test_inventory_names_a_vm_that_is_not_up() -> None:
    with pytest.raises(ValueError, match="w2"):
        _generator().inventory(SSH_CONFIG.split("Host w2")[0], _settings())


def test_playbook_syntax(tmp_path: Path) -> None:
    playbook = shutil.which("ansible-playbook", path=ansible_path())
    if playbook is None:
        pytest.skip("ansible-playbook is not installed")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {"all": {"children": {"control_plane": {"hosts": {"cp1": {}}}, "workers": {"hosts": {"w1": {}}}}}}
        )
    )
    proc = subprocess.run(
        [playbook, "--syntax-check", "-i", str(inventory), "playbooks/site.yml"],
        cwd=VAGRANT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint() -> None:
    lint = shutil.which("ansible-lint", path=ansible_path())
    if lint is None:
        pytest.skip("ansible-lint is not installed")
    proc = subprocess.run([lint, "--nocolor"], cwd=VAGRANT, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_vagrant_validate() -> None:
    if shutil.which("vagrant") is None:
        pytest.skip("vagrant is not installed (Debian: apt-get install vagrant)")
    proc = subprocess.run(
        ["vagrant", "validate"], cwd=VAGRANT, capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
