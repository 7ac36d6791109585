"""breakfix's own playbook runner (used by the providers) over the test bed nodes, host keys checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from breakfix.ansible import run_playbook
from breakfix.errors import ClusterError

PLAYBOOK = """
- hosts: all
  gather_facts: true
  tasks:
    - name: Write a fleet marker
      ansible.builtin.copy:
        dest: /etc/breakfix-fleet
        content: "{{ inventory_hostname }}\\n"
        mode: "0644"
"""


def test_playbook_over_the_inventory(testbed_inventory: Path, tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    book = tmp_path / "playbooks" / "fleet.yml"
    book.write_text(PLAYBOOK)
    lines: list[str] = []
    stats = run_playbook(book, testbed_inventory, lines.append)
    assert set(stats) == {"cp1", "w1"} and all(s.get("ok", 0) >= 2 for s in stats.values())
    assert any("Write a fleet marker" in line for line in lines)


def test_unknown_host_keys_fail_the_run(testbed_inventory: Path, tmp_path: Path) -> None:
    import yaml

    inv = yaml.safe_load(testbed_inventory.read_text())
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    inv["all"]["vars"]["ansible_ssh_common_args"] = f"-o UserKnownHostsFile={empty} -o StrictHostKeyChecking=yes"
    other = tmp_path / "inventory.yml"
    other.write_text(yaml.safe_dump(inv))
    (tmp_path / "playbooks").mkdir()
    book = tmp_path / "playbooks" / "fleet.yml"
    book.write_text(PLAYBOOK)
    with pytest.raises(ClusterError, match="failed"):
        run_playbook(book, other, lambda _m: None)
