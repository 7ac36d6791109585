"""`lab cluster use|forget|list` through the typed API: the default follows, unfinished changes block forgetting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from breakfix.api import Breakfix
from breakfix.cli.main import main
from breakfix.state import State


def _two_clusters(tmp_path: Path) -> State:
    store = State()
    for name in ("a", "b"):
        inv = tmp_path / f"{name}.yaml"
        hosts = {"control_plane": {"hosts": {f"{name}-cp": {"breakfix_node_ip": "10.0.0.10"}}}}
        inv.write_text(yaml.safe_dump({"all": {"vars": {"breakfix_cluster": name}, "children": hosts}}))
        store.add_cluster(name, str(inv), "inventory", f"m-{name}")
    return store


def test_use_makes_a_registered_cluster_the_default(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = _two_clusters(tmp_path)
    assert main(["cluster", "use", "b"]) == 0
    assert "default cluster: b" in capsys.readouterr().out
    assert Breakfix(store=store).default_cluster() == "b"
    assert main(["cluster", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["default"]) for r in rows] == [("a", False), ("b", True)]
    assert main(["cluster", "use", "nope"]) == 1  # not registered: refused, the default stays
    assert Breakfix(store=store).default_cluster() == "b"


def test_forget_drops_the_default_and_refuses_unfinished_changes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = _two_clusters(tmp_path)
    Breakfix(store=store).use_cluster("a")
    store.journal_add("b", None, "break", "file", {"path": "/x"})
    assert main(["cluster", "forget", "b"]) == 1
    assert "unfinished changes" in capsys.readouterr().err
    assert main(["cluster", "forget", "a"]) == 0
    bf = Breakfix(store=store)
    assert [c["name"] for c in bf.clusters()] == ["b"] and bf.default_cluster() is None
