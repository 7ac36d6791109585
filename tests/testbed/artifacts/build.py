"""Build the test bed's Kubernetes, etcd, kwok, CoreDNS, metrics-server and CNI binaries from Go modules, cached.

Nothing here is downloaded as a release: every binary is compiled at test time from the Go module
proxy. Results land in ``<cache>/artifacts/<name>-<version>/bin/`` (cache: ``BREAKFIX_CACHE`` or
``~/.cache/breakfix``); a finished component has a ``build.json`` next to ``bin/``, so a warm run
only checks files and takes well under a second.

Usage: ``python -m tests.testbed.artifacts [--list] [--force] [component ...]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fcntl
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

KUBERNETES_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
COREDNS_VERSION = "v1.15.0"
CNI_PLUGINS_VERSION = "v1.9.1"
METRICS_SERVER_VERSION = "v0.8.0"
KIND_VERSION = "v0.30.0"  # its default node image is Kubernetes v1.34, the minor the test bed builds

KUBERNETES_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "kubelet",
    "kubeadm",
    "kubectl",
)
CNI_PLUGINS = (
    "plugins/main/bridge",
    "plugins/main/loopback",
    "plugins/main/ptp",
    "plugins/ipam/host-local",
    "plugins/meta/portmap",
    "plugins/meta/bandwidth",
    "plugins/meta/firewall",
)


def cache_root() -> Path:
    """Return breakfix's cache folder (BREAKFIX_CACHE, else $XDG_CACHE_HOME/breakfix or ~/.cache/breakfix)."""
    override = os.environ.get("BREAKFIX_CACHE")
    if override:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "breakfix").resolve()


def artifacts_dir() -> Path:
    """Return the folder holding one ``<name>-<version>`` folder per built component."""
    return cache_root() / "artifacts"


@dataclass(frozen=True)
class Component:
    """One buildable component: a name, a version and the binaries it yields."""

    name: str
    version: str
    binaries: tuple[str, ...]
    builder: Callable[[Component, Path, Path], None] = field(repr=False, compare=False)
    extra_files: tuple[str, ...] = ()  # other files the build leaves, relative to root

    @property
    def root(self) -> Path:
        """Return ``<artifacts>/<name>-<version>``."""
        return artifacts_dir() / f"{self.name}-{self.version}"

    @property
    def bin_dir(self) -> Path:
        """Return the folder with the built binaries."""
        return self.root / "bin"

    def binary(self, name: str) -> Path:
        """Return the path of one built binary (it may not exist yet)."""
        return self.bin_dir / name

    def is_built(self) -> bool:
        """Tell whether the component was built completely."""
        if not (self.root / "build.json").is_file():
            return False
        if not all((self.root / f).is_file() for f in self.extra_files):
            return False
        return all(os.access(self.binary(b), os.X_OK) for b in self.binaries)


# ---------------------------------------------------------------- the go tool


def go_binary() -> str:
    """Return the go tool to use (BREAKFIX_GO, then PATH, then /usr/local/go/bin/go)."""
    explicit = os.environ.get("BREAKFIX_GO")
    if explicit:
        return explicit
    found = shutil.which("go")
    if found:
        return found
    fallback = Path("/usr/local/go/bin/go")
    if fallback.exists():
        return str(fallback)
    raise SystemExit("go not found: install Go >= 1.26 or set BREAKFIX_GO")


def build_jobs() -> int:
    """Return how many packages go may build at once (BREAKFIX_BUILD_JOBS, default: CPU count)."""
    value = os.environ.get("BREAKFIX_BUILD_JOBS")
    return int(value) if value else max(1, os.cpu_count() or 1)


def go_env() -> dict[str, str]:
    """Return the environment for go: static binaries, local toolchain only."""
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=mod").strip()
    env.setdefault("GO111MODULE", "on")
    return env


_T0 = time.monotonic()


def log(message: str) -> None:
    """Print one progress line with the seconds since the start."""
    print(f"[artifacts {time.monotonic() - _T0:7.1f}s] {message}", flush=True)


