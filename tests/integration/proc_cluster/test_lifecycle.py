"""The process cluster's housekeeping: warm artifact runs are instant, orphans of a dead test run are reaped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tests.testbed.artifacts as artifacts
from tests.testbed.artifacts.build import write_wrapper
from tests.testbed.proc_cluster import cleanup_stale, require_artifacts
from tests.testbed.proc_cluster import testbed_dir as proc_runs_dir

REPO = Path(__file__).resolve().parents[3]


def test_wrapper_module_pins_staging_modules(tmp_path: Path) -> None:
    write_wrapper(tmp_path, {"k8s.io/kubernetes": "v1.34.4"}, {"k8s.io/api": "v0.34.4"})
    gomod = (tmp_path / "go.mod").read_text()
    assert "\tk8s.io/kubernetes v1.34.4\n" in gomod
    assert "\tk8s.io/api => k8s.io/api v0.34.4\n" in gomod


def test_warm_artifact_run_takes_no_time() -> None:
    require_artifacts()
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "tests.testbed.artifacts"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    assert time.monotonic() - started < 10
    assert out.count("cached in") == len(artifacts.DEFAULT_COMPONENTS)
    version = subprocess.run(
        [str(artifacts.binary("kubernetes", "kubeadm")), "version", "-o", "short"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert version == artifacts.component("kubernetes").version


@pytest.mark.slow
def test_orphans_of_a_dead_owner_are_reaped() -> None:
    require_artifacts()
    # A test process that dies without stopping its cluster (os._exit skips atexit handlers).
    script = (
        "import json, os\n"
        "from tests.testbed.proc_cluster import start_proc_cluster\n"
        "c = start_proc_cluster(name='orphan', wait_ready=False)\n"
        "print(json.dumps({'dir': str(c.run_dir), 'pids': c.pids()}), flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, check=True, capture_output=True, text=True, timeout=120
    ).stdout
    info = json.loads(out.strip().splitlines()[-1])
    run_dir, pids = Path(info["dir"]), info["pids"]
    assert run_dir.parent == proc_runs_dir()
    assert all(Path(f"/proc/{pid}").exists() for pid in pids.values())
    removed = cleanup_stale()
    assert run_dir in removed
    assert not run_dir.exists()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids.values())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_cleanup_leaves_live_owners_alone(tmp_path: Path) -> None:
    base = proc_runs_dir()
    base.mkdir(parents=True, exist_ok=True)
    mine = base / f"live-{os.getpid()}"
    mine.mkdir()
    try:
        (mine / "breakfix-proc-cluster").write_text(json.dumps({"name": "live", "owner_pid": os.getpid()}))
        assert mine not in cleanup_stale()
        assert mine.exists()
    finally:
        for f in mine.iterdir():
            f.unlink()
        mine.rmdir()
