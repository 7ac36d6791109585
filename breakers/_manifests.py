"""Read and rewrite static pod manifests as YAML (no grepping)."""

from __future__ import annotations

from typing import Any

import yaml

from breakfix.errors import StepError

MANIFEST_DIR = "/etc/kubernetes/manifests"


def manifest_path(manifest: str) -> str:
    """Full path of a static pod manifest given its short name (etcd, kube-apiserver, ...)."""
    if manifest.startswith("/"):
        return manifest
    return f"{MANIFEST_DIR}/{manifest if manifest.endswith('.yaml') else manifest + '.yaml'}"


def load_pod(data: bytes | None, path: str) -> dict[str, Any]:
    """Parse a manifest into a Pod dict."""
    if data is None:
        raise StepError(f"{path} does not exist")
    pod = yaml.safe_load(data)
    if not isinstance(pod, dict) or pod.get("kind") != "Pod":
        raise StepError(f"{path} is not a Pod manifest")
    return pod


def dump_pod(pod: dict[str, Any]) -> bytes:
    """Serialize a Pod dict the way kubeadm lays manifests out."""
    return yaml.safe_dump(pod, sort_keys=False, default_flow_style=False).encode()


def main_container(pod: dict[str, Any], container: str | None = None) -> dict[str, Any]:
    """The named container, or the first one."""
    containers = pod.get("spec", {}).get("containers") or []
    for c in containers:
        if container is None or c.get("name") == container:
            found: dict[str, Any] = c
            return found
    raise StepError(f"no container {container!r} in the manifest")


def get_flag(container: dict[str, Any], flag: str) -> str | None:
    """The value of --flag=value in a container's command or args, None when absent."""
    for arg in (container.get("command") or []) + (container.get("args") or []):
        if isinstance(arg, str) and (arg == flag or arg.startswith(flag + "=")):
            return arg.partition("=")[2]
    return None


def set_flag_value(container: dict[str, Any], flag: str, value: str | None) -> None:
    """Set --flag=value (append when missing); None removes the flag."""
    key = "command" if container.get("command") else "args"
    args = list(container.get(key) or [])
    out, found = [], False
    for arg in args:
        if isinstance(arg, str) and (arg == flag or arg.startswith(flag + "=")):
            found = True
            if value is not None:
                out.append(f"{flag}={value}")
            continue
        out.append(arg)
    if not found and value is not None:
        out.append(f"{flag}={value}")
    container[key] = out


def probes(container: dict[str, Any]) -> list[dict[str, Any]]:
    """The container's liveness, readiness and startup probes that exist."""
    return [container[k] for k in ("livenessProbe", "readinessProbe", "startupProbe") if container.get(k)]