def run_go(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run ``go ARGS`` in CWD, streaming its output; fail loudly on error."""
    cmd = [go_binary(), *args]
    log("$ go " + " ".join(args))
    proc = subprocess.run(cmd, cwd=cwd, env=env or go_env(), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"go {args[0]} failed with exit code {proc.returncode} in {cwd}")


def go_output(args: Sequence[str], cwd: Path) -> str:
    """Run ``go ARGS`` and return its standard output."""
    return subprocess.run(
        [go_binary(), *args], cwd=cwd, env=go_env(), check=True, capture_output=True, text=True
    ).stdout


def write_wrapper(work: Path, requires: dict[str, str], replaces: dict[str, str]) -> None:
    """Write a throwaway ``go.mod`` that requires the given modules with the given replacements."""
    lines = ["module breakfix.local/artifacts", "", "go 1.24.0", "", "godebug default=go1.24", ""]
    lines.append("require (")
    lines += [f"\t{mod} {ver}" for mod, ver in sorted(requires.items())]
    lines.append(")")
    if replaces:
        lines += ["", "replace ("]
        lines += [f"\t{mod} => {mod} {ver}" for mod, ver in sorted(replaces.items())]
        lines.append(")")
    (work / "go.mod").write_text("\n".join(lines) + "\n")


def _staging_modules(kubernetes_version: str, work: Path) -> list[str]:
    """List the k8s.io staging modules that k8s.io/kubernetes replaces with ./staging/... folders."""
    info = json.loads(go_output(["mod", "download", "-json", f"k8s.io/kubernetes@{kubernetes_version}"], work))
    gomod = Path(info["GoMod"]).read_text()
    mods = []
    for line in gomod.splitlines():
        parts = line.split()
        if "=>" in parts and parts[-1].startswith("./staging/"):
            mods.append(parts[0])
    if not mods:
        raise SystemExit("found no staging replacements in k8s.io/kubernetes's go.mod")
    return mods


# ---------------------------------------------------------------- builders


def build_kubernetes(comp: Component, work: Path, out: Path) -> None:
    """Build the Kubernetes commands through a wrapper module that pins staging modules to v0.x releases."""
    version = comp.version
    major, minor = version.lstrip("v").split(".")[:2]
    staging_version = "v0." + version.lstrip("v").split(".", 1)[1]
    write_wrapper(work, {"k8s.io/kubernetes": version}, {})
    staging = _staging_modules(version, work)
    log(f"kubernetes {version}: {len(staging)} staging modules -> {staging_version}")
    write_wrapper(work, {"k8s.io/kubernetes": version}, dict.fromkeys(staging, staging_version))
    pkgs = [f"k8s.io/kubernetes/cmd/{c}" for c in comp.binaries]
    run_go(["get", *(f"{p}@{version}" for p in pkgs)], work)
    build_date = os.environ.get("BREAKFIX_BUILD_DATE") or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "gitCommit": "0000000000000000000000000000000000000000",
        "buildDate": build_date,
    }
    xflags = [
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in stamp.items()
    ]
    ldflags = " ".join(["-s", "-w", *xflags])
    run_go(
        ["build", f"-p={build_jobs()}", "-trimpath", "-ldflags", ldflags, "-o", str(out) + "/", *pkgs],
        work,
    )


def build_etcd(comp: Component, work: Path, out: Path) -> None:
    """Build etcd, etcdctl and etcdutl through a wrapper module (their go.mod files hold local replaces)."""
    version = comp.version
    modules = ("go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdutl/v3")
    mods = dict.fromkeys(modules, version)
    write_wrapper(work, mods, {})
    run_go(["get", *(f"{m}@{version}" for m in mods)], work)
    for binary, pkg in (
        ("etcd", "go.etcd.io/etcd/server/v3"),
        ("etcdctl", "go.etcd.io/etcd/etcdctl/v3"),
        ("etcdutl", "go.etcd.io/etcd/etcdutl/v3"),
    ):
        run_go(
            ["build", f"-p={build_jobs()}", "-trimpath", "-ldflags", "-s -w", "-o", str(out / binary), pkg],
            work,
        )


def _go_install(packages: Sequence[str], version: str, out: Path, work: Path, ldflags: str = "") -> None:
    env = go_env()
    env["GOBIN"] = str(out)
    env["GOFLAGS"] = env["GOFLAGS"].replace("-mod=mod", "").strip()
    args = ["install", f"-p={build_jobs()}", "-trimpath", "-ldflags", f"-s -w {ldflags}".strip()]
    run_go([*args, *(f"{p}@{version}" for p in packages)], work, env)


KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def build_kwok(comp: Component, work: Path, out: Path) -> None:
    """Install kwok and kwokctl with ``go install``; keep kwok's default stages (what kwokctl feeds kwok)."""
    _go_install([f"sigs.k8s.io/kwok/cmd/{b}" for b in comp.binaries], comp.version, out, work)
    info = json.loads(go_output(["mod", "download", "-json", f"sigs.k8s.io/kwok@{comp.version}"], work))
    stages = out.parent / "stages"
    stages.mkdir(exist_ok=True)
    for rel in KWOK_STAGES:
        shutil.copyfile(Path(info["Dir"]) / rel, stages / Path(rel).name)


def kwok_stages() -> list[Path]:
    """Return kwok's default node and pod stage files copied at build time."""
    root = component("kwok").root / "stages"
    return [root / Path(rel).name for rel in KWOK_STAGES]


def build_coredns(comp: Component, work: Path, out: Path) -> None:
    """Install CoreDNS with ``go install``."""
    _go_install(["github.com/coredns/coredns"], comp.version, out, work)


def build_metrics_server(comp: Component, work: Path, out: Path) -> None:
    """Install metrics-server with ``go install``."""
    _go_install(["sigs.k8s.io/metrics-server/cmd/metrics-server"], comp.version, out, work)


def build_cni_plugins(comp: Component, work: Path, out: Path) -> None:
    """Install the reference CNI plugins with ``go install``."""
    stamp = f"-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion={comp.version}"
    packages = [f"github.com/containernetworking/plugins/{p}" for p in CNI_PLUGINS]
    _go_install(packages, comp.version, out, work, stamp)


# kind's node-image files (entrypoint, kubelet units, cgroup helpers) from its module, for the test
# bed's own node image: they are read at build time, never committed.
KIND_BASE_FILES = "base-files"


def build_kind(comp: Component, work: Path, out: Path) -> None:
    """Install the kind CLI with ``go install``; keep its node-image base files from the module."""
    _go_install(["sigs.k8s.io/kind"], comp.version, out, work)
    info = json.loads(go_output(["mod", "download", "-json", f"sigs.k8s.io/kind@{comp.version}"], work))
    dest = out.parent / KIND_BASE_FILES
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(Path(info["Dir"]) / "images" / "base" / "files", dest)
    for path in [dest, *dest.rglob("*")]:  # the module cache is read-only
        path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)


