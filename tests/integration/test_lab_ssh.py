"""`lab ssh` against a real OpenSSH server: the inventory's key and host keys, quoting, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from breakfix.state import State
from tests.integration.sshd import Sshd


def register(tmp_path: Path, sshd: Sshd, known_hosts: Path) -> dict[str, str]:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  vars:\n    breakfix_cluster: c1\n    breakfix_provider: inventory\n"
        f"    breakfix_known_hosts: {known_hosts}\n    ansible_user: root\n"
        f"    ansible_ssh_private_key_file: {sshd.key_file}\n"
        "  children:\n    control_plane:\n      hosts:\n"
        f"        cp1: {{ansible_host: 127.0.0.1, ansible_port: {sshd.port}}}\n"
    )
    state = tmp_path / "state"
    env = {**os.environ, "BREAKFIX_STATE_DIR": str(state)}
    state.mkdir()
    State(state / "state.db").add_cluster("c1", str(inventory), "inventory", "marker")
    return env


def lab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "breakfix", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_a_command_runs_on_the_node_as_typed_and_its_exit_code_is_labs(sshd: Sshd, tmp_path: Path) -> None:
    env = register(tmp_path, sshd, sshd.known_hosts)
    done = lab(env, "ssh", "control-plane", "--", "printf", "%s|", "a b", "$HOME;echo pwned")
    assert (done.returncode, done.stdout) == (0, "a b|$HOME;echo pwned|"), done.stderr
    assert lab(env, "ssh", "cp1", "--", "sh", "-c", "exit 7").returncode == 7
    gone = lab(env, "ssh", "w9")
    assert gone.returncode == 1 and gone.stderr.strip().splitlines()[-1].endswith("(nodes: cp1)")


def test_a_node_answering_with_another_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other_known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    algo, key = (tmp_path / "k.pub").read_text().split()[:2]
    other.write_text(f"[127.0.0.1]:{sshd.port} {algo} {key}\n")
    env = register(tmp_path, sshd, other)
    done = lab(env, "ssh", "cp1", "--", "echo", "reached")
    assert done.returncode != 0 and "reached" not in done.stdout
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in done.stderr or "Host key verification failed" in done.stderr
