"""Build the kubeadm test bed's container images locally, save them as archives, cached by content.

No registry can be reached, so every image a kubeadm cluster runs is built here with `docker build`:
control-plane, CoreDNS and metrics-server images FROM scratch with the static binaries of
tests.testbed.artifacts, kube-proxy with the iptables tools taken from the node image, a pause built
from pause/pause.go, busybox (Debian) images for the labs' `web` and `shell` roles, and Debian's Python
for their `python` role. Two archives come out (`docker save`): the control-plane images and the
images every node needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.testbed import dockercli, image
from tests.testbed.artifacts import artifacts_dir, binary, cache_root, component

REPOSITORY = "breakfix.local/k8s"
BUILD_VERSION = "3"  # bump when the build steps change in a way the text below does not show
HERE = Path(__file__).resolve().parent

WEB_IMAGE = "breakfix.local/web:1"
SHELL_IMAGE = "breakfix.local/shell:1"
PYTHON_IMAGE = "breakfix.local/python:1"
PAUSE_TAG = "3.10.1"

INDEX_HTML = "<html><body><h1>breakfix web</h1><p>served by busybox httpd</p></body></html>\n"

# Copy BINS (dynamically linked, from a Debian bookworm stage) with the libraries they load into /out,
# in the merged-/usr layout; EXTRA_LIBDIRS are copied whole (iptables' extensions) with their libraries.
COLLECT_SCRIPT = r"""
set -eu
out=/out
first=${BINS%% *}
libc=$(ldd "$first" | awk '/libc\.so/ {print $3}')
[ -n "$libc" ] || { echo "collect: $first is not dynamically linked against libc" >&2; exit 1; }
libdir=$(dirname "$(readlink -f "$libc")")
mkdir -p "$out/usr/sbin" "$out/usr/bin" "$out/usr/lib64" "$out$libdir" "$out/etc" "$out/tmp" "$out/run" "$out/var"
ln -s usr/lib "$out/lib"
ln -s usr/lib64 "$out/lib64"
ln -s usr/bin "$out/bin"
ln -s usr/sbin "$out/sbin"
ln -s ../run "$out/var/run"
for b in $BINS; do cp "$(readlink -f "$b")" "$out$b"; done
scan="$BINS"
for d in ${EXTRA_LIBDIRS:-}; do cp -a "$libdir/$d" "$out$libdir/"; scan="$scan $(ls "$libdir/$d"/*.so)"; done
for f in $scan; do
  ldd "$f" | awk '/=>/ {print $1, $3}' | while read -r soname path; do
    [ -e "$out$libdir/$soname" ] || cp "$(readlink -f "$path")" "$out$libdir/$soname"
  done
done
cp "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$out$libdir/ld-linux-x86-64.so.2"
ln -s "$libdir/ld-linux-x86-64.so.2" "$out/usr/lib64/ld-linux-x86-64.so.2"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$out/etc/nsswitch.conf"
"""

# kube-proxy runs the iptables tools (nft backend, as on the nodes; legacy for its detection).
IPTABLES_LINKS = r"""
set -eu
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -s xtables-nft-multi "/out/usr/sbin/$t"
  ln -s xtables-nft-multi "/out/usr/sbin/$t-nft"
  ln -s xtables-legacy-multi "/out/usr/sbin/$t-legacy"
done
cp /etc/ethertypes /etc/protocols /etc/services /out/etc/
"""

# busybox (Debian's dynamically linked build: the static one crashes in glibc's resolver) and its
# applets. Its wget crashes with -T (timeout): use `timeout 10 wget ...` in the shell image.
BUSYBOX_LINKS = r"""
set -eu
for applet in $(/usr/bin/busybox --list); do
  [ "$applet" = busybox ] || [ -e "/out/usr/bin/$applet" ] || ln -s busybox "/out/usr/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > /out/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > /out/etc/group
