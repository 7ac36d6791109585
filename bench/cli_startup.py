"""Cold-start time of `lab --help` and `lab list`, as medians and as ratios to `python -c pass` in the same run.

Run with the project's interpreter:  .venv/bin/python bench/cli_startup.py [--runs 15]
Goal (issue 2): both under 0.35 s median and under 6x `python -c pass`.
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


def median_seconds(argv: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall time of a command over RUNS runs (after one warm-up for the OS file cache)."""
    subprocess.run(argv, env=env, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    lab = str(Path(sys.executable).with_name("lab"))
    env = {**os.environ, "BREAKFIX_STATE_DIR": tempfile.mkdtemp(prefix="bench-state-")}
    base = median_seconds([sys.executable, "-c", "pass"], args.runs, env)
    print(f"python -c pass      median {base:.3f} s")
    for name, argv in (
        ("lab --help", [lab, "--help"]),
        ("lab list", [lab, "list"]),
        ("lab list --json", [lab, "list", "--json"]),
    ):
        t = median_seconds(argv, args.runs, env)
        verdict = "ok" if t < 0.35 and t / base < 6 else "over goal"
        print(f"{name:<19} median {t:.3f} s  ratio {t / base:.1f}x  ({verdict})")


if __name__ == "__main__":
    main()
