"""Time `lab grade` of an API-only lab against `kubectl get` of the same objects, in one run on one cluster.

Run with the project's interpreter:  .venv/bin/python bench/grade.py [--runs 9]
It starts a process control plane (tests/testbed/proc_cluster.py; build its binaries first with
`python -m tests.testbed.artifacts`), adopts it, starts svc-wrong-selector, fixes it with kubectl and
times `lab grade` (the fixed lab: every check runs to the end) and `kubectl get` of the objects it reads.
Goal (issue 16): `lab grade` under 3x kubectl and under 0.5 s median. Ratios, not seconds, are what
compare across machines; the median in seconds is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cli_startup import median_seconds
from tests.testbed import artifacts
from tests.testbed.proc_cluster import missing_artifacts, start_proc_cluster

LAB = "svc-wrong-selector"
GOAL_RATIO = 3.0
GOAL_SECONDS = 0.5


def main() -> int:
    """Start the cluster and the lab, fix it, time both commands, put everything back."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    missing = missing_artifacts()
    if missing:
        print(f"binaries missing ({', '.join(missing)}): run python -m tests.testbed.artifacts", file=sys.stderr)
        return 2
    lab = str(Path(sys.executable).with_name("lab"))
    env = {**os.environ, "BREAKFIX_STATE_DIR": tempfile.mkdtemp(prefix="bench-grade-")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules cached, as on a user's machine
    cluster = start_proc_cluster(name="bench-grade")
    try:
        for step in (["cluster", "adopt", str(cluster.inventory), "--yes"], ["start", LAB]):
            subprocess.run([lab, *step], env=env, check=True, capture_output=True)
        cluster.kubectl("-n", "shop", "patch", "svc", "web", "--type=json", "-p",
                        '[{"op":"replace","path":"/spec/selector","value":{"app":"web"}}]')  # fmt: skip
        grade = median_seconds([lab, "grade"], args.runs, env, codes=(0,))  # exit 0: fixed, every check ran
        kubectl = [str(artifacts.binary("kubernetes", "kubectl")), "--kubeconfig", str(cluster.kubeconfig),
                   "-n", "shop", "get", "services,endpointslices,deployments,pods", "-o", "json"]  # fmt: skip
        base = median_seconds(kubectl, args.runs, env, codes=(0,))
        subprocess.run([lab, "reset"], env=env, check=True, capture_output=True)
    finally:
        cluster.stop()
    ratio = grade / base
    verdict = "ok" if ratio < GOAL_RATIO and grade < GOAL_SECONDS else "over the goal"
    print(f"kubectl get (the lab's objects)  median {base:.3f} s")
    print(
        f"lab grade {LAB:<21} median {grade:.3f} s  ratio {ratio:.1f}x  ({verdict}: {GOAL_RATIO:g}x, {GOAL_SECONDS} s)"
    )
    if args.json:
        print(json.dumps({"kubectl_s": round(base, 3), "grade_s": round(grade, 3), "ratio": round(ratio, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
