"""Breakers for containerd on a node: its config.toml (version 2, as containerd 1.6 and 1.7 write it), its images."""

from __future__ import annotations

import json
import re
import shlex

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node
from graders._images import qualified

CONFIG = "/etc/containerd/config.toml"
_SANDBOX = re.compile(r'^(\s*sandbox_image\s*=\s*)"[^"\n]*"', re.MULTILINE)
_SANDBOX_VALUE = re.compile(r'^\s*sandbox_image\s*=\s*"([^"\n]*)"', re.MULTILINE)


def set_sandbox_image(node: Node, changes: ChangeLog, image: str, path: str = CONFIG) -> None:
    """Set the CRI plugin's sandbox (pause) image in containerd's config; restart containerd after this step.

    Every pod starts with a sandbox container of this image: one the node does not have (and cannot pull) leaves new
    pods there in ContainerCreating, while running ones go on."""

    def edit(data: bytes | None) -> bytes:
        if data is None:
            raise StepError(f"{node.name}: {path} does not exist")
        text = data.decode()
        if not _SANDBOX.search(text):
            raise StepError(f"{node.name}: {path} sets no sandbox_image")
        return _SANDBOX.sub(lambda m: m.group(1) + json.dumps(image), text, count=1).encode()

    changes.edit_file(node, path, edit)


def _node(nodes: list[Node], name: str) -> Node:
    """A node by name or role (control-plane, worker)."""
    role = {"controlplane": "control-plane"}.get(name, name)
    found = next((n for n in nodes if n.name == name), None) or next((n for n in nodes if n.role == role), None)
    if found is None:
        raise StepError(f"no node {name!r}")
    return found


def _sandbox_image(node: Node, path: str = CONFIG) -> str:
    """The sandbox image NODE's containerd config names."""
    data = node.read(path)
    match = _SANDBOX_VALUE.search(data.decode()) if data is not None else None
    if match is None:
        raise StepError(f"{node.name}: {path} sets no sandbox_image")
    return match.group(1)


def sandbox_image_from(node: Node, nodes: list[Node], changes: ChangeLog, source: str, path: str = CONFIG) -> None:
    """Set this node's sandbox image to the one node SOURCE (a name or role) uses; restart containerd after it."""
    set_sandbox_image(node, changes, _sandbox_image(_node(nodes, source), path), path)


def tag_image(
    node: Node,
    nodes: list[Node],
    changes: ChangeLog,
    images: dict[str, str],
    as_name: str,
    image: str = "",
    role: str = "",
    like: str = "control-plane",
    namespace: str = "k8s.io",
) -> None:
    """Give an image the node already has a second name AS_NAME (`ctr images tag`); undo removes that name again.

    The image is IMAGE, or the cluster's image for ROLE (web, shell...), or else the sandbox image node LIKE's
    containerd uses. What an admin of an offline node does to satisfy a configured image name without pulling."""
    if role and role not in images:
        raise StepError(f"no image for role {role!r} (known: {', '.join(sorted(images))})")
    image = image or (qualified(images[role]) if role else "") or _sandbox_image(_node(nodes, like))
    listed = node.run("ctr -n %s images ls -q", namespace)
    names = set(listed.stdout.split()) if listed.ok else set()
    if image not in names:
        raise StepError(f"{node.name}: containerd has no image {image} (namespace {namespace})")
    if as_name in names:
        raise StepError(f"{node.name}: containerd already has an image named {as_name}")
    ns, src, dst = (shlex.quote(v) for v in (namespace, image, as_name))
    changes.command(node, f"ctr -n {ns} images tag {src} {dst}", undo=f"ctr -n {ns} images rm {dst}")


def forget_image_on_reset(node: Node, changes: ChangeLog, name: str, namespace: str = "k8s.io") -> None:
    """Changes nothing now (NODE must not hold image NAME); on reset, NAME is removed from NODE, however it came.

    For a lab whose fix is to get an image onto a node (import, tag, pull): reset takes it away again, so
    that the next start meets the node as it was."""
    listed = node.run("ctr -n %s images ls -q", namespace)
    if not listed.ok:
        raise StepError(f"{node.name}: cannot list containerd's images: {listed.stderr.strip()[:200]}")
    if name in listed.stdout.split():
        raise StepError(f"{node.name}: containerd already holds {name}; the lab needs a node without it")
    ns, image = shlex.quote(namespace), shlex.quote(name)
    changes.command(node, "true", undo=f"ctr -n {ns} images rm {image} >/dev/null 2>&1 || true")
