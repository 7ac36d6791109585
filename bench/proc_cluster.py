"""Benchmark the process test cluster: warm start-to-ready time, memory (RSS) per process, stop time."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.testbed.proc_cluster import ProcCluster, missing_artifacts, start_proc_cluster

GOAL_READY_S = 20.0


def rss_mib(pid: int) -> float:
    """Return the resident memory of one process in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory(cluster: ProcCluster) -> dict[str, float]:
    """Return the RSS of each process of the cluster, in MiB."""
    return {name: round(rss_mib(pid), 1) for name, pid in cluster.pids().items()}


def main() -> int:
    """Start the cluster N times, print start-to-ready, memory after a settle time and stop time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="how many start/stop cycles (default 3)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait before sampling memory")
    parser.add_argument("--parallel", type=int, default=1, help="clusters running at once (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    missing = missing_artifacts()
    if missing:
        print(f"binaries missing ({', '.join(missing)}): run python -m tests.testbed.artifacts", file=sys.stderr)
        return 2
    ready: list[float] = []
    stops: list[float] = []
    mems: list[dict[str, float]] = []
    for run in range(args.runs):
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            names = [f"bench-{run}-{i}" for i in range(args.parallel)]
            clusters = list(pool.map(lambda n: start_proc_cluster(name=n), names))
        ready.append(time.monotonic() - t0)
        print(f"run {run + 1}: {args.parallel} cluster(s) ready in {ready[-1]:.1f}s", flush=True)
        time.sleep(args.settle)
        for cluster in clusters:
            mem = memory(cluster)
            mems.append(mem)
            detail = ", ".join(f"{k} {v:.0f}" for k, v in mem.items())
            print(f"  {cluster.name}: RSS {sum(mem.values()):.0f} MiB ({detail})", flush=True)
            print(f"  {cluster.name}: phases (s from start) {cluster.timings}", flush=True)
        t1 = time.monotonic()
        for cluster in clusters:
            cluster.stop()
        stops.append(time.monotonic() - t1)
    median = statistics.median(ready)
    per_cluster_rss = statistics.median(sum(m.values()) for m in mems)
    verdict = "OK" if median <= GOAL_READY_S else "SLOW"
    print(
        f"start-to-ready median {median:.1f}s (min {min(ready):.1f}, max {max(ready):.1f}, goal {GOAL_READY_S:.0f}s:"
        f" {verdict}); RSS per cluster median {per_cluster_rss:.0f} MiB; stop median {statistics.median(stops):.1f}s"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "ready_s": [round(r, 2) for r in ready],
                    "stop_s": [round(s, 2) for s in stops],
                    "rss_mib": mems,
                    "parallel": args.parallel,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
