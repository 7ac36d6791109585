"""Images by role: labs ask for `web`, `shell` or `python`, each cluster maps roles to images it can run."""

from __future__ import annotations

from breakfix.inventory import ClusterSpec

#: Public images with explicit tags, for clusters that can pull.
DEFAULT_IMAGES = {
    "web": "docker.io/library/nginx:1.27.3",
    "shell": "docker.io/library/busybox:1.36.1",
    "python": "docker.io/library/python:3.13.1-alpine3.21",  # labs' small servers: python3 and its stdlib
    "pause": "registry.k8s.io/pause:3.10",
}

#: Roles whose images live in the cluster's private registry (capability private-registry): they are pulled
#: for real, with credentials, whatever pull policy the cluster forces on the others.
PULLED_ROLES = frozenset({"private-web"})


def image_map(cluster: ClusterSpec) -> dict[str, str]:
    """The cluster's role-to-image map: its inventory's breakfix_images over the defaults."""
    return {**DEFAULT_IMAGES, **cluster.images}


def resolve_images(obj: object, images: dict[str, str], pull_policy: str | None) -> None:
    """Replace `image: role:NAME` in every container of a manifest with the cluster's image for NAME."""
    if isinstance(obj, dict):
        for key in ("containers", "initContainers"):
            for container in obj.get(key) or []:
                image = container.get("image", "")
                if isinstance(image, str) and image.startswith("role:"):
                    role = image[5:]
                    if role not in images:
                        raise KeyError(f"no image for role {role!r} (known: {', '.join(sorted(images))})")
                    container["image"] = images[role]
                    if pull_policy and role not in PULLED_ROLES:
                        container["imagePullPolicy"] = pull_policy
        for value in obj.values():
            resolve_images(value, images, pull_policy)
    elif isinstance(obj, list):
        for item in obj:
            resolve_images(item, images, pull_policy)
