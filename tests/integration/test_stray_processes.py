"""A component started by hand beside its unit is found on a real machine (reset names it)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from breakfix.collateral import stray_processes
from breakfix.transport.local import LocalTransport
from breakfix.transport.node import Node


def test_a_kubelet_started_by_hand_is_named(tmp_path: Path) -> None:
    fake_kubelet = tmp_path / "kubelet"  # a real process whose name is kubelet, in no kubelet.service cgroup
    shutil.copy("/bin/sleep", fake_kubelet)
    proc = subprocess.Popen([str(fake_kubelet), "60"])
    try:
        node = Node("here", "worker", LocalTransport())
        deadline = time.monotonic() + 10
        found: list[str] = []
        while not found and time.monotonic() < deadline:
            found = [line for line in stray_processes(node) if f"pid {proc.pid})" in line]
            time.sleep(0.2)
        assert found == [
            f"here: kubelet (pid {proc.pid}) runs outside kubelet.service (started by hand?): "
            f"stop it with `kill {proc.pid}`, then `systemctl restart kubelet`"
        ]
    finally:
        proc.kill()
        proc.wait()
    assert not [line for line in stray_processes(node) if f"pid {proc.pid})" in line]
