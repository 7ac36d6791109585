"""Benchmark the kubeadm test bed: bring-up time by phase, memory of the running cluster, tear-down.

Memory is read from cgroup v1: each node container's cgroup (systemd, containerd, kubelet) plus the
cgroup that holds its pods (/breakfix-testbed/<run>-<node>, see tests/testbed/kubeadm). `rss` is
anonymous memory (total_rss), `cache` the page cache charged to it; the host's MemAvailable drop is
printed too.

    python bench/kubeadm_cluster.py [--rounds N] [--settle SECONDS]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.testbed import cleanup, dockercli
from tests.testbed.kubeadm.cluster import CGROUP_PARENT, KubeadmCluster, start_kubeadm_cluster
from tests.testbed.kubeadm.images import artifacts_ready, ensure_images

MIB = 1024 * 1024


def _memory_stat(cgroup: Path) -> dict[str, int]:
    stat: dict[str, int] = {}
    try:
        for line in (cgroup / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            stat[key] = int(value)
    except OSError:
        pass
    return stat


def _mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def cluster_memory(cluster: KubeadmCluster) -> dict[str, dict[str, int]]:
    """Return {node: {node_rss, node_cache, pods_rss, pods_cache}} in bytes."""
    root = Path("/sys/fs/cgroup/memory")
    out: dict[str, dict[str, int]] = {}
    for node in cluster.run.nodes:
        cid = dockercli.docker("inspect", "-f", "{{.Id}}", node.container).strip()
        node_stat = _memory_stat(root / "docker" / cid)
        pods_stat = _memory_stat(root / CGROUP_PARENT / f"{cluster.run.run_id}-{node.name}")
        out[node.name] = {
            "node_rss": node_stat.get("total_rss", 0),
            "node_cache": node_stat.get("total_cache", 0),
            "pods_rss": pods_stat.get("total_rss", 0),
            "pods_cache": pods_stat.get("total_cache", 0),
        }
    return out


def main() -> int:
    """Run the benchmark and print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="bring-up/tear-down rounds (warm caches)")
    parser.add_argument("--settle", type=float, default=20, help="seconds to wait before reading memory")
    args = parser.parse_args()
    absent = artifacts_ready()
    if absent:
        print(f"binaries not built: {', '.join(absent)}: python -m tests.testbed.artifacts {' '.join(absent)}")
        return 2
    cleanup.remove_stale()
    start = time.monotonic()
    ensure_images()
    print(f"images (build or cache check): {time.monotonic() - start:.1f} s")
    totals: list[float] = []
    for i in range(1, args.rounds + 1):
        before = _mem_available()
        cluster = start_kubeadm_cluster(workers=1)
        try:
            t = cluster.timings
            totals.append(t["total"])
            print(
                f"round {i}: up in {t['total']:.1f} s (nodes {t['nodes']:.1f}, provision with Ansible "
                f"{t['provision']:.1f}, until Ready {t['ready']:.1f})"
            )
            profile = (cluster.directory / "ansible-profile.txt").read_text().splitlines()
            print("  slowest Ansible tasks: " + "; ".join(" ".join(line.split()) for line in profile[:6]))
            time.sleep(args.settle)
            mem = cluster_memory(cluster)
            for name, m in mem.items():
                print(
                    f"  {name}: node rss {m['node_rss'] / MIB:.0f} MiB (+cache {m['node_cache'] / MIB:.0f}), "
                    f"pods rss {m['pods_rss'] / MIB:.0f} MiB (+cache {m['pods_cache'] / MIB:.0f})"
                )
            rss = sum(m["node_rss"] + m["pods_rss"] for m in mem.values())
            dropped = (before - _mem_available()) / MIB
            print(f"  cluster rss: {rss / MIB:.0f} MiB; host MemAvailable dropped {dropped:.0f} MiB")
        finally:
            t0 = time.monotonic()
            cluster.stop()
            print(f"  tear-down: {time.monotonic() - t0:.1f} s")
    if len(totals) > 1:
        print(f"bring-up median over {len(totals)} rounds: {statistics.median(totals):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
