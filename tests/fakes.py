"""Fakes for unit tests: they do what a node or an API server would, and refuse anything unexpected."""

from __future__ import annotations

import copy
import json
import re
import shlex
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from breakfix.errors import ApiRefused, ClusterError, StepError
from breakfix.transport.base import CommandResult, FileStat


class Unexpected(AssertionError):
    """A fake was asked for something the test did not allow."""


FAKE_COMMAND = """\
#!{python}
import json, os, sys
script = json.load(open({script!r}))
calls = json.load(open({calls!r})) if os.path.exists({calls!r}) else []
if len(calls) >= len(script) or script[len(calls)]["argv"] != sys.argv[1:]:
    sys.stderr.write("fake {name}: unexpected call %r\\n" % (sys.argv[1:],))
    sys.exit(97)
step = script[len(calls)]
calls.append({{"argv": sys.argv[1:], "cwd": os.environ.get("VAGRANT_CWD"),
              "dotfile": os.environ.get("VAGRANT_DOTFILE_PATH")}})
json.dump(calls, open({calls!r}, "w"))
sys.stdout.write(step.get("stdout", ""))
sys.exit(step.get("rc", 0))
"""


class FakeCommand:
    """A program NAME in FOLDER/bin (put first on PATH) that answers a script of expected calls, in order, and
    refuses anything else with exit 97."""

    def __init__(self, name: str, folder: Path) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir(exist_ok=True)
        self.script = folder / f"{name}-script.json"
        self.calls_file = folder / f"{name}-calls.json"
        self.script.write_text("[]")
        exe = self.bin / name
        exe.write_text(
            FAKE_COMMAND.format(python=sys.executable, name=name, script=str(self.script), calls=str(self.calls_file))
        )
        exe.chmod(0o755)

    def expect(self, *steps: tuple[list[str], str, int]) -> None:
        """Allow these calls, in this order: (argv, stdout, exit code)."""
        self.script.write_text(json.dumps([{"argv": a, "stdout": out, "rc": rc} for a, out, rc in steps]))

    @property
    def calls(self) -> list[dict[str, str]]:
        """The calls made so far: argv, and Vagrant's VAGRANT_CWD and VAGRANT_DOTFILE_PATH as "cwd" and "dotfile"."""
        return json.loads(self.calls_file.read_text()) if self.calls_file.exists() else []


class FakeTransport:
    """An in-memory node: a dict file system plus scripted commands."""

    def __init__(self, files: dict[str, bytes] | None = None, name: str = "fake") -> None:
        self.description = f"fake://{name}"
        self.files: dict[str, bytes] = dict(files or {})
        self.stats: dict[str, FileStat] = {p: FileStat(0o600, 0, 0) for p in self.files}
        self.scripts: list[tuple[re.Pattern[str], Callable[[str], CommandResult]]] = []
        self.log: list[str] = []
        self.closed = False

    def expect(self, pattern: str, rc: int = 0, stdout: str = "", stderr: str = "") -> None:
        """Allow commands matching PATTERN (a regex), answering with a fixed result."""
        self.scripts.append((re.compile(pattern), lambda _line: CommandResult(rc, stdout, stderr)))

    def run(self, command: str, timeout: float | None = None, stdin: bytes | None = None) -> CommandResult:
        self.log.append(command)
        argv = shlex.split(command)
        if argv[:3] == ["rm", "-f", "--"]:
            for p in argv[3:]:
                self.files.pop(p, None)
                self.stats.pop(p, None)
            return CommandResult(0, "", "")
        if argv[:2] == ["test", "-L"]:
            return CommandResult(1, "", "")  # the fake file system has no symbolic links
        if argv[:2] == ["test", "-e"]:
            return CommandResult(0 if argv[2] in self.files else 1, "", "")
        for pattern, answer in self.scripts:
            if pattern.fullmatch(command):
                return answer(command)
        raise Unexpected(f"{self.description}: unexpected command {command!r}")

    def read_bytes(self, path: str) -> bytes | None:
        return self.files.get(path)

    def write_bytes(self, path: str, data: bytes, stat: FileStat | None) -> None:
        self.files[path] = data
        self.stats[path] = stat or self.stats.get(path) or FileStat(0o644, 0, 0)

    def stat(self, path: str) -> FileStat | None:
        return self.stats.get(path) if path in self.files else None

    def close(self) -> None:
        self.closed = True


Key = tuple[str, str, str | None, str]


