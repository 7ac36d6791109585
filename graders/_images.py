"""Image references as container runtimes read them: `nginx:1.27`, `docker.io/library/nginx:1.27` are one image."""

from __future__ import annotations

DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")


def _split(ref: str) -> tuple[str, str, str, str]:
    """(registry, path, tag, digest) of a reference; registry and path are as written, tag and digest may be ''."""
    rest, _, digest = ref.strip().partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = ""
    if colon > slash:  # a ':' after the last '/' starts the tag; one before it is a registry's port
        rest, tag = rest[:colon], rest[colon + 1 :]
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, remainder, tag, digest
    return "", rest, tag, digest


def qualified(ref: str) -> str:
    """The fully qualified form: registry, repository path, and a tag (`latest` when none is written)."""
    registry, path, tag, digest = _split(ref)
    registry = registry.lower()  # host names are case-insensitive; repository paths are not
    if not registry or registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    out = f"{registry}/{path}"
    if tag or not digest:
        out += f":{tag or 'latest'}"
    return f"{out}@{digest}" if digest else out


def familiar(ref: str) -> str:
    """The shortest form that names the same image (`nginx:1.27` for `docker.io/library/nginx:1.27`)."""
    full = qualified(ref)
    library = f"{DOCKER_HUB}/library/"
    if full.startswith(library) and "/" not in full[len(library) :]:
        return full[len(library) :]
    if full.startswith(f"{DOCKER_HUB}/"):  # a Docker Hub user's image: user names hold no '.' or ':'
        return full[len(DOCKER_HUB) + 1 :]
    return full


def repository(ref: str) -> str:
    """The qualified repository a reference names, without tag or digest."""
    registry, path, _tag, _digest = _split(qualified(ref))
    return f"{registry}/{path}"


def digest(ref: str) -> str:
    """The digest a reference pins (`sha256:...`), or ''."""
    return _split(ref)[3]


def pinned_to(ref: str, image_ids: list[str]) -> bool:
    """Whether REF pins by digest one of the images that ran (container statuses' imageID: repo@digest or digest)."""
    pinned = digest(ref)
    return bool(pinned) and any(i.rpartition("@")[2] == pinned for i in image_ids)


def same_image(a: str, b: str) -> bool:
    """Whether two references name the same image (spelling of the registry and default tag aside)."""
    return qualified(a) == qualified(b)
