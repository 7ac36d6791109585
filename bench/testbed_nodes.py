"""Benchmark the test bed: cold image build, warm 2-node start until SSH answers, tear-down."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.testbed import cleanup, dockercli, image
from tests.testbed.nodes import start_nodes

GOAL_START_S = 60.0


def _timed_image(cold: bool, reimport: bool) -> None:
    """Time the image step: full build (--cold), re-import from the cached tarball, or cache hit."""
    if cold:
        image.remove_image()
        image.tarball_path().unlink(missing_ok=True)
        label = "cold image build (debootstrap + import)"
    elif reimport:
        image.remove_image()
        label = "image re-import from cached tarball"
    else:
        label = "image check (warm, cached)"
    start = time.monotonic()
    ref = image.ensure_image()
    print(f"{label}: {time.monotonic() - start:.1f} s  [{ref}]")


def main() -> int:
    """Run the benchmark and print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="remove the cached image and tarball first")
    parser.add_argument("--reimport", action="store_true", help="remove only the image (keep the tarball)")
    parser.add_argument("--rounds", type=int, default=3, help="warm start/tear-down rounds")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if reason := dockercli.available():
        print(f"docker unavailable: {reason}", file=sys.stderr)
        return 1
    _timed_image(args.cold, args.reimport)
    starts: list[float] = []
    downs: list[float] = []
    for i in range(args.rounds):
        t0 = time.monotonic()
        run = start_nodes(count_workers=args.workers)
        t1 = time.monotonic()
        left = run.teardown()
        t2 = time.monotonic()
        if not left.empty():
            print(f"tear-down left objects behind: {left}", file=sys.stderr)
            return 1
        starts.append(t1 - t0)
        downs.append(t2 - t1)
        print(f"round {i + 1}: {len(run.nodes)}-node start until SSH ready {starts[-1]:.1f} s, "
              f"tear-down {downs[-1]:.1f} s")  # fmt: skip
    cleanup.remove_stale()
    median = statistics.median(starts)
    verdict = "ok" if median < GOAL_START_S else "SLOWER THAN GOAL"
    print(f"warm start median {median:.1f} s (goal < {GOAL_START_S:.0f} s: {verdict}); "
          f"tear-down median {statistics.median(downs):.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
