"""`lab list` is served from a cache of the validated catalog, which any source change invalidates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from breakfix.cli import listing
from breakfix.cli.main import main
from tests.unit.test_catalog import GOOD, write_lab


def test_fast_path_needs_a_fresh_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert listing.fast_list(["list"]) is False  # nothing cached yet
    assert main(["list"]) == 0
    slow = capsys.readouterr().out
    assert listing.fast_list(["list"]) is True
    assert capsys.readouterr().out == slow


def test_cache_follows_lab_edits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_lab(tmp_path, GOOD)
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(tmp_path))
    main(["list", "--json"])
    assert '"demo"' in capsys.readouterr().out
    path.write_text(yaml.safe_dump({**GOOD, "title": "Renamed demo lab"}))
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert listing.load() is None
    assert listing.fast_list(["list"]) is False


@pytest.mark.parametrize("argv", [["list", "--runnable"], ["list", "--help"], ["list", "--domain"], ["show", "x"]])
def test_other_forms_use_the_full_cli(argv: list[str]) -> None:
    listing.save([], [])
    assert listing.fast_list(argv) is False


def test_console_script_fast_path_skips_typer() -> None:
    code = (
        "import sys; from breakfix.cli.entry import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', [m for m in ('typer', 'pydantic', 'yaml') if m in sys.modules], file=sys.stderr)"
    )
    env = dict(os.environ)
    first = subprocess.run([sys.executable, "-c", code, "list"], capture_output=True, text=True, env=env)
    second = subprocess.run([sys.executable, "-c", code, "list"], capture_output=True, text=True, env=env)
    assert first.stdout == second.stdout and "etcd-datadir" in second.stdout
    assert "LOADED []" in second.stderr, second.stderr
