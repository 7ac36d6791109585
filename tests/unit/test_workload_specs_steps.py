"""breakers.workload_specs: waiting for a DaemonSet on every node."""

from __future__ import annotations

import pytest

from breakers import workload_specs
from breakfix.errors import StepError
from tests.fakes import FakeKube
from tests.unit.test_workload_specs import KINDS, _agent


def test_the_wait_returns_once_every_node_runs_the_agent() -> None:
    kube = FakeKube(KINDS)
    _agent(kube, ["cp1", "w1"], {"cp1": "new", "w1": "new"})
    workload_specs.wait_on_every_node(kube, "agent", "mon", timeout=0)


def test_the_wait_gives_up_naming_the_missing_node() -> None:
    kube = FakeKube(KINDS)
    _agent(kube, ["cp1", "w1"], {"w1": "new"})
    with pytest.raises(StepError, match="no pod on cp1"):
        workload_specs.wait_on_every_node(kube, "agent", "mon", timeout=0)
