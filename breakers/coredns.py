"""Breakers for the cluster's DNS (CoreDNS's Corefile in its ConfigMap)."""

from __future__ import annotations

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube


def edit_corefile(
    changes: ChangeLog, kube: Kube, old: str, new: str, configmap: str = "coredns", namespace: str = "kube-system"
) -> None:
    """Replace every OLD by NEW in CoreDNS's Corefile (it must occur); the ConfigMap is journaled.

    CoreDNS's `reload` plugin reads a changed Corefile within a minute or two, once the kubelet has refreshed the
    mounted ConfigMap; a Corefile it cannot load is ignored by running pods and only stops new ones."""
    cm = kube.get("v1", "ConfigMap", configmap, namespace)
    text = ((cm or {}).get("data") or {}).get("Corefile")
    if text is None:
        raise StepError(f"ConfigMap {namespace}/{configmap} holds no Corefile")
    if old not in text:
        raise StepError(f"the Corefile in {namespace}/{configmap} does not contain {old!r}")
    changes.patch_object("v1", "ConfigMap", configmap, namespace, {"data": {"Corefile": text.replace(old, new)}})
