"""Checks on what a workload's pods are given: settings from ConfigMaps and Secrets, and probes that bite."""

from __future__ import annotations

import ipaddress
import re
import shlex
from typing import Any, Literal

from breakfix.context import SessionState
from breakfix.durations import Seconds
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed

Source = Literal["configmap", "secret"]

_REF = {
    "configmap": ("configMapKeyRef", "configMapRef", "ConfigMap"),
    "secret": ("secretKeyRef", "secretRef", "Secret"),
}


def _workload(kube: Kube, kind: str, name: str, namespace: str) -> dict[str, Any] | CheckResult:
    """The workload object, or the result to return when it cannot be read or is gone."""
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
    return failed(f"{kind} {namespace}/{name} does not exist") if obj is None else obj


def _container(template: dict[str, Any] | None, container: str) -> dict[str, Any] | None:
    spec = (template or {}).get("spec") or {}
    return next((c for c in spec.get("containers") or [] if c.get("name") == container), None)


def _where_from(c: dict[str, Any], variable: str) -> tuple[str, dict[str, Any]] | str:
    """Where the container's VARIABLE comes from: (reference kind, reference), or why it comes from nowhere.

    As the kubelet does: `env` wins over `envFrom`, a later entry over an earlier one."""
    entries = [e for e in c.get("env") or [] if e.get("name") == variable]
    if entries:
        last = entries[-1]
        if "value" in last or not last.get("valueFrom"):
            return f"{variable} is written into the pod template itself"
        value_from = last["valueFrom"]
        for ref in ("configMapKeyRef", "secretKeyRef"):
            if value_from.get(ref):
                return ref, dict(value_from[ref])
        return f"{variable} comes from {', '.join(sorted(value_from))}, not from a ConfigMap or Secret"
    for source in reversed(c.get("envFrom") or []):
        prefix = source.get("prefix") or ""
        if not variable.startswith(prefix):
            continue
        for ref in ("configMapRef", "secretRef"):
            if source.get(ref):
                return ref, {**source[ref], "key": variable[len(prefix) :], "whole": True}
    return f"the container gets no {variable} at all"


def setting_from(
    kube: Kube,
    name: str,
    container: str,
    variable: str,
    source: Source = "configmap",
    namespace: str = "default",
    kind: str = "Deployment",
) -> CheckResult:
    """The container's VARIABLE comes from a ConfigMap (or Secret) holding it: required, not in the template."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    c = _container(obj["spec"].get("template"), container)
    if c is None:
        return failed(f"{kind} {name} has no container {container}")
    key_ref, whole_ref, object_kind = _REF[source]
    found = _where_from(c, variable)
    hint = f"The team keeps this setting in a {object_kind}: the app must get it from there, every time it starts."
    if isinstance(found, str):
        return failed(f"{kind} {name}: {found}, not from a {object_kind}", hint)
    ref_kind, ref = found
    if ref_kind not in (key_ref, whole_ref):
        return failed(f"{kind} {name}: {variable} comes from a {ref_kind}, not from a {object_kind}", hint)
    if ref.get("optional"):
        return failed(
            f"{kind} {name}: {variable}'s {object_kind} is marked optional: the pods start without the setting "
            "when it is missing",
            hint,
        )
    ref_name, key = ref.get("name") or "", ref.get("key") or ""
    try:
        held = kube.get("v1", object_kind, ref_name, namespace) if ref_name else None
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {object_kind} {namespace}/{ref_name}: {exc}")
    if held is None:
        return failed(
            f"{kind} {name}: {variable} comes from {object_kind} {ref_name or '(no name)'}, which does not exist"
        )
    keys = set((held.get("data") or {}).keys()) | set((held.get("binaryData") or {}).keys())
    if key not in keys:
        return failed(f"{kind} {name}: {object_kind} {ref_name} holds no key {key!r} for {variable}")
    return passed(f"{kind} {name} takes {variable} from {object_kind} {ref_name} (key {key})")


# Probes ----------------------------------------------------------------------------------------------

PROBES = ("livenessProbe", "readinessProbe")
#: Programs that can tell whether the app answers on a port (the probe's exit code is theirs).
CLIENTS = frozenset({"wget", "curl", "nc", "grpc_health_probe"})
#: Programs that only run another one (their own arguments skipped): how many operands they take first.
_WRAPPERS = {"exec": 0, "timeout": 1, "nice": 0, "env": 0, "command": 0}
#: Their options that take a value as the next word (`timeout -s KILL 5 wget ...`).
_VALUED = {
    "timeout": {"-s", "--signal", "-k", "--kill-after"},
    "nice": {"-n", "--adjustment"},
    "env": {"-u", "--unset"},
}
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
#: Shell that decides the exit code by something else than the check: `a || b`, `a; b`, `! a`, `exit`.
_OVERRIDES = re.compile(r"\|\||;|\n|(^|\s)!(\s|$)|(^|\s)exit(\s|$)|(?<![&>])&(?![&>])")
_URL = re.compile(r"\b(https?)://(\[[^\]]*\]|[^/:\s'\"]*)(?::(\d+))?")
_NUMBER = re.compile(r"^\d{1,5}$")
#: What a client prints (with `2>&1`) when nothing answers: a check that greps it must not succeed on it.
_DEAD_TEXTS = (
    "wget: can't connect to remote host (127.0.0.1): Connection refused",
    "curl: (7) Failed to connect to localhost port 80 after 0 ms: Couldn't connect to server",
    "nc: connect to localhost port 80 (tcp) failed: Connection refused",
    "Connecting to 127.0.0.1:80 (127.0.0.1:80)",
)


def _served(container: dict[str, Any]) -> set[int]:
    """The ports the container was deployed to serve: those it declares, else those its probes tested."""
    declared = {int(p["containerPort"]) for p in container.get("ports") or [] if p.get("containerPort")}
    if declared:
        return declared
    ports = set()
    for probe in (*PROBES, "startupProbe"):
        handler = (container.get(probe) or {}).get("tcpSocket") or (container.get(probe) or {}).get("httpGet") or {}
        number = _number(handler.get("port"), container)
        if number is not None:
            ports.add(number)
    return ports


def _number(port: object, container: dict[str, Any]) -> int | None:
    """A port as a number: a named port is looked up in the container's ports."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port and p.get("containerPort"):
            return int(p["containerPort"])
    return None


