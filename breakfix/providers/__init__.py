"""Providers make lab clusters: one explicit registry, imported lazily (pre-commit's languages dict)."""

from __future__ import annotations

import importlib

from breakfix.errors import UsageError
from breakfix.providers.base import Provider

REGISTRY: dict[str, str] = {
    "kind": "breakfix.providers.kind:KindProvider",
    "vagrant": "breakfix.providers.vagrant:VagrantProvider",
}


def get_provider(name: str) -> Provider:
    """The provider registered under NAME."""
    if name not in REGISTRY:
        raise UsageError(
            f"unknown provider {name!r} (known: {', '.join(REGISTRY)}; any other kubeadm cluster: "
            "`lab cluster adopt INVENTORY`)"
        )
    module, _, cls = REGISTRY[name].partition(":")
    provider: Provider = getattr(importlib.import_module(module), cls)()
    return provider
