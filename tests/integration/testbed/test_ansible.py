"""Proof that ansible-runner drives the test bed nodes through the run's inventory, host keys checked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ansible_runner
import paramiko
import pytest
import yaml

from breakfix.ansible import search_path
from tests.testbed.nodes import Run
from tests.testbed.sshclient import run

pytestmark = pytest.mark.testbed

PLAYBOOK = """\
- hosts: all
  gather_facts: true
  tasks:
    - name: write a file
      ansible.builtin.copy:
        dest: /etc/breakfix-proof
        content: "{{ inventory_hostname }} {{ ansible_facts['hostname'] }} {{ breakfix_node_ip }}\\n"
        mode: "0644"
    - name: restart a unit
      ansible.builtin.systemd_service:
        name: containerd
        state: restarted
"""


def _run_playbook(tmp_path: Path, inventory: Path) -> ansible_runner.Runner:
    (tmp_path / "project").mkdir(parents=True, exist_ok=True)
    (tmp_path / "project" / "proof.yml").write_text(PLAYBOOK)
    return ansible_runner.run(
        private_data_dir=str(tmp_path),
        playbook="proof.yml",
        inventory=str(inventory),
        envvars={
            "PATH": search_path(),  # the venv's ansible-playbook, without activating the venv
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_TIMEOUT": "20",
            # a private ControlPersist folder: a master connection reused from another run
            # would skip the host-key check
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp"),
        },
        quiet=True,
        timeout=300,
    )


def test_playbook_runs_on_every_node(
    testbed_run: Run, tmp_path: Path, testbed_ssh: Callable[[str], paramiko.SSHClient]
) -> None:
    """Facts, a file and a unit restart succeed on cp1 and w1 and report ok per host."""
    result = _run_playbook(tmp_path, testbed_run.inventory_path)
    stats = result.stats or {}
    assert result.status == "successful", (result.status, stats)
    assert set(stats["ok"]) == {"cp1", "w1"}
    assert not stats["failures"] and not stats["dark"]
    assert set(stats["changed"]) == {"cp1", "w1"}
    for node in testbed_run.nodes:
        content = run(testbed_ssh(node.name), "cat /etc/breakfix-proof")[1]
        assert content == f"{node.name} {node.name} {node.ip}\n"


def test_playbook_refuses_unknown_host_keys(testbed_run: Run, tmp_path: Path) -> None:
    """With an empty known_hosts the same inventory cannot reach any node (checking is on)."""
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    inv = yaml.safe_load(testbed_run.inventory_path.read_text())
    inv["all"]["vars"]["ansible_ssh_common_args"] = f"-o UserKnownHostsFile={empty} -o StrictHostKeyChecking=yes"
    bad_inventory = tmp_path / "inventory.yml"
    bad_inventory.write_text(yaml.safe_dump(inv))
    result = _run_playbook(tmp_path / "data", bad_inventory)
    stats = result.stats or {}
    assert result.status == "failed"
    assert set(stats["dark"]) == {"cp1", "w1"}
