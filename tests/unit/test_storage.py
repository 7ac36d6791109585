"""Storage class breakers and claim graders on a refusing fake API."""

from __future__ import annotations

from typing import Any

from breakers import storage as storage_breakers
from breakfix.changes import ChangeLog
from graders import storage
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

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


def test_the_beta_alternative_of_the_lab_passes_and_its_undo_gives_the_unbound_claim_back() -> None:
    """pvc-no-default-class's `beta-annotation` alternative, run and undone as `lab verify` does (on fakes)."""
    from breakfix.catalog import load_catalog
    from breakfix.runner import run_steps
    from breakfix.undo import replay

    kube = FakeKube({"StorageClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "Pod"})
    kube.create(sc("breakfix-local", "false"))  # the break's work
    pv: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "breakfix-invoices-pv"},
                          "spec": {"storageClassName": "breakfix-local"}}  # fmt: skip
    kube.create(pv)
    claim: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "metadata": {"name": "invoices", "namespace": "billing"}, "spec": {}}  # fmt: skip
    kube.create(claim)
    meta = {"name": "invoicer", "namespace": "billing"}
    kube.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"replicas": 1}})
    ctx = make_ctx(FakeTransport(), kube)
    lab = load_catalog().get("pvc-no-default-class")
    run_steps(ctx, lab.alternatives["beta-annotation"], "alternative:beta-annotation")
    assert storage.one_default_class(kube).ok
    # what the volume controller then does: the default class given to the claim, which binds
    live_claim = kube.objects[("v1", "PersistentVolumeClaim", "billing", "invoices")]
    live_claim["spec"].update(storageClassName="breakfix-local", volumeName="breakfix-invoices-pv")
    kube.objects[("v1", "PersistentVolume", None, "breakfix-invoices-pv")]["spec"]["claimRef"] = {"name": "invoices"}
    replay(ctx)
    assert kube.get("v1", "PersistentVolumeClaim", "invoices", "billing")["spec"] == {}  # type: ignore[index]
    assert "claimRef" not in kube.get("v1", "PersistentVolume", "breakfix-invoices-pv")["spec"]  # type: ignore[index]
    assert kube.get("apps/v1", "Deployment", "invoicer", "billing")["spec"]["replicas"] == 1  # type: ignore[index]
    assert storage.one_default_class(kube).status == "fail"
