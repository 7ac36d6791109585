"""Run Ansible playbooks over a cluster's inventory with ansible-runner (provisioning, fleet operations)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from breakfix.errors import ClusterError


def search_path() -> str:
    """PATH with this interpreter's folder first, so a venv's ansible-playbook is found without activating it."""
    here = str(Path(sys.executable).parent)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != here]
    return os.pathsep.join([here, *rest])


def run_playbook(
    playbook: Path,
    inventory: Path,
    log: Callable[[str], None],
    extravars: dict[str, Any] | None = None,
    limit: str | None = None,
) -> dict[str, dict[str, int]]:
    """Run PLAYBOOK against INVENTORY, report each task as progress; returns per-host counts (ok, changed, ...).

    Host keys stay checked (the inventory's ssh args), and every run gets its own SSH control folder so no
    connection from an earlier run is reused without that check."""
    import ansible_runner

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        if event.get("event") == "playbook_on_task_start":
            log(f"  ansible: {data.get('task', '?')}")
        elif event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            result = data.get("res") or {}
            log(f"  ansible: {data.get('host')}: {result.get('msg') or result.get('stderr') or 'failed'}")
        return True

    with tempfile.TemporaryDirectory(prefix="breakfix-ansible-") as tmp:
        envvars = {
            "PATH": search_path(),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(Path(tmp) / "cp"),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
        }
        cfg = playbook.parent.parent / "ansible.cfg"
        if cfg.is_file():
            envvars["ANSIBLE_CONFIG"] = str(cfg)
        result = ansible_runner.run(
            private_data_dir=tmp,
            playbook=str(playbook.resolve()),
            inventory=str(inventory.resolve()),
            extravars=extravars or {},
            limit=limit,
            envvars=envvars,
            quiet=True,
            event_handler=on_event,
        )
        stats: dict[str, dict[str, int]] = {}
        for key, hosts in (result.stats or {}).items():
            for host, count in (hosts or {}).items():
                stats.setdefault(host, {})[key] = int(count)
        if result.rc != 0:
            bad = sorted(h for h, s in stats.items() if s.get("failures") or s.get("dark"))
            raise ClusterError(f"playbook {playbook.name} failed (rc {result.rc}) on {', '.join(bad) or 'some hosts'}")
        return stats
