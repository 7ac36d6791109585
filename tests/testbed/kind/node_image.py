"""Build a kind node image from the test bed's own artifacts, so `kind create cluster` runs offline.

kindest/node cannot be pulled here. This image is what `kind build node-image` would make, from parts
built on this machine: the test bed's Debian node (systemd, containerd 1.6, iptables), kind's own
entrypoint and kubelet units (read from the kind Go module at build time), kubelet/kubeadm/kubectl
and the CNI plugins from tests.testbed.artifacts, and the kubeadm test bed's images imported into
containerd (`--no-unpack`, as kind does) under the names kubeadm asks for. The default CNI manifest
is a small bridge + routes DaemonSet (files/netd.sh), since kindnetd cannot be built from a served
module. The tag hashes every input; a warm run only checks that the tag exists.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2
import yaml

from tests.testbed import dockercli, image
from tests.testbed.artifacts import binary, component, kind_base_files
from tests.testbed.kubeadm.images import ImageSet, ensure_images

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
REPO = HERE.parents[2]
ROLE = REPO / "vagrant" / "roles" / "kubernetes"
REPOSITORY = "breakfix.local/kind-node"
BUILD_VERSION = "1"  # bump when the steps change in a way the inputs below do not show
IMAGE_MAP_PATH = "/etc/breakfix/images.yaml"  # read by breakfix's kind provider (docs/inventory.md)

# kind's base-image files this image uses (its containerd files are for containerd 2.x: not these).
KIND_FILES = (
    "usr/local/bin/entrypoint",
    "kind/bin/create-kubelet-cgroup-v2.sh",
    "kind/bin/undo-mount-hacks.sh",
    "etc/systemd/system/kubelet.service",
    "etc/systemd/system/kubelet.slice",
    "etc/systemd/system/undo-mount-hacks.service",
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "etc/systemd/system/kubelet.service.d/11-kind.conf",
    "etc/crictl.yaml",
    "etc/default/kubelet",
)
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")

DOCKERFILE = """\
FROM {base}
COPY root/ /
RUN set -eu; \\
    systemctl disable ssh.service; \\
    systemctl enable kubelet.service containerd.service undo-mount-hacks.service; \\
    mkdir -p /etc/kubernetes/manifests /etc/kubernetes/kernel-tunables /kind/manifests; \\
    cp /kind/breakfix/default-cni.yaml /kind/manifests/default-cni.yaml; \\
    chmod 0755 /usr/local/bin/entrypoint /kind/bin/*.sh /kind/breakfix/entrypoint \\
        /kind/breakfix/kernel-tunables-shim /kind/breakfix/api-host
STOPSIGNAL SIGRTMIN+3
"""
ENTRYPOINT = '["/kind/breakfix/entrypoint", "/usr/local/bin/entrypoint", "/sbin/init"]'


class NodeImageError(RuntimeError):
    """The kind node image could not be built."""


def _log(msg: str) -> None:
    print(f"[kind-node-image] {msg}", file=sys.stderr, flush=True)


def kubeadm_image_refs(version: str) -> list[str]:
    """Return the images kubeadm VERSION runs by default (`kubeadm config images list`)."""
    out = subprocess.run(
        [str(binary("kubernetes", "kubeadm")), "config", "images", "list", "--kubernetes-version", version],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def retags(images: ImageSet, wanted: list[str]) -> list[tuple[str, str]]:
    """Return (local image, name kubeadm wants) pairs: kube-*, etcd, coredns and pause by base name."""
    local = {
        name: f"{images.repository}/{name}:{images.kubernetes_tag}"
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")
    }
    local["etcd"] = f"{images.repository}/etcd:{images.etcd_tag}"
    local["coredns"] = f"{images.repository}/coredns:{images.coredns_tag}"
    local["pause"] = images.pause
    pairs = []
    for ref in wanted:
        base = ref.rsplit("/", 1)[-1].split(":", 1)[0]
        if base not in local:
            raise NodeImageError(f"kubeadm wants {ref}, which the test bed does not build")
        pairs.append((local[base], ref))
    return pairs


def tunables_shim() -> str:
    """Render the kubernetes role's kernel-tunables shim (one source for both test bed clusters)."""
    template = (ROLE / "templates" / "kernel-tunables-shim.sh.j2").read_text()
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return jinja2.Template(template, keep_trailing_newline=True).render(
        ansible_managed="breakfix test bed kind node image",
        kubelet_kernel_tunables=defaults["kubelet_kernel_tunables"],
    )


def _sandbox(pairs: list[tuple[str, str]]) -> str:
    return next(ref for _, ref in pairs if ref.rsplit("/", 1)[-1].startswith("pause:"))


def _generated_files(images: ImageSet, pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Return {path in the image: content} of the files this module writes."""
    kind_kubelet_args = (kind_base_files() / "etc" / "default" / "kubelet").read_text().strip()
    return {
        "etc/containerd/config.toml": (FILES / "containerd-config.toml")
        .read_text()
        .replace("SANDBOX_IMAGE", _sandbox(pairs)),
        "etc/default/kubelet": f"{kind_kubelet_args} --resolv-conf=/kind/breakfix/resolv.conf\n",
        "etc/systemd/system/kubelet.service.d/05-breakfix-tunables.conf": (
            "# breakfix test bed: show the kubelet the kernel tunables it wants, inside this node only;\n"
            "# give pods on the host network the API server's name (their resolv.conf has no upstream)\n"
            "[Service]\nExecStartPre=/kind/breakfix/kernel-tunables-shim\nExecStartPre=/kind/breakfix/api-host\n"
        ),
        "kind/breakfix/kernel-tunables-shim": tunables_shim(),
        "kind/breakfix/entrypoint": (FILES / "entrypoint").read_text(),
        "kind/breakfix/api-host": (FILES / "api-host").read_text(),
        "kind/breakfix/netd/netd.sh": (FILES / "netd.sh").read_text(),
        "kind/breakfix/default-cni.yaml": (FILES / "default-cni.yaml").read_text().replace("SHELL_IMAGE", images.shell),
        "kind/version": component("kubernetes").version + "\n",
        IMAGE_MAP_PATH.lstrip("/"): yaml.safe_dump(
            {
                "images": {"web": images.web, "shell": images.shell, "python": images.python, "pause": _sandbox(pairs)},
                "pull_policy": "Never",
            }
        ),
    }


def _fingerprint(base: str, images: ImageSet, pairs: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for part in (base, images.control_plane_archive.name, images.node_archive.name, BUILD_VERSION, repr(pairs)):
        h.update(part.encode() + b"\0")
    for name in ("kubernetes", "cni-plugins", "kind"):
        h.update((component(name).root / "build.json").read_bytes())
    for rel in KIND_FILES:
        h.update((kind_base_files() / rel).read_bytes())
    for path, content in sorted(_generated_files(images, pairs).items()):
        h.update(path.encode() + b"\0" + content.encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:12]


def _link(src: Path, dest: Path, mode: int = 0o755) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    dest.chmod(mode)


def _context(work: Path, images: ImageSet, pairs: list[tuple[str, str]], base: str) -> None:
    root = work / "root"
    for rel in KIND_FILES:
        _link(kind_base_files() / rel, root / rel, 0o644)
    for path, content in _generated_files(images, pairs).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    for name in ("kubelet", "kubeadm", "kubectl"):
        _link(binary("kubernetes", name), root / "usr" / "bin" / name)
    for name in CNI_PLUGINS:
        _link(binary("cni-plugins", name), root / "opt" / "cni" / "bin" / name)
    (work / "Dockerfile").write_text(DOCKERFILE.format(base=base))


def _preload(stage: str, images: ImageSet, pairs: list[tuple[str, str]], ref: str) -> None:
    """Import the image archives into the stage's containerd (no unpack), tag them, commit REF."""
    name = f"breakfix-kind-node-build-{ref.rsplit('-', 1)[-1]}"
    dockercli.docker("rm", "-f", name, check=False)
    archives = images.control_plane_archive.parent
    dockercli.docker(
        "run",
        "-d",
        "--init",
        "--name",
        name,
        "--entrypoint",
        "sleep",
        "-v",
        f"{archives}:/images:ro",
        stage,
        "infinity",
    )
    try:
        dockercli.docker("exec", name, "sh", "-c", "containerd >/var/log/containerd-build.log 2>&1 &")
        deadline = time.monotonic() + 60
        while not dockercli.succeeds("exec", name, "ctr", "version"):
            if time.monotonic() > deadline:
                log = dockercli.docker("exec", name, "tail", "-20", "/var/log/containerd-build.log", check=False)
                raise NodeImageError(f"containerd did not start in the build container:\n{log}")
            time.sleep(0.5)
        for archive in (images.control_plane_archive, images.node_archive):
            dockercli.docker(
                "exec", name, "ctr", "-n", "k8s.io", "images", "import", "--no-unpack", f"/images/{archive.name}"
            )
        for local, wanted in pairs:
            dockercli.docker("exec", name, "ctr", "-n", "k8s.io", "images", "tag", "--force", local, wanted)
        dockercli.docker("exec", name, "sh", "-c", "pkill containerd; while pgrep containerd; do sleep 0.2; done")
        dockercli.docker("exec", name, "rm", "-f", "/var/log/containerd-build.log")
        dockercli.docker(
            "commit", "--change", f"ENTRYPOINT {ENTRYPOINT}", "--change", "CMD []",
            name, ref,
        )  # fmt: skip
    finally:
        dockercli.docker("rm", "-f", name, check=False)


def ensure_node_image(force: bool = False) -> str:
    """Build (or reuse) the kind node image and return its tag."""
    missing = [n for n in ("kubernetes", "cni-plugins", "kind") if not component(n).is_built()]
    if missing:
        raise NodeImageError(f"not built: {', '.join(missing)} (python -m tests.testbed.artifacts {' '.join(missing)})")
    base = image.ensure_image()
    images = ensure_images()
    pairs = retags(images, kubeadm_image_refs(component("kubernetes").version))
    ref = f"{REPOSITORY}:{component('kubernetes').version}-{_fingerprint(base, images, pairs)}"
    if dockercli.image_exists(ref) and not force:
        return ref
    start = time.monotonic()
    stage = f"{ref}-stage"
    with tempfile.TemporaryDirectory(prefix="kind-node-") as tmp:
        _context(Path(tmp), images, pairs, base)
        dockercli.docker("build", "--quiet", "-t", stage, tmp, timeout=1200)
    try:
        _preload(stage, images, pairs, ref)
    finally:
        dockercli.docker("image", "rm", "-f", stage, check=False)
    for old in dockercli.lines("images", REPOSITORY, "--format", "{{.Repository}}:{{.Tag}}"):
        if old != ref:
            dockercli.docker("image", "rm", "-f", old, check=False)
    _log(f"built {ref} in {time.monotonic() - start:.0f}s ({len(pairs)} kubeadm images, {json.dumps(images.web)})")
    return ref
