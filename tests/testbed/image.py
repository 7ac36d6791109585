"""Build the node image offline: debootstrap Debian bookworm, tweak it for systemd, `docker import` it."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.testbed import dockercli
from tests.testbed.mirror import debian_mirror
from tests.testbed.paths import cache_dir

SUITE = "bookworm"
BUILD_VERSION = "1"  # bump when the build steps change in a way the script text does not show
REPOSITORY = "breakfix-node"

PACKAGES: tuple[str, ...] = (
    # boot and management
    "systemd", "systemd-sysv", "dbus", "openssh-server", "openssh-client", "python3",
    # container runtime
    "containerd", "runc",
    # what kubeadm's preflight checks look for (crictl is not packaged in Debian: built later)
    "iproute2", "iptables", "ebtables", "conntrack", "socat", "ethtool", "kmod", "procps",
    # tools a student troubleshooting a node expects
    "ca-certificates", "curl", "less", "iputils-ping", "netcat-openbsd", "lsof", "vim-tiny", "nano",
    # the private image registry (role registry: started on the first control-plane node only)
    "docker-registry",
)  # fmt: skip

# Units that cannot work in a container (no tty, no udev, no kernel modules, no clock) are masked.
MASKED_UNITS: tuple[str, ...] = (
    "getty.target", "console-getty.service", "serial-getty@.service", "getty@tty1.service",
    "systemd-udevd.service", "systemd-udev-trigger.service", "systemd-udev-settle.service",
    "systemd-modules-load.service", "systemd-remount-fs.service", "systemd-firstboot.service",
    "systemd-timesyncd.service", "systemd-binfmt.service", "systemd-hwdb-update.service",
    "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
    "sys-kernel-config.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
    "sys-fs-fuse-connections.mount", "dev-hugepages.mount", "dev-mqueue.mount",
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
    "e2scrub_reap.service", "fstrim.timer", "man-db.timer",
)  # fmt: skip

SSHD_CONFIG = """\
# breakfix test bed: keys only, one host key injected per run
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""

JOURNALD_CONFIG = """\
[Journal]
ReadKMsg=no
SystemMaxUse=64M
"""

CUSTOMIZE_SCRIPT = f"""\
set -eu
export DEBIAN_FRONTEND=noninteractive
systemctl mask {" ".join(MASKED_UNITS)}
systemctl enable ssh.service containerd.service
systemctl disable docker-registry.service
systemctl set-default multi-user.target
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/ssh/sshd_config.d /etc/systemd/journald.conf.d /root/.ssh
chmod 700 /root/.ssh
cat > /etc/ssh/sshd_config.d/breakfix.conf <<'CONF'
{SSHD_CONFIG}CONF
cat > /etc/systemd/journald.conf.d/breakfix.conf <<'CONF'
{JOURNALD_CONFIG}CONF
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -sf /etc/machine-id /var/lib/dbus/machine-id
echo breakfix-node > /etc/hostname
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /var/tmp/*
"""


def image_hash() -> str:
    """Return a short hash of everything that defines the image (packages, steps, suite)."""
    h = hashlib.sha256()
    for part in (SUITE, BUILD_VERSION, "\n".join(PACKAGES), CUSTOMIZE_SCRIPT):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def image_ref() -> str:
    """Return the tag of the node image for this build definition."""
    return f"{REPOSITORY}:{image_hash()}"


def tarball_path() -> Path:
    """Return where the rootfs tarball of this build is cached."""
    return cache_dir() / "images" / f"{REPOSITORY}-{image_hash()}.tar"


def _log(msg: str) -> None:
    print(f"[testbed] {msg}", file=sys.stderr, flush=True)


@contextmanager
def _build_lock() -> Iterator[None]:
    """Serialize builds across processes with a lock file in the cache folder."""
    path = cache_dir() / "build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], input: str | None = None) -> None:
    """Run a build command, failing with its output on error."""
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}):\n{tail}")


def build_rootfs_tarball(dest: Path) -> None:
    """Debootstrap the node root file system and pack it into the tarball DEST."""
    if os.geteuid() != 0:
        raise RuntimeError("building the node image needs root (debootstrap, chroot)")
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed: run tests/testbed/setup-host.sh")
    dest.parent.mkdir(parents=True, exist_ok=True)
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=dest.parent) as tmp:
        root = Path(tmp) / "rootfs"
        mirror = debian_mirror()
        _log(f"debootstrap {SUITE} from {mirror} ({len(PACKAGES)} extra packages)")
        _run(
            [
                "debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                f"--cache-dir={debs}", "--components=main", SUITE, str(root), mirror,
            ]
        )  # fmt: skip
        _log("customizing the root file system for systemd in a container")
        _run(["chroot", str(root), "/bin/sh", "-s"], input=CUSTOMIZE_SCRIPT)
        for sub in ("dev", "proc", "sys", "run"):
            for child in (root / sub).iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = dest.with_suffix(".partial")
        _run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."])
        partial.replace(dest)


def import_tarball(tarball: Path, ref: str) -> None:
    """`docker import` the rootfs tarball as REF with systemd as PID 1."""
    dockercli.docker(
        "import",
        "--change", 'CMD ["/lib/systemd/systemd"]',
        "--change", "ENV container=docker",
        "--message", f"breakfix test bed node ({SUITE}, build {image_hash()})",
        str(tarball), ref,
    )  # fmt: skip


def ensure_image(rebuild: bool = False) -> str:
    """Return the node image tag, importing the cached tarball or building it when needed."""
    ref = image_ref()
    with _build_lock():
        if rebuild:
            dockercli.docker("image", "rm", "-f", ref, check=False)
            tarball_path().unlink(missing_ok=True)
        if dockercli.image_exists(ref):
            return ref
        tarball = tarball_path()
        if not tarball.exists():
            start = time.monotonic()
            build_rootfs_tarball(tarball)
            _log(f"root file system built in {time.monotonic() - start:.0f}s: {tarball}")
        start = time.monotonic()
        import_tarball(tarball, ref)
        _log(f"imported {ref} in {time.monotonic() - start:.0f}s")
    return ref


def remove_image() -> None:
    """Remove the node image (not the cached tarball) from docker."""
    dockercli.docker("image", "rm", "-f", image_ref(), check=False)
