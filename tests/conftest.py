"""Shared test set-up: every test gets its own breakfix state folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.testbed.fixtures", "tests.testbed.kubeadm.fixtures", "tests.testbed.kind.fixtures"]


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point BREAKFIX_STATE_DIR at a fresh folder so tests never see a user's clusters."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("BREAKFIX_STATE_DIR", str(folder))
    monkeypatch.delenv("BREAKFIX_CLUSTER", raising=False)
    monkeypatch.delenv("BREAKFIX_LABS_PATH", raising=False)
    yield folder
