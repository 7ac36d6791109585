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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked `after_the_rest` last, in their order: the work they read (`lab verify` on the
    kind and kubeadm test beds) started earlier in processes of its own and goes on while the rest runs."""
    last = [item for item in items if item.get_closest_marker("after_the_rest")]
    if last:
        moved = set(last)
        items[:] = [item for item in items if item not in moved] + last