mkdir -p /out/root
"""

# Debian's Python 3 with its standard library (no tests, no docs), and the libraries its modules load:
# labs run small servers from a ConfigMap with it (role `python`; clusters that pull use python:alpine).
PYTHON_LIBS = r"""
set -eu
libdir=$(dirname "$(readlink -f "$(ldd /usr/bin/python3.11 | awk '/libc\.so/ {print $3}')")")
cp -a /usr/lib/python3.11 /out/usr/lib/python3.11
rm -rf /out/usr/lib/python3.11/test /out/usr/lib/python3.11/pydoc_data
for f in /out/usr/lib/python3.11/lib-dynload/*.so; do
  ldd "$f" | awk '/=>/ {print $1, $3}' | while read -r soname path; do
    [ -e "/out$libdir/$soname" ] || cp "$(readlink -f "$path")" "/out$libdir/$soname"
  done
done
ln -s python3.11 /out/usr/bin/python3
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > /out/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > /out/etc/group
"""


@dataclass
class ImageSet:
    """The archives to import and the names kubeadm and the labs use."""

    control_plane_archive: Path
    node_archive: Path
    repository: str = REPOSITORY
    kubernetes_tag: str = ""
    etcd_tag: str = ""
    coredns_tag: str = ""
    pause: str = ""
    metrics_server: str = ""
    web: str = WEB_IMAGE
    shell: str = SHELL_IMAGE
    python: str = PYTHON_IMAGE
    refs: list[str] = field(default_factory=list)


def _log(msg: str) -> None:
    print(f"[kubeadm-images] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Return where built image archives are kept (<cache>/kubeadm/images)."""
    return cache_root() / "kubeadm" / "images"


def _place(src: Path, dest: Path) -> None:
    """Hard-link SRC to DEST (copy across file systems)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _busybox_target() -> Path:
    return cache_root() / "kubeadm" / "busybox-deb" / "busybox"


def busybox_cached() -> bool:
    """Tell whether busybox was already downloaded."""
    return _busybox_target().is_file()


def busybox_binary() -> Path:
    """Return Debian's busybox (dynamically linked), downloaded with `apt-get download` once and cached."""
    target = _busybox_target()
    if target.is_file():
        return target
    work = Path(tempfile.mkdtemp(prefix="busybox-", dir=cache_root()))
    try:
        subprocess.run(["apt-get", "download", "busybox"], cwd=work, check=True, capture_output=True)
        deb = next(work.glob("busybox_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(work / "x" / "bin" / "busybox", target)
        (target.parent / "version").write_text(deb.name + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def build_pause(dest: Path) -> None:
    """Compile pause/pause.go into a static binary DEST."""
    from tests.testbed.artifacts.build import go_binary

    with tempfile.TemporaryDirectory(prefix="pause-") as tmp:
        shutil.copy2(HERE / "pause" / "pause.go", Path(tmp) / "pause.go")
        (Path(tmp) / "go.mod").write_text("module breakfix.local/pause\n\ngo 1.22\n")
        env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="")
        subprocess.run(
            [go_binary(), "build", "-trimpath", "-ldflags", "-s -w", "-o", str(dest), "."],
            cwd=tmp, env=env, check=True,
        )  # fmt: skip


def _docker_build(context: Path, tag: str, dockerfile: str) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    dockercli.docker("build", "--quiet", "-t", tag, str(context))


def _collect_stage(node_image: str, bins: str, extra_libdirs: str = "") -> str:
    """Return Dockerfile lines of a stage FROM the node image that gathers BINS and libraries in /out."""
    return (
        f"FROM {node_image} AS tools\n"
        "COPY collect.sh then.sh /\n"
        f'RUN BINS="{bins}" EXTRA_LIBDIRS="{extra_libdirs}" sh /collect.sh && sh /then.sh\n'
    )


def _tools_context(ctx: Path, then: str) -> None:
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "collect.sh").write_text(COLLECT_SCRIPT)
    (ctx / "then.sh").write_text(then)


def _fingerprint(node_image: str) -> str:
    """Hash everything the images are made of: build records, this file, pause.go, busybox, node image."""
    h = hashlib.sha256()
    for name in ("kubernetes", "etcd", "coredns", "metrics-server"):
        h.update((component(name).root / "build.json").read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update((HERE / "pause" / "pause.go").read_bytes())
    h.update((busybox_binary().parent / "version").read_bytes())
    h.update(node_image.encode())
    h.update(BUILD_VERSION.encode())
    return h.hexdigest()[:12]


#: Another digest's archives (another checkout's images) are removed once unused for this long: a bring-up
#: of that checkout may be importing them right now.
STALE_ARCHIVE_S = 3600.0


def remove_stale_archives(folder: Path, digest: str, now: float | None = None) -> list[Path]:
    """Remove the archives of other digests that nothing used for STALE_ARCHIVE_S seconds; return them."""
    now = time.time() if now is None else now
    removed = []
    for old in folder.glob("*.tar"):
        if digest not in old.name and now - old.stat().st_mtime > STALE_ARCHIVE_S:
            old.unlink(missing_ok=True)
            removed.append(old)
    return removed


def ensure_images(force: bool = False) -> ImageSet:
    """Build (or reuse) the images and return the archives and names."""
    kubernetes = component("kubernetes")
    etcd = component("etcd")
    coredns = component("coredns")
    node_image = image.ensure_image()
    digest = _fingerprint(node_image)
    k8s_tag, etcd_tag, dns_tag = kubernetes.version, etcd.version, coredns.version
    cp_names = [f"{REPOSITORY}/{c}:{k8s_tag}" for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")]
    cp_names.append(f"{REPOSITORY}/etcd:{etcd_tag}")
    pause = f"{REPOSITORY}/pause:{PAUSE_TAG}"
    metrics_server = f"{REPOSITORY}/metrics-server:{component('metrics-server').version}"
    node_names = [
        f"{REPOSITORY}/kube-proxy:{k8s_tag}",
        f"{REPOSITORY}/coredns:{dns_tag}",
        pause,
        metrics_server,
        WEB_IMAGE,
        SHELL_IMAGE,
        PYTHON_IMAGE,
    ]
    folder = cache_dir()
    cp_archive = folder / f"control-plane-{digest}.tar"
    node_archive = folder / f"node-{digest}.tar"
    result = ImageSet(
        cp_archive,
        node_archive,
        REPOSITORY,
        k8s_tag,
        etcd_tag,
        dns_tag,
        pause,
        metrics_server,
        refs=cp_names + node_names,
    )
    if cp_archive.is_file() and node_archive.is_file() and not force:
        for archive in (cp_archive, node_archive):
            os.utime(archive)  # in use: another checkout's build keeps it (remove_stale_archives)
        return result
    start = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=folder) as tmp:
        work = Path(tmp)
        scratch_env = "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin\n"
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            ctx = work / name
            _place(binary("kubernetes", name), ctx / name)
            _docker_build(
                ctx, f"{REPOSITORY}/{name}:{k8s_tag}", f"FROM scratch\n{scratch_env}COPY {name} /usr/local/bin/{name}\n"
            )
        ctx = work / "etcd"
        for b in ("etcd", "etcdctl", "etcdutl"):  # etcdutl: snapshot restore (etcd 3.6 took it out of etcdctl)
            _place(binary("etcd", b), ctx / b)
        (ctx / "tmp").mkdir()
        _docker_build(
            ctx,
            f"{REPOSITORY}/etcd:{etcd_tag}",
            f"FROM scratch\n{scratch_env}COPY etcd etcdctl etcdutl /usr/local/bin/\nCOPY tmp /tmp\n",
        )
        ctx = work / "coredns"
        _place(binary("coredns"), ctx / "coredns")
        (ctx / "etc").mkdir()
        (ctx / "etc" / "nsswitch.conf").write_text("hosts: files dns\n")
        _docker_build(
            ctx,
            f"{REPOSITORY}/coredns:{dns_tag}",
            'FROM scratch\nCOPY coredns /coredns\nCOPY etc /etc\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]\n',
        )
        ctx = work / "metrics-server"  # runs as user 1000 with a read-only root; its certificates go to /tmp
        _place(binary("metrics-server"), ctx / "metrics-server")
        _docker_build(
            ctx, metrics_server, 'FROM scratch\nCOPY metrics-server /metrics-server\nENTRYPOINT ["/metrics-server"]\n'
        )
        ctx = work / "kube-proxy"
        _tools_context(ctx, IPTABLES_LINKS)
        _place(binary("kubernetes", "kube-proxy"), ctx / "kube-proxy")
        _docker_build(
            ctx,
            f"{REPOSITORY}/kube-proxy:{k8s_tag}",
            _collect_stage(node_image, "/usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi", "xtables")
            + f"FROM scratch\n{scratch_env}COPY --from=tools /out/ /\nCOPY kube-proxy /usr/local/bin/kube-proxy\n",
        )
        ctx = work / "pause"
        ctx.mkdir()
        build_pause(ctx / "pause")
        _docker_build(ctx, pause, 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n')
        for ctx, ref, tail in (
            (work / "shell", SHELL_IMAGE, 'CMD ["sh"]\n'),
            (
                work / "web",
                WEB_IMAGE,
                'COPY www /www\nEXPOSE 80\nCMD ["httpd", "-f", "-v", "-p", "80", "-h", "/www"]\n',
            ),
        ):
            _tools_context(ctx, BUSYBOX_LINKS)
            _place(busybox_binary(), ctx / "busybox")
            (ctx / "www").mkdir()
            (ctx / "www" / "index.html").write_text(INDEX_HTML)
            _docker_build(
                ctx,
                ref,
                "FROM " + node_image + " AS tools\nCOPY busybox /usr/bin/busybox\nCOPY collect.sh then.sh /\n"
                'RUN BINS="/usr/bin/busybox" sh /collect.sh && sh /then.sh\n'
                f"FROM scratch\n{scratch_env}COPY --from=tools /out/ /\n{tail}",
            )
        ctx = work / "python"
        _tools_context(ctx, PYTHON_LIBS)
        _docker_build(
            ctx,
            PYTHON_IMAGE,
            _collect_stage(node_image, "/usr/bin/python3.11")
            + f'FROM scratch\n{scratch_env}COPY --from=tools /out/ /\nCMD ["python3"]\n',
        )
        for archive, names in ((cp_archive, cp_names), (node_archive, node_names)):
            partial = archive.with_suffix(".partial")
            dockercli.docker("save", "-o", str(partial), *names)
            partial.replace(archive)
    remove_stale_archives(folder, digest)
    (folder / f"images-{digest}.json").write_text(json.dumps(result.refs, indent=2) + "\n")
    _log(f"built and saved {len(result.refs)} images in {time.monotonic() - start:.0f}s ({digest})")
    return result


def artifacts_ready() -> list[str]:
    """Return the artifact components the kubeadm test bed still misses."""
    from tests.testbed.artifacts import missing

    return missing(("kubernetes", "etcd", "coredns", "metrics-server", "cni-plugins"))


__all__ = ["ImageSet", "artifacts_dir", "artifacts_ready", "busybox_binary", "busybox_cached", "ensure_images"]
