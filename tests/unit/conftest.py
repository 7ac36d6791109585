"""Fixtures shared by the unit tests: a context on fakes, a marked lab cluster, a lab from a dict, a fast clock."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from breakfix.catalog import Catalog, Lab
from breakfix.clock import CLOCK
from breakfix.context import Context
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import FakeClock, lab_from, make_ctx, marked_ctx


@pytest.fixture
def fast_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The engine's waiting loops (confirm, settle, API back, deletion done) on a clock that never sleeps."""
    clock = FakeClock()
    monkeypatch.setattr(CLOCK, "monotonic", clock.monotonic)
    monkeypatch.setattr(CLOCK, "sleep", clock.sleep)
    return clock


@pytest.fixture
def ctx() -> Context:
    """A context on a fake node cp1 and a fake API server."""
    return make_ctx(FakeTransport())


@pytest.fixture
def marked() -> tuple[Context, FakeTransport, FakeKube]:
    """A marked lab cluster's context whose node holds /etc/app.conf = good; with its transport and API."""
    return marked_ctx({"/etc/app.conf": b"good"})


@pytest.fixture
def lab_dict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Lab]:
    """Load the demo lab (tests.steps) with some keys changed: lab_dict(confirm=[...])."""
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")
    return lambda **change: lab_from(tmp_path, **change)


_SHIPPED: list[Catalog] = []


@pytest.fixture
def shared_catalog(monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """The shipped labs loaded once per run, for commands that load them often (not with BREAKFIX_LABS_PATH)."""
    from breakfix import api, catalog

    if not _SHIPPED:
        _SHIPPED.append(catalog.load_catalog())
    shipped = _SHIPPED[0]
    real = catalog.load_catalog

    def load(roots: list[Path] | None = None) -> Catalog:
        return shipped if roots is None and not os.environ.get("BREAKFIX_LABS_PATH") else real(roots)

    monkeypatch.setattr(catalog, "load_catalog", load)
    monkeypatch.setattr(api, "load_catalog", load)
    return shipped


class Wall:
    """Wall time that a test moves on by hand: `wall.advance(300)`."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let SECONDS pass."""
        self.now += seconds


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> Wall:
    """The exam clock's wall time (and the store's: when a grade is taken), starting now, moved by hand."""
    import time
    from types import SimpleNamespace

    clock = Wall(time.time())
    monkeypatch.setattr(CLOCK, "wall", clock)
    monkeypatch.setattr("breakfix.state.time", SimpleNamespace(time=clock, strftime=time.strftime))
    return clock