def kind_base_files() -> Path:
    """Return the folder of kind's node-image base files copied at build time."""
    return component("kind").root / KIND_BASE_FILES


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component("kubernetes", KUBERNETES_VERSION, KUBERNETES_COMMANDS, build_kubernetes),
        Component("etcd", ETCD_VERSION, ("etcd", "etcdctl", "etcdutl"), build_etcd),
        Component(
            "kwok",
            KWOK_VERSION,
            ("kwok", "kwokctl"),
            build_kwok,
            tuple(f"stages/{Path(rel).name}" for rel in KWOK_STAGES),
        ),
        Component("coredns", COREDNS_VERSION, ("coredns",), build_coredns),
        Component("metrics-server", METRICS_SERVER_VERSION, ("metrics-server",), build_metrics_server),
        Component(
            "cni-plugins", CNI_PLUGINS_VERSION, tuple(p.rsplit("/", 1)[1] for p in CNI_PLUGINS), build_cni_plugins
        ),
        Component("kind", KIND_VERSION, ("kind",), build_kind, (f"{KIND_BASE_FILES}/usr/local/bin/entrypoint",)),
    )
}
DEFAULT_COMPONENTS = ("kubernetes", "etcd", "kwok")


def component(name: str) -> Component:
    """Return a component by name."""
    try:
        return COMPONENTS[name]
    except KeyError:
        raise SystemExit(f"unknown component {name!r}; known: {', '.join(COMPONENTS)}") from None


