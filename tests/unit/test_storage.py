"""Storage class breakers and claim graders on a refusing fake API."""

from __future__ import annotations

from typing import Any

from breakers import storage as storage_breakers
from breakfix.changes import ChangeLog
from graders import storage
from tests.fakes import FakeKube, FakeTransport
from tests.unit.test_changes import make_ctx

SC = "storage.k8s.io/v1"


def sc(name: str, default: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if default is not None:
        meta["annotations"] = {storage.DEFAULT_CLASS: default}
    return {"apiVersion": SC, "kind": "StorageClass", "metadata": meta, "provisioner": "x"}


def test_unset_and_set_default_classes_are_journaled() -> None:
    kube = FakeKube({"StorageClass"})
    for obj in (sc("standard", "true"), sc("local", None), sc("fast", "false")):
        kube.create(obj)
    ctx = make_ctx(FakeTransport(), kube)
    storage_breakers.unset_default_classes(ChangeLog(ctx, "break"), kube)
    assert storage.one_default_class(kube).status == "fail"
    assert len(ctx.store.journal("test")) == 1  # only the class that was the default
    storage_breakers.set_default_class(ChangeLog(ctx, "solve"), "local")
    result = storage.one_default_class(kube)
    assert result.ok and "local" in result.message
    storage_breakers.set_default_class(ChangeLog(ctx, "cheat"), "fast")
    assert "2 StorageClasses claim to be the default" in storage.one_default_class(kube).message


def test_pvc_bound_says_which_class_it_waits_for() -> None:
    kube = FakeKube({"PersistentVolumeClaim"})
    assert storage.pvc_bound(kube, "invoices", "billing").status == "fail"
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "invoices", "namespace": "billing"},
        "spec": {"storageClassName": None},
        "status": {"phase": "Pending"},
    }
    kube.create(pvc)
    result = storage.pvc_bound(kube, "invoices", "billing")
    assert result.status == "fail" and "Pending" in result.message
    stored = kube.objects[("v1", "PersistentVolumeClaim", "billing", "invoices")]
    stored.update(spec={"volumeName": "pv1"}, status={"phase": "Bound"})  # what the volume controller does
    assert storage.pvc_bound(kube, "invoices", "billing").ok


def test_the_older_default_annotation_counts_and_is_unset_too() -> None:
    kube = FakeKube({"StorageClass"})
    kube.create(sc("standard", None))
    kube.objects[(SC, "StorageClass", None, "standard")]["metadata"]["annotations"] = {
        storage_breakers.BETA_DEFAULT_CLASS: "true"
    }
    kube.create(sc("local", "true"))
    assert "2 StorageClasses claim to be the default" in storage.one_default_class(kube).message
    ctx = make_ctx(FakeTransport(), kube)
    storage_breakers.unset_default_classes(ChangeLog(ctx, "break"), kube)
    assert storage.one_default_class(kube).status == "fail"
    assert len(ctx.store.journal("test")) == 2
    # Kubernetes reads either annotation: "true" in the older one makes the class the default
    storage_breakers.set_default_class(ChangeLog(ctx, "fix"), "local", beta=True)
    annotations = kube.get(SC, "StorageClass", "local")["metadata"]["annotations"]  # type: ignore[index]
    assert annotations == {storage.DEFAULT_CLASS: "false", storage_breakers.BETA_DEFAULT_CLASS: "true"}
    result = storage.one_default_class(kube)
    assert result.ok and "local" in result.message