def _unwrapped(words: list[str]) -> list[str]:
    """A command without the programs that only run it (`exec`, `timeout 5`, `env A=b`...)."""
    while words and words[0].rsplit("/", 1)[-1] in _WRAPPERS:
        wrapper = words[0].rsplit("/", 1)[-1]
        words = words[1:]
        while words and (words[0].startswith("-") or "=" in words[0]):
            words = words[2:] if words[0] in _VALUED.get(wrapper, ()) else words[1:]
        words = words[_WRAPPERS[wrapper] :]
    return words


def _program(words: list[str]) -> str:
    """The program a command runs (its wrappers skipped), by its base name."""
    words = _unwrapped(words)
    return words[0].rsplit("/", 1)[-1] if words else ""


def _shell_flags(command: list[str]) -> int | None:
    """The index of a shell's `-c` option (`sh -c`, `sh -ec`, `bash -euc`) when COMMAND runs a script, or None."""
    if not command or command[0].rsplit("/", 1)[-1] not in _SHELLS:
        return None
    for i, word in enumerate(command[1:-1], start=1):
        if not word.startswith("-") or word.startswith("--"):
            return None
        if "c" in word[1:]:
            return i
    return None


#: Options of the clients that take the next word as their value (a file, a time, a header...), not as a target.
_CLIENT_VALUED = {
    "nc": {"-w", "-i", "-s", "-p", "-q", "-W", "-I", "-O", "-T", "-e"},
    "wget": {"-O", "-o", "-a", "-P", "-T", "-t", "-U", "-Y", "--header", "--output-document", "--timeout"},
    "curl": {"-o", "-w", "-m", "-H", "-X", "-d", "-u", "-A", "-e", "--max-time", "--connect-timeout", "--header",
             "--write-out", "--output", "--data", "--user", "--request", "--retry", "--resolve", "--connect-to"},
}  # fmt: skip
_BARE_URL = re.compile(r"^(\[[^\]]*\]|[A-Za-z0-9][A-Za-z0-9.-]*)(?::(\d{1,5}))?(/\S*)?$")


def _operands(program: str, args: list[str]) -> list[str]:
    """A client's arguments that are not options, nor their values, nor shell redirections."""
    out, skip = [], False
    valued = _CLIENT_VALUED.get(program, set())
    for word in args:
        if skip:
            skip = False
        elif word in valued:
            skip = True
        elif not word.startswith("-") and not set(word) & set("<>&"):
            out.append(word)
    return out


