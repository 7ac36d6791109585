"""Benchmark `lab exam`: a class on process control planes, broken and reset all at once against one by one, and
against one student alone (issue 14's goal: the class in under 3x the time of one student)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.testbed.proc_cluster import missing_artifacts, start_proc_cluster

LABS = ("svc-wrong-selector", "svc-variant")  # a student gets each lab once: at most two tasks each here
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "labs"


def one_exam(
    runner_cls: type, store: object, folder: Path, students: list[str], name: str, tasks: int = 1
) -> tuple[float, float]:
    """Start and end one exam for STUDENTS, TASKS clusters each; return (start seconds, end seconds)."""
    import yaml

    exam = folder / f"{name}.yaml"
    exam.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "duration": "10m",
                "students": [
                    {"name": s, "clusters": [f"{s}-{t}" for t in range(tasks)], "labs": list(LABS[:tasks])}
                    for s in students
                ],
            }
        )
    )
    runner = runner_cls(store)
    t0 = time.monotonic()
    _, failures = runner.start(exam)
    t1 = time.monotonic()
    if failures:
        raise SystemExit(f"exam {name}: {failures}")
    board = runner.end(name)
    t2 = time.monotonic()
    trouble = [s.detail for s in board.seats if s.passed is None or s.detail.startswith("reset failed")]
    if trouble:  # every student is graded (nobody fixed anything: all fail) and every cluster is reset
        raise SystemExit(f"exam {name}: {trouble}")
    return t1 - t0, t2 - t1


def main() -> int:
    """Run the same exam with every cluster at once and one at a time; print both and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=4, help="students (default 4)")
    parser.add_argument("--tasks", type=int, default=1, help="tasks per student, each on a cluster (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    if not 1 <= args.tasks <= len(LABS):
        parser.error(f"--tasks must be from 1 to {len(LABS)}")
    missing = missing_artifacts()
    if missing:
        print(f"binaries missing ({', '.join(missing)}): run python -m tests.testbed.artifacts", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="breakfix-bench-") as tmp:
        os.environ["BREAKFIX_STATE_DIR"] = tmp
        os.environ["BREAKFIX_LABS_PATH"] = str(FIXTURES)
        from breakfix.api import Breakfix
        from breakfix.exam import session
        from breakfix.state import State

        students = [f"s{i}" for i in range(args.students)]
        names = [f"{s}-{t}" for s in students for t in range(args.tasks)]
        with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
            clusters = list(pool.map(lambda n: start_proc_cluster(name=n), names))
        try:
            store = State()
            for name, cluster in zip(names, clusters, strict=True):
                Breakfix(store=store).adopt(cluster.inventory, name)
            figures = {}
            width = session.MAX_PARALLEL
            for label, parallel, seats in (
                ("one student", width, students[:1]),
                ("at once", width, students),
                ("one by one", 1, students),
            ):
                session.MAX_PARALLEL = parallel
                exam = label.replace(" ", "-")
                start, end = one_exam(session.ExamRunner, store, Path(tmp), seats, exam, args.tasks)
                figures[label] = {"start_s": round(start, 2), "end_s": round(end, 2)}
                broke = len(seats) * args.tasks
                print(f"{label}: {broke} clusters broken in {start:.1f}s, graded and reset in {end:.1f}s")
        finally:
            for cluster in clusters:
                cluster.stop()
    ratio_start = figures["one by one"]["start_s"] / figures["at once"]["start_s"]
    ratio_end = figures["one by one"]["end_s"] / figures["at once"]["end_s"]
    scale_start = figures["at once"]["start_s"] / figures["one student"]["start_s"]
    scale_end = figures["at once"]["end_s"] / figures["one student"]["end_s"]
    print(
        f"at once is {ratio_start:.1f}x faster to start and {ratio_end:.1f}x faster to end "
        f"({args.students} students x {args.tasks} tasks); the whole class takes {scale_start:.1f}x the time of "
        f"one student to start and {scale_end:.1f}x to end (goal: under 3x)"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "students": args.students,
                    "tasks": args.tasks,
                    **figures,
                    "ratio_start": ratio_start,
                    "ratio_end": ratio_end,
                    "class_over_one_start": scale_start,
                    "class_over_one_end": scale_end,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
