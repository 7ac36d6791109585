"""`lab cluster up` adds a breakfix-NAME context to the user's kubeconfig; `down` takes it out again."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from breakfix.errors import BreakfixError
from breakfix.kubeconfig_merge import merge_context, remove_context, user_kubeconfig

SOURCE = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "kind-lab",
    "clusters": [
        {"name": "kind-lab", "cluster": {"server": "https://127.0.0.1:40001", "certificate-authority": "ca.crt"}}
    ],
    "users": [{"name": "kind-lab", "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}}],
    "contexts": [{"name": "kind-lab", "context": {"cluster": "kind-lab", "user": "kind-lab"}}],
}
MINE = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "work",
    "clusters": [{"name": "work", "cluster": {"server": "https://work.example:6443"}}],
    "users": [{"name": "work", "user": {"token": "t"}}],
    "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work"}}],
    "preferences": {"colors": True},
}


def write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_context_joins_the_users_entries_which_stay_as_they_were(tmp_path: Path) -> None:
    (tmp_path / "cluster").mkdir()
    source = write(tmp_path / "cluster" / "kubeconfig", SOURCE)
    target = write(tmp_path / "config", MINE)
    assert merge_context(source, "lab", target) == "breakfix-lab"
    data = yaml.safe_load(target.read_text())
    assert data["current-context"] == "work" and data["preferences"] == {"colors": True}
    assert [c["name"] for c in data["contexts"]] == ["work", "breakfix-lab"]
    cluster = next(c for c in data["clusters"] if c["name"] == "breakfix-lab")["cluster"]
    ca = str(tmp_path / "cluster" / "ca.crt")  # relative paths made absolute
    assert cluster == {"server": "https://127.0.0.1:40001", "certificate-authority": ca}
    assert target.stat().st_mode & 0o777 == 0o600
    merge_context(source, "lab", target)  # twice: still one of each
    assert [c["name"] for c in yaml.safe_load(target.read_text())["users"]] == ["work", "breakfix-lab"]
    assert remove_context("lab", target) and not remove_context("lab", target)
    assert yaml.safe_load(target.read_text()) == MINE


def test_a_missing_kubeconfig_is_created_with_the_context_current(tmp_path: Path) -> None:
    target = tmp_path / "new" / "config"
    merge_context(write(tmp_path / "k", SOURCE), "lab", target)
    assert yaml.safe_load(target.read_text())["current-context"] == "breakfix-lab"
    remove_context("lab", target)
    assert yaml.safe_load(target.read_text())["current-context"] == ""


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(BreakfixError, match="no context to copy"):
        merge_context(write(tmp_path / "k", {"kind": "Config"}), "lab", tmp_path / "c")
    with pytest.raises(BreakfixError, match=r"your kubeconfig .*not a kubeconfig"):
        merge_context(write(tmp_path / "k2", SOURCE), "lab", write(tmp_path / "c2", ["a"]))


def test_kubectls_file_is_the_first_of_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a:{tmp_path}/b")
    assert user_kubeconfig() == tmp_path / "a"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_kubeconfig() == tmp_path / ".kube" / "config"
