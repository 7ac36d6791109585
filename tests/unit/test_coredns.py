"""breakers.coredns: the Corefile edit is journaled and reset puts it back."""

from __future__ import annotations

import pytest

from breakers import coredns
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.undo import replay
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

COREFILE = ".:53 {\n    forward . /etc/resolv.conf\n    loop\n}\n"


def kube_with(data: dict[str, str]) -> FakeKube:
    kube = FakeKube({"ConfigMap"})
    meta = {"name": "coredns", "namespace": "kube-system"}
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    return kube


def corefile(kube: FakeKube) -> str:
    cm = kube.get("v1", "ConfigMap", "coredns", "kube-system")
    assert cm is not None
    return str(cm["data"]["Corefile"])


def test_edit_corefile_replaces_text_and_reset_puts_it_back() -> None:
    kube = kube_with({"Corefile": COREFILE})
    ctx = make_ctx(FakeTransport(), kube)
    coredns.edit_corefile(ChangeLog(ctx, "break"), kube, "/etc/resolv.conf", "127.0.0.53")
    assert "forward . 127.0.0.53" in corefile(kube)
    replay(ctx)
    assert corefile(kube) == COREFILE


@pytest.mark.parametrize(("data", "says"), [({"Corefile": COREFILE}, "does not contain"), ({}, "holds no Corefile")])
def test_edit_corefile_refuses_what_it_cannot_find(data: dict[str, str], says: str) -> None:
    kube = kube_with(data)
    ctx = make_ctx(FakeTransport(), kube)
    with pytest.raises(StepError, match=says):
        coredns.edit_corefile(ChangeLog(ctx, "break"), kube, "forward . 8.8.8.8", "x")
    assert not ctx.store.journal("test")
