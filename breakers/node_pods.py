"""Breakers for pods a node's kubelet runs from its own folder (static pods), beside the control plane's."""

from __future__ import annotations

from pathlib import Path

import yaml

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.images import image_map, resolve_images
from breakfix.inventory import ClusterSpec
from breakfix.transport.base import FileStat
from breakfix.transport.node import Node

MANIFESTS = "/etc/kubernetes/manifests"


def static_pod_manifest(lab_dir: Path, file: str, cluster: ClusterSpec) -> str:
    """The Pod in FILE (beside lab.yaml) as the kubelet will read it: `image: role:NAME` given the cluster's image."""
    path = (lab_dir / file).resolve()
    if not path.is_relative_to(lab_dir.resolve()):
        raise StepError(f"{file}: outside the lab's folder")
    try:
        pod = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise StepError(f"{file}: {exc}") from None
    if not isinstance(pod, dict) or pod.get("kind") != "Pod" or not (pod.get("metadata") or {}).get("name"):
        raise StepError(f"{file}: not one Pod with a name")
    try:
        resolve_images(pod, image_map(cluster), cluster.pull_policy)
    except KeyError as exc:
        raise StepError(f"{file}: {exc.args[0]}") from None
    return yaml.safe_dump(pod, sort_keys=False)


def write_static_pod(
    node: Node,
    changes: ChangeLog,
    lab_dir: Path,
    cluster: ClusterSpec,
    file: str,
    folder: str = MANIFESTS,
) -> None:
    """Put the Pod in FILE into NODE's static pod folder, named after the file; the kubelet runs it there.

    Its mirror pod in the API is called NAME-NODENAME; deleting it does not stop it. Undo removes the file."""
    text = static_pod_manifest(lab_dir, file, cluster)
    path = f"{folder.rstrip('/')}/{Path(file).name}"
    if node.exists(path):
        raise StepError(f"{node.name}: {path} already exists")
    changes.write_file(node, path, text, FileStat(0o600, 0, 0))