def _local(host: str) -> bool:
    """Whether a probe's target host is the container itself (its own address may be a variable)."""
    host = host.strip("[]").lower()
    if host in ("", "localhost", "::1", "0.0.0.0") or host.startswith("$"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _grep_accepts_dead(args: list[str], client: list[str]) -> str | None:
    """Why `grep ARGS` may succeed on what CLIENT prints when nothing answers (dead or alive alike), or None."""
    options, patterns, files = set(), [], []
    rest = iter(args)
    for word in rest:
        if word in ("-e", "--regexp"):
            patterns.append(next(rest, ""))
        elif word in ("-f", "--file"):
            files.append(next(rest, ""))
        elif word.startswith("-") and len(word) > 1:
            options |= set(word.lstrip("-")) if not word.startswith("--") else {word}
        elif not patterns:
            patterns.append(word)
        else:
            files.append(word)
    if files or options & {"r", "R", "--recursive"}:
        return "as its grep reads a file, not what the client prints"
    if "v" in options or "--invert-match" in options:
        return "on what the client prints when nothing answers"  # turned upside down: anything but one answer
    dead: list[str] = []
    text = " ".join(client)
    written = _program(client) == "curl" and re.search(r"(?:-w|--write-out)[ =]?\s*(\S+)", text)
    if written:  # curl -w prints its format even when it could not connect (%{http_code} is 000)
        dead.append(re.sub(r"%\{(?:http_code|response_code)\}", "000", re.sub(r"%\{[a-z_]+\}", "0", written.group(1))))
    if "2>&1" in client or "|&" in text:
        dead += _DEAD_TEXTS
    for pattern in patterns:
        if "F" in options:
            if any(pattern.lower() in t.lower() if "i" in options else pattern in t for t in dead):
                return "on what the client prints when nothing answers"
            continue
        try:
            regex = re.compile(pattern, re.IGNORECASE if "i" in options else 0)
        except re.error:
            return None
        if any(regex.search(line) for t in dead for line in t.splitlines() or [""]):
            return "on what the client prints when nothing answers"
    return None


def _exec_problem(command: list[str], served: set[int]) -> str | None:
    """Why an exec probe is not a client asking a served port whose exit code decides, or None."""
    if not command:
        return "it runs no command"
    script = shlex.join(command)
    words = _unwrapped(list(command))  # `timeout 5 sh -c ...` is a shell too
    flags = _shell_flags(words)
    if flags is not None:
        script = words[flags + 1]
        if _OVERRIDES.search(script):
            return f"its command ({script.strip()[:60]}) can succeed even when the check in it fails"
        try:
            stages = [shlex.split(stage) for stage in script.split("|")]
        except ValueError:
            return f"its command ({script.strip()[:60]}) cannot be read"
        # the last command of a pipeline decides: a client there is the check; a grep there reads the first one
        last = _program(stages[-1]) if len(stages) > 1 else ""
        words = stages[-1] if last in CLIENTS else stages[0]
        if last and last not in CLIENTS | {"grep"}:
            return f"its command ({script.strip()[:60]}) succeeds as {last} does, whatever the app answers"
        why = _grep_accepts_dead(_unwrapped(stages[-1])[1:], stages[0]) if last == "grep" else None
        if why:
            return f"its command ({script.strip()[:60]}) succeeds {why}"
    words = _unwrapped(words)
    program = _program(words)
    if program not in CLIENTS:
        return f"its command ({script.strip()[:60]}) runs {program or 'nothing'}, which does not ask the app anything"
    asked, hosts = set(), []
    for scheme, host, port in _URL.findall(" ".join(words)):
        asked.add(int(port) if port else 443 if scheme == "https" else 80)
        hosts.append(host)
    operands = _operands(program, words[1:])
    if program in ("wget", "curl"):  # `wget localhost/status`: a URL without its scheme is http
        for word in operands:
            bare = None if "://" in word else _BARE_URL.match(word)
            if bare and (bare[2] or bare[3]):  # host:port or host/path; a lone word is something else
                asked.add(int(bare[2]) if bare[2] else 80)
                hosts.append(bare[1])
    if program == "nc":
        asked |= {int(w) for w in operands if _NUMBER.match(w)}
        hosts += [w for w in operands if not _NUMBER.match(w)][:1]
    elsewhere = [h for h in hosts if not _local(h)]
    if elsewhere:
        return f"its command asks {elsewhere[0]}, not the container itself"
    if not asked:
        return f"its command ({script.strip()[:60]}) names no port of the app"
    if served and not asked & served:
        return f"its command asks port {', '.join(map(str, sorted(asked)))}, not a port the app serves"
    return None


def _handler_problem(probe: dict[str, Any], container: dict[str, Any], served: set[int]) -> str | None:
    """Why a probe's check cannot tell a working app from a dead one, or None."""
    handler = probe.get("tcpSocket") or probe.get("httpGet") or probe.get("grpc")
    if handler is not None:
        if handler.get("host"):
            return f"it checks {handler['host']}, not the container"
        number = _number(handler.get("port"), container)
        if number is None:
            return f"it checks a port the container does not declare ({handler.get('port')})"
        if served and number not in served:
            return f"it checks port {number}, not a port the app serves"
        return None
    if probe.get("exec") is not None:
        return _exec_problem(list((probe["exec"] or {}).get("command") or []), served)
    return "it has no check"


def _period(probe: dict[str, Any]) -> float:
    return float(probe.get("periodSeconds") or 10)


def _probe_problem(
    kind: str, probe: dict[str, Any], container: dict[str, Any], served: set[int], react: float, start: float
) -> str | None:
    """Why one probe of a container does not do its job in time, or None."""
    problem = _handler_problem(probe, container, served)
    if problem:
        return problem
    delay = float(probe.get("initialDelaySeconds") or 0)
    timeout = float(probe.get("timeoutSeconds") or 1)
    if timeout > react:
        return f"it waits {timeout:.0f}s for an answer (timeoutSeconds), more than {react:.0f}s"
    if kind == "startupProbe":
        budget = delay + _period(probe) * float(probe.get("failureThreshold") or 3)
        if budget > start:
            return (
                f"it lets the app take {budget:.0f}s to start (initialDelaySeconds + periodSeconds x "
                f"failureThreshold), more than {start:.0f}s: an app stuck at start is never restarted"
            )
        return None
    if delay > start:
        return f"it starts only {delay:.0f}s after the container (initialDelaySeconds), more than {start:.0f}s"
    patience = _period(probe) * float(probe.get("failureThreshold") or 3)
    if patience > react:
        return (
            f"it notices a dead app only after {patience:.0f}s (periodSeconds x failureThreshold), "
            f"more than {react:.0f}s"
        )
    return None


def probes_effective(
    kube: Kube,
    state: SessionState,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    react_within: Seconds = 60.0,
    start_within: Seconds = 300.0,
) -> CheckResult:
    """The app keeps the probes it was deployed with, each asking a port it serves, in time (stricter than probes_kept).

    A liveness or readiness probe must notice a dead app within REACT_WITHIN seconds once it runs
    (periodSeconds x failureThreshold) and begin within START_WITHIN (initialDelaySeconds); a startupProbe,
    which may be added, must give up on an app stuck at start within START_WITHIN. An exec probe counts
    only when its command is a client (wget, curl, nc) asking a served port and its exit code is that
    client's: `timeout 80 true`, `wget ... || true` or `cat /tmp/ok` do not."""
    obj = _workload(kube, kind, name, namespace)
    if isinstance(obj, CheckResult):
        return obj
    seen = state.get(f"remember:{kind}:{namespace}/{name}") or {}
    before = {c["name"]: c for c in ((seen.get("pod_template") or {}).get("spec") or {}).get("containers") or []}
    problems: list[str] = []
    for c in obj["spec"]["template"]["spec"].get("containers") or []:
        was = before.get(c["name"])
        wanted = [p for p in PROBES if (was or {}).get(p)] if was is not None else list(PROBES)
        served = _served(was if was is not None else c)
        for probe in (*wanted, "startupProbe"):
            if not c.get(probe):
                if probe != "startupProbe":
                    problems.append(f"{c['name']} has no {probe}")
                continue
            why = _probe_problem(probe, c[probe], c, served, react_within, start_within)
            if why:
                problems.append(f"{c['name']}'s {probe} does not really watch the app: {why}")
    if problems:
        return failed(
            f"{kind} {name}: {'; '.join(problems)}",
            "A probe that kills a healthy app must be tuned, not removed or disarmed: the kubelet must still "
            "notice a dead app.",
        )
    return passed(f"{kind} {name} keeps probes that test the app and react in time")
