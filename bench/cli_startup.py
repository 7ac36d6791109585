"""Cold-start time of everyday `lab` commands, as medians and as ratios to `python -c pass` in the same run.

Run with the project's interpreter:  .venv/bin/python bench/cli_startup.py [--runs 15]
Goals (issue 16): `lab list` under 4x `python -c pass`; `lab --help`, `lab status`, `lab show` and a shell
completion (one Tab) under 6x. Ratios, not seconds: a loaded machine slows both sides alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"lab list": 4.0, "lab list --json": 4.0}  # every other command: 6x


def median_seconds(argv: list[str], runs: int, env: dict[str, str], codes: tuple[int, ...] = (0, 1)) -> float:
    """Median wall time of a command over RUNS runs (after one warm-up for the OS file cache).

    An exit code outside CODES stops the bench (by default 0 or 1: `lab status` with nothing started exits 1)."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True)
        if done.returncode not in codes:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-400:]}")
        if i:  # the first run warms the OS file cache
            times.append(time.perf_counter() - start)
    return statistics.median(times)


INVENTORY = """all:
  vars: {breakfix_cluster: bench}
  children:
    control_plane: {hosts: {cp1: {breakfix_node_ip: 10.0.0.10}}}
"""


def register_idle_cluster(state: Path, env: dict[str, str]) -> None:
    """Register a cluster named bench (an inventory on disk; nothing reaches it) with no lab running."""
    inventory = state / "bench.yaml"
    inventory.write_text(INVENTORY)
    script = "import sys; from breakfix.state import State; State().add_cluster('bench', sys.argv[1], 'ssh', 'm')"
    subprocess.run([sys.executable, "-c", script, str(inventory)], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    lab = str(Path(sys.executable).with_name("lab"))
    state = tempfile.mkdtemp(prefix="bench-state-")
    env = {**os.environ, "BREAKFIX_STATE_DIR": state}
    register_idle_cluster(Path(state), env)  # `lab status` as a student sees it between labs
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a user's machine: the warm-up run leaves compiled modules
    base = median_seconds([sys.executable, "-c", "pass"], args.runs, env)
    print(f"python -c pass       median {base:.3f} s")
    complete = {**env, "_LAB_COMPLETE": "complete_bash", "COMP_WORDS": "lab show etcd", "COMP_CWORD": "2"}
    for name, argv, run_env in (
        ("lab --help", [lab, "--help"], env),
        ("lab list", [lab, "list"], env),
        ("lab list --json", [lab, "list", "--json"], env),
        ("lab status (idle)", [lab, "status"], env),
        ("lab show", [lab, "show", "etcd-datadir"], env),
        ("completion (Tab)", [lab], complete),
    ):
        t = median_seconds(argv, args.runs, run_env)
        goal = GOALS.get(name, 6.0)
        verdict = "ok" if t / base < goal else f"over the {goal:g}x goal"
        print(f"{name:<20} median {t:.3f} s  ratio {t / base:.1f}x  ({verdict})")


if __name__ == "__main__":
    main()