def binary(component_name: str, binary_name: str | None = None) -> Path:
    """Return the cached path of a built binary (whether or not it exists)."""
    return component(component_name).binary(binary_name or component_name)


def missing(names: Sequence[str] = DEFAULT_COMPONENTS) -> list[str]:
    """Return the components among NAMES that are not built yet."""
    return [n for n in names if not component(n).is_built()]


def build(comp: Component, force: bool = False) -> dict[str, object]:
    """Build one component unless it is cached; return its build record."""
    record_path = comp.root / "build.json"
    if comp.is_built() and not force:
        log(f"{comp.name} {comp.version}: cached in {comp.bin_dir}")
        return dict(json.loads(record_path.read_text()))
    comp.root.parent.mkdir(parents=True, exist_ok=True)
    with (comp.root.parent / f".{comp.name}-{comp.version}.lock").open("w") as lock:
        if not _try_lock(lock):
            log(f"{comp.name} {comp.version}: another build is running; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if comp.is_built() and not force:
            log(f"{comp.name} {comp.version}: built by another process in {comp.bin_dir}")
            return dict(json.loads(record_path.read_text()))
        return _build_locked(comp, record_path)


def _try_lock(lock: IO[str]) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _build_locked(comp: Component, record_path: Path) -> dict[str, object]:
    log(f"{comp.name} {comp.version}: building {', '.join(comp.binaries)}")
    staging = Path(tempfile.mkdtemp(prefix=f".{comp.name}-{comp.version}.", dir=comp.root.parent))
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="breakfix-wrapper-") as tmp:
            out = staging / "bin"
            out.mkdir()
            comp.builder(comp, Path(tmp), out)
        absent = [b for b in comp.binaries if not (out / b).is_file()]
        if absent:
            raise SystemExit(f"{comp.name}: build produced no {', '.join(absent)}")
        elapsed = time.monotonic() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        record = {
            "name": comp.name,
            "version": comp.version,
            "binaries": list(comp.binaries),
            "seconds": round(elapsed, 1),
            "peak_child_rss_mib": round(peak_mib),
            "go": go_output(["env", "GOVERSION"], staging).strip(),
            "built_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        (staging / record_path.name).write_text(json.dumps(record, indent=2) + "\n")
        if comp.root.exists():
            shutil.rmtree(comp.root)
        staging.rename(comp.root)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log(f"{comp.name} {comp.version}: built in {elapsed:.0f}s (peak child RSS so far {peak_mib:.0f} MiB)")
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tests.testbed.artifacts", description=__doc__.split("\n")[0])
    parser.add_argument("components", nargs="*", help=f"default: {' '.join(DEFAULT_COMPONENTS)}; 'all' for every one")
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--list", action="store_true", help="show components, versions and cache state")
    args = parser.parse_args(argv)
    names = list(args.components) or list(DEFAULT_COMPONENTS)
    if names == ["all"]:
        names = list(COMPONENTS)
    comps = [component(n) for n in names]
    if args.list:
        for c in comps:
            state = "built" if c.is_built() else "missing"
            print(f"{c.name:12} {c.version:10} {state:8} {c.bin_dir}")
        return 0
    t0 = time.monotonic()
    for c in comps:
        build(c, force=args.force)
    log(f"done: {', '.join(names)} in {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
