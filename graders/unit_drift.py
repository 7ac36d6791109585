"""Graders that compare a running service with what its unit files say now (a setting since removed still runs)."""

from __future__ import annotations

import re
import shlex

from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

_SECTION = "--- breakfix ---"
_WORD_VAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_LASTING = "A fix lives in the unit's files: `systemctl daemon-reload; systemctl restart %s` must keep it working."
_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _assignments(words: list[str], into: dict[str, str]) -> None:
    for word in words:
        if "=" in word:
            key, value = word.split("=", 1)
            into[key] = value


def _unquote_value(value: str) -> str:
    """A value as systemd stores it: quotes taken off only around the whole value (inner quotes stay)."""
    value = value.strip()
    if len(value) >= 2 and value[0] in "'\"" and value.endswith(value[0]):
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(r'\\([\\"`$])', r"\1", inner)
        return inner
    return value


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd reads an EnvironmentFile: continued lines joined, comments and blank lines skipped."""
    env: dict[str, str] = {}
    for line in text.replace("\\\n", "").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        env[key.strip()] = _unquote_value(value)
    return env


def _words(value: str) -> list[str]:
    """A lone $VAR's value split as systemd does: on white space, quotes taken off."""
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """ExecStart's words with variables filled: a lone $VAR splits into words, ${VAR} stays one word."""
    out: list[str] = []
    for word in argv:
        lone = _WORD_VAR.match(word)
        if lone:
            out.extend(_words(env.get(lone.group(1), "")))
        else:
            out.append(_BRACED.sub(lambda m: env.get(m.group(1), ""), word))
    return out


def configured_argv(node: Node, unit: str) -> tuple[int, list[str], list[str]] | None:
    """UNIT's MainPID, the command line its unit files, environment files and manager variables give now, and
    what makes that not last: files changed since systemd read them, environment files a reboot clears."""
    out = node.run(
        "systemctl show %s -p MainPID -p NeedDaemonReload -p ExecStart -p Environment -p EnvironmentFiles "
        "--no-pager; echo %s; systemctl show-environment",
        unit, _SECTION, timeout=30,
    ).stdout  # fmt: skip
    if _SECTION not in out:
        return None
    props_text, manager_text = out.split(_SECTION, 1)
    pid, inline = 0, ""
    argv: list[str] = []
    files: list[str] = []
    notes: list[str] = []
    for line in props_text.splitlines():
        key, _, value = line.partition("=")
        if key == "MainPID" and value.strip().isdigit():
            pid = int(value)
        elif key == "NeedDaemonReload" and value.strip() == "yes":
            notes.append(f"{unit}'s files changed since systemd read them (no daemon-reload)")
        elif key == "ExecStart":
            found = re.search(r"argv\[\]=(.*?) ;", value)
            argv = found.group(1).split() if found else []
        elif key == "Environment":
            inline = value.replace("\\$", "$").replace("\\`", "`")
        elif key == "EnvironmentFiles" and value.strip():
            files.append(value.split(" (", 1)[0].strip())
    if not pid or not argv:
        return None
    env: dict[str, str] = {}
    _assignments(manager_text.split("\n"), env)
    try:
        _assignments(shlex.split(inline), env)
    except ValueError:
        return None
    for path in files:
        path = path.lstrip("-")
        if path.startswith(("/run/", "/tmp/")):
            notes.append(f"{unit} reads {path}, which the next boot clears")
        data = node.run("cat %s", path, timeout=30)
        if data.ok:
            env.update(parse_env_file(data.stdout))
    return pid, [w for w in expand(argv, env) if w], notes


def runs_as_configured(node: Node, unit: str) -> CheckResult:
    """UNIT's running process has the command line its unit files give now: no setting since removed still runs."""
    configured = configured_argv(node, unit)
    if configured is None:
        return failed(f"{unit} is not running on {node.name}", f"systemctl status {unit}")
    pid, want, notes = configured
    if notes:
        return failed(f"{unit} on {node.name} does not run on settings that last: {'; '.join(notes)}", _LASTING % unit)
    have = [w for w in node.run("tr '\\000' '\\n' < /proc/%s/cmdline", pid, timeout=30).stdout.split("\n") if w]
    if not have:
        return failed(f"{unit}'s process on {node.name} is gone", f"systemctl status {unit}")
    if have[1:] == want[1:] and have[0].rsplit("/", 1)[-1] == want[0].rsplit("/", 1)[-1]:
        return passed(f"{unit} on {node.name} runs as its unit files say")
    extra = [w for w in have[1:] if w not in want[1:]]
    gone = [w for w in want[1:] if w not in have[1:]]
    said = "; ".join(
        part
        for part in (
            f"it runs with {' '.join(extra)}, which its files no longer give" if extra else "",
            f"its files give {' '.join(gone)}, which it was not started with" if gone else "",
        )
        if part
    )
    return failed(
        f"{unit} on {node.name} runs with settings its unit files no longer hold ({said or 'another order'})",
        _LASTING % unit,
    )
