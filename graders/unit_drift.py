"""Graders that compare a running service with what its unit files say now (a setting since removed still runs)."""

from __future__ import annotations

import re
import shlex

from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

_SECTION = "--- breakfix ---"
_WORD_VAR = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _assignments(words: list[str], into: dict[str, str]) -> None:
    for word in words:
        if "=" in word:
            key, value = word.split("=", 1)
            into[key] = value


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd reads an EnvironmentFile: quotes removed, comments and blank lines skipped."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        try:
            env[key.strip()] = " ".join(shlex.split(value))
        except ValueError:  # an unbalanced quote: systemd would not read it either
            continue
    return env


def expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """ExecStart's words with variables filled: a lone $VAR splits into words, ${VAR} stays one word."""
    out: list[str] = []
    for word in argv:
        lone = _WORD_VAR.match(word)
        if lone:
            out.extend(env.get(lone.group(1), "").split())
        else:
            out.append(_BRACED.sub(lambda m: env.get(m.group(1), ""), word))
    return out


def configured_argv(node: Node, unit: str) -> tuple[int, list[str]] | None:
    """UNIT's MainPID and the command line its unit files, environment files and manager variables give now."""
    out = node.run(
        "systemctl show %s -p MainPID -p ExecStart -p Environment -p EnvironmentFiles --no-pager; echo %s; "
        "systemctl show-environment",
        unit, _SECTION, timeout=30,
    ).stdout  # fmt: skip
    if _SECTION not in out:
        return None
    props_text, manager_text = out.split(_SECTION, 1)
    pid, inline = 0, ""
    argv: list[str] = []
    files: list[str] = []
    for line in props_text.splitlines():
        key, _, value = line.partition("=")
        if key == "MainPID" and value.strip().isdigit():
            pid = int(value)
        elif key == "ExecStart":
            found = re.search(r"argv\[\]=(.*?) ;", value)
            argv = found.group(1).split() if found else []
        elif key == "Environment":
            inline = value
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
        data = node.run("cat %s", path.lstrip("-"), timeout=30)
        if data.ok:
            env.update(parse_env_file(data.stdout))
    return pid, expand(argv, env)


def runs_as_configured(node: Node, unit: str) -> CheckResult:
    """UNIT's running process has the command line its unit files give now: no setting since removed still runs."""
    configured = configured_argv(node, unit)
    if configured is None:
        return failed(f"{unit} is not running on {node.name}", f"systemctl status {unit}")
    pid, want = configured
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
        f"A fix lives in the unit's files: `systemctl daemon-reload; systemctl restart {unit}` must keep it working.",
    )