class FakeKube:
    """An in-memory API server for the kinds a test allows; other kinds are refused."""

    def __init__(self, kinds: set[str] | None = None) -> None:
        self.kinds = set(kinds or {"ConfigMap"})
        self.objects: dict[Key, dict[str, Any]] = {}
        self.down = False
        self.calls: list[str] = []
        self.proxied: dict[str, tuple[int, str]] = {}  # "ns/svc:port/path" -> (status, body)
        self.admission: Callable[[dict[str, Any]], tuple[int, str]] | None = None  # answers dry-run creates

    def _check(self, kind: str, what: str) -> None:
        self.calls.append(f"{what} {kind}")
        if self.down:
            raise ClusterError("cannot reach the API server at https://fake:6443 (fake outage)")
        if kind not in self.kinds:
            raise Unexpected(f"FakeKube: {what} {kind} was not expected (allowed: {sorted(self.kinds)})")

    def version(self) -> dict[str, Any]:
        if self.down:
            raise ClusterError("cannot reach the API server at https://fake:6443 (fake outage)")
        return {"gitVersion": "v1.34.0-fake"}

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self._check(kind, "get")
        obj = self.objects.get((api_version, kind, namespace, name))
        return copy.deepcopy(obj) if obj else None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        self._check(kind, "list")
        wanted = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector else {}
        out = []
        for (av, k, ns, _n), obj in self.objects.items():
            labels = obj["metadata"].get("labels") or {}
            if (
                av == api_version
                and k == kind
                and (namespace is None or ns == namespace)
                and all(labels.get(a) == b for a, b in wanted.items())
            ):
                out.append(copy.deepcopy(obj))
        return out

    #: kinds whose objects live outside namespaces (discovery's answer)
    CLUSTER_SCOPED = frozenset(
        {"Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
         "CertificateSigningRequest", "CustomResourceDefinition", "PriorityClass", "RuntimeClass", "IngressClass",
         "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
    )  # fmt: skip

    def namespaced(self, api_version: str, kind: str) -> bool:
        return kind not in self.CLUSTER_SCOPED

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._check(obj["kind"], "create")
        meta = obj["metadata"]
        key = (obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        if key in self.objects:
            raise StepError(f"the API server refused create (HTTP 409): {meta['name']} already exists")
        stored = copy.deepcopy(obj)
        stored["metadata"]["uid"] = uuid.uuid4().hex
        if obj["kind"] == "Service":
            stored.setdefault("spec", {}).setdefault("clusterIP", f"10.96.0.{len(self.objects) + 10}")
        stored["metadata"]["resourceVersion"] = "1"
        self.objects[key] = stored
        return copy.deepcopy(stored)

    def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any]
    ) -> dict[str, Any]:
        self._check(kind, "patch")
        key = (api_version, kind, namespace, name)
        if key not in self.objects:
            raise StepError(f"the API server refused patch (HTTP 404): {kind} {name} not found")
        rv = str(int(self.objects[key]["metadata"].get("resourceVersion", "1")) + 1)
        self.objects[key] = merge_patch(self.objects[key], patch)
        self.objects[key]["metadata"]["resourceVersion"] = rv
        return copy.deepcopy(self.objects[key])

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._check(obj["kind"], "replace")
        meta = obj["metadata"]
        key = (obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        if key not in self.objects:
            raise StepError(f"the API server refused replace (HTTP 404): {meta['name']} not found")
        if obj["kind"] == "PersistentVolumeClaim" and obj.get("spec") != self.objects[key].get("spec"):
            raise ApiRefused(
                f'PersistentVolumeClaim "{meta["name"]}" is invalid: spec: Forbidden: spec is immutable after creation',
                422,
            )
        live_ip = (self.objects[key].get("spec") or {}).get("clusterIP")
        if live_ip and (obj.get("spec") or {}).get("clusterIP") not in (None, live_ip):
            raise ApiRefused("the API server refused replace (HTTP 422): spec.clusterIP may not change once set", 422)
        live_rv = self.objects[key]["metadata"].get("resourceVersion", "1")
        if meta.get("resourceVersion") not in (None, live_rv):  # optimistic concurrency, as the API server does
            raise ApiRefused(
                f'Operation cannot be fulfilled on {obj["kind"]} "{meta["name"]}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                409,
            )
        stored = copy.deepcopy(obj)
        stored["metadata"]["uid"] = self.objects[key]["metadata"]["uid"]
        stored["metadata"]["resourceVersion"] = str(int(live_rv) + 1)
        self.objects[key] = stored
        return copy.deepcopy(stored)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        self._check(kind, "delete")
        self.objects.pop((api_version, kind, namespace, name), None)

    def service_get(self, namespace: str, service: str, port: str, path: str = "/") -> tuple[int, str]:
        key = f"{namespace}/{service}:{port}{path}"
        self.calls.append(f"proxy {key}")
        if self.down:
            raise ClusterError("cannot reach the API server at https://fake:6443 (fake outage)")
        if key not in self.proxied:
            raise Unexpected(f"FakeKube: proxy to {key} was not expected (allowed: {sorted(self.proxied)})")
        return self.proxied[key]

    def dry_run_create(self, obj: dict[str, Any]) -> tuple[int, str]:
        self._check(obj["kind"], "dry-run create")
        if self.admission is None:
            raise Unexpected(f"FakeKube: a dry-run create of {obj['kind']} was not expected (no admission set)")
        return self.admission(copy.deepcopy(obj))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def unit_settings(
    t: FakeTransport,
    unit: str = "kubelet",
    dropins: str = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    transient: str = "no",
    environment: str = "LANG=C.UTF-8\nPATH=/usr/local/sbin:/usr/bin",
) -> None:
    """Answer graders.systemd.runtime_overrides for UNIT: its files, its ExecStart and the manager's variables."""
    out = (
        f"Transient={transient}\nFragmentPath=/lib/systemd/system/{unit}.service\nDropInPaths={dropins}\n"
        "--- breakfix ---\n"
        f"[Service]\nExecStart=/usr/bin/{unit} $KUBELET_KUBEADM_ARGS ${{KUBELET_EXTRA_ARGS}}\n"
        "--- breakfix ---\n"
        f"{environment}\n"
    )
    t.expect(rf"systemctl show {unit} -p Transient .*", stdout=out)
