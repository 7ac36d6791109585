"""breakers.kubelet: a field of the KubeletConfiguration is set, the file journaled and put back by reset."""

from __future__ import annotations

import pytest
import yaml

from breakers import kubelet
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.undo import replay
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

CONFIG = b"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  webhook:
    enabled: true
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
"""


def test_set_config_sets_a_field_and_reset_puts_the_file_back() -> None:
    t = FakeTransport({kubelet.CONFIG: CONFIG})
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    changes = ChangeLog(ctx, "break")
    kubelet.set_config(node, changes, "clusterDNS", ["10.96.0.100"])
    kubelet.set_config(node, changes, "authentication.webhook.enabled", False)
    config = yaml.safe_load(t.files[kubelet.CONFIG])
    assert config["clusterDNS"] == ["10.96.0.100"] and config["authentication"]["webhook"]["enabled"] is False
    assert config["containerRuntimeEndpoint"] == "unix:///run/containerd/containerd.sock"
    replay(ctx)
    assert t.files[kubelet.CONFIG] == CONFIG


@pytest.mark.parametrize(
    ("files", "field", "says"),
    [
        ({}, "clusterDNS", "does not exist"),
        ({kubelet.CONFIG: b"kind: Pod\n"}, "clusterDNS", "not a KubeletConfiguration"),
        ({kubelet.CONFIG: CONFIG}, "clusterDomain.x", "not a mapping"),
    ],
)
def test_set_config_refuses_what_is_not_a_kubelet_config(files: dict[str, bytes], field: str, says: str) -> None:
    ctx = make_ctx(FakeTransport(files))
    with pytest.raises(StepError, match=says):
        kubelet.set_config(ctx.node("cp1"), ChangeLog(ctx, "break"), field, "x")
    assert not ctx.store.journal("test")
