"""`python -m tests.testbed.kubeadm up|down|status|images`: a real kubeadm cluster on the test bed."""

from __future__ import annotations

import argparse
import json
import sys

from tests.testbed.kubeadm.cluster import KubeadmError, load_cluster, remove_cgroups, start_kubeadm_cluster
from tests.testbed.kubeadm.images import ensure_images
from tests.testbed.paths import runs_dir


def _kubeadm_runs() -> list[str]:
    """Return run ids that hold a kubeadm cluster, newest first."""
    found = sorted(runs_dir().glob("*/kubeadm/inventory.yml"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.parent.parent.name for p in found]


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m tests.testbed.kubeadm", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start cp1 + workers with kubeadm (kept until `down`)")
    up.add_argument("--workers", type=int, default=1)
    up.add_argument("--copy-over-ssh", action="store_true", help="copy binaries and images with Ansible")
    down = sub.add_parser("down", help="remove a kubeadm run (default: the newest), or --all")
    down.add_argument("run_id", nargs="?")
    down.add_argument("--all", action="store_true")
    sub.add_parser("status", help="list kubeadm runs with inventory and kubeconfig")
    images = sub.add_parser("images", help="build (or reuse) the local images")
    images.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)

    try:
        if args.cmd == "up":
            cluster = start_kubeadm_cluster(workers=args.workers, keep=True, copy_over_ssh=args.copy_over_ssh)
            print(f"kubeadm cluster {cluster.run.run_id} is up in {cluster.timings['total']:.0f}s")
            print(f"  inventory:  {cluster.inventory}")
            print(f"  kubeconfig: {cluster.kubeconfig}   (API server on 127.0.0.1:{cluster.api_port})")
            print(f"  timings:    {json.dumps({k: round(v, 1) for k, v in cluster.timings.items()})}")
            print("  down:       python -m tests.testbed.kubeadm down " + cluster.run.run_id)
        elif args.cmd == "down":
            targets = _kubeadm_runs() if args.all else [args.run_id or next(iter(_kubeadm_runs()), "")]
            for run_id in filter(None, targets):
                left = load_cluster(run_id).stop()
                print(f"removed kubeadm run {run_id}" + ("" if left.empty() else f" (left over: {left})"))
            remove_cgroups(None)
            if not any(targets):
                print("no kubeadm run")
        elif args.cmd == "status":
            for run_id in _kubeadm_runs():
                cluster = load_cluster(run_id)
                print(f"{run_id}: inventory {cluster.inventory}\n         kubeconfig {cluster.kubeconfig}")
                print(
                    "         "
                    + cluster.kubectl("get", "nodes", "--no-headers", check=False).replace("\n", "\n         ")
                )
        elif args.cmd == "images":
            result = ensure_images(force=args.force)
            print("\n".join(result.refs))
            print(f"archives: {result.control_plane_archive}\n          {result.node_archive}")
    except KubeadmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
