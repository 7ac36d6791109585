"""A thin, typed wrapper around the docker command line."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any


class DockerError(RuntimeError):
    """A docker command failed."""


def available() -> str | None:
    """Return None if a docker daemon answers, else the reason it does not."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    proc = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return "the docker daemon does not answer: " + (proc.stderr.strip() or "unknown error")
    return None


def docker(*args: str, input: str | bytes | None = None, check: bool = True, timeout: float | None = 600) -> str:
    """Run `docker ARGS` and return its stdout; raise DockerError on failure when check is true."""
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run(["docker", *args], input=data, capture_output=True, check=False, timeout=timeout)
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise DockerError(f"docker {' '.join(args)} failed ({proc.returncode}): {err}")
    return proc.stdout.decode(errors="replace")


def lines(*args: str) -> list[str]:
    """Run a docker command and return its non-empty output lines."""
    return [ln for ln in docker(*args).splitlines() if ln.strip()]


def inspect(kind: str, names: Sequence[str], missing_ok: bool = False) -> list[dict[str, Any]]:
    """Return `docker KIND inspect` of NAMES as parsed JSON; MISSING_OK skips objects gone since they were listed."""
    if not names:
        return []
    if not missing_ok:
        return list(json.loads(docker(kind, "inspect", *names)))
    proc = subprocess.run(["docker", kind, "inspect", *names], capture_output=True, text=True, check=False)
    errors = [e for e in proc.stderr.splitlines() if e.strip() and "no such" not in e.lower()]
    if proc.returncode != 0 and errors:
        raise DockerError(f"docker {kind} inspect failed ({proc.returncode}): {proc.stderr.strip()}")
    return list(json.loads(proc.stdout.strip() or "[]"))


def succeeds(*args: str) -> bool:
    """Tell whether `docker ARGS` exits 0 (output discarded)."""
    proc = subprocess.run(["docker", *args], capture_output=True, check=False)
    return proc.returncode == 0


def image_exists(ref: str) -> bool:
    """Tell whether an image reference exists locally."""
    return succeeds("image", "inspect", ref)
