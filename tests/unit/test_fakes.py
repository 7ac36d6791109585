"""The fakes themselves refuse what a test did not allow."""

import pytest

from tests.fakes import FakeKube, FakeTransport, Unexpected, merge_patch


def test_fake_transport_refuses_unscripted_commands() -> None:
    t = FakeTransport()
    with pytest.raises(Unexpected):
        t.run("systemctl stop kubelet")
    t.expect(r"systemctl stop \S+")
    assert t.run("systemctl stop kubelet").ok


def test_fake_kube_refuses_kinds_not_allowed() -> None:
    kube = FakeKube({"ConfigMap"})
    with pytest.raises(Unexpected):
        kube.get("v1", "Secret", "x", "default")


def test_merge_patch_removes_nulls_and_merges_maps() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {"a": {"c": 2, "d": 3}}
