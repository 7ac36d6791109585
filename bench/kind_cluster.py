"""Benchmark `lab cluster up --provider kind` against the kubeadm test bed, in one run (warm caches).

Both clusters have one control plane and one worker and reach Ready; the kind one is made by the
`lab` command (kind + the test bed's node image), the kubeadm one by vagrant/'s Ansible roles. Each
round brings up and tears down one of each, alternating; the figure is the ratio of medians.
Memory of a kind node is its container's cgroup, pods included (kind nests them in the node's).

    python bench/kind_cluster.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.testbed import cleanup, dockercli
from tests.testbed.kind.cluster import remove_stale, start_kind_cluster
from tests.testbed.kind.node_image import ensure_node_image
from tests.testbed.kubeadm.cluster import start_kubeadm_cluster

MIB = 1024 * 1024


def kind_memory(container_ids: list[str]) -> int:
    """Return the RSS of kind node containers (their cgroups hold their pods too), in bytes."""
    total = 0
    for cid in container_ids:
        full = dockercli.docker("inspect", "-f", "{{.Id}}", cid).strip()
        stat = Path("/sys/fs/cgroup/memory/docker") / full / "memory.stat"
        for line in stat.read_text().splitlines() if stat.exists() else []:
            if line.startswith("total_rss "):
                total += int(line.split()[1])
    return total


def main() -> int:
    """Run the benchmark and print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of one kind and one kubeadm cluster")
    args = parser.parse_args()
    cleanup.remove_stale()
    remove_stale()
    start = time.monotonic()
    image = ensure_node_image()
    print(f"kind node image (build or cache check): {time.monotonic() - start:.1f} s ({image})")
    kind_up: list[float] = []
    kubeadm_up: list[float] = []
    for i in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="bench-kind-") as state:
            t = time.monotonic()
            kind = start_kind_cluster(image, Path(state), workers=1)
            kind_up.append(time.monotonic() - t)
            time.sleep(10)
            rss = kind_memory(kind.containers())
            t = time.monotonic()
            kind.stop()
            print(
                f"round {i}: kind up {kind_up[-1]:.1f} s (lab cluster up, --wait 5m), "
                f"rss {rss / MIB:.0f} MiB, down {time.monotonic() - t:.1f} s"
            )
        t = time.monotonic()
        kubeadm = start_kubeadm_cluster(workers=1)
        kubeadm_up.append(time.monotonic() - t)
        kubeadm.stop()
        print(f"round {i}: kubeadm test bed up {kubeadm_up[-1]:.1f} s (nodes, Ansible, Ready)")
    kind_median, kubeadm_median = statistics.median(kind_up), statistics.median(kubeadm_up)
    print(
        f"median bring-up: kind {kind_median:.1f} s, kubeadm test bed {kubeadm_median:.1f} s; "
        f"kind takes {kind_median / kubeadm_median:.2f}x the kubeadm test bed's time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
