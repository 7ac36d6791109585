"""breakers.containerd: the sandbox image line is rewritten, the file journaled and put back by reset."""

from __future__ import annotations

import pytest

from breakers import containerd
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node
from breakfix.undo import replay
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

CONFIG = b"""version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "breakfix.local/k8s/pause:3.10.1"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
"""


def test_set_sandbox_image_rewrites_only_that_line_and_reset_puts_it_back() -> None:
    t = FakeTransport({containerd.CONFIG: CONFIG})
    ctx = make_ctx(t)
    containerd.set_sandbox_image(ctx.node("cp1"), ChangeLog(ctx, "break"), "registry.k8s.io/pause:3.10")
    assert t.files[containerd.CONFIG] == CONFIG.replace(
        b'"breakfix.local/k8s/pause:3.10.1"', b'"registry.k8s.io/pause:3.10"'
    )
    replay(ctx)
    assert t.files[containerd.CONFIG] == CONFIG


@pytest.mark.parametrize(
    ("files", "says"), [({}, "does not exist"), ({containerd.CONFIG: b"version = 2\n"}, "no sandbox")]
)
def test_set_sandbox_image_refuses_a_config_without_one(files: dict[str, bytes], says: str) -> None:
    ctx = make_ctx(FakeTransport(files))
    with pytest.raises(StepError, match=says):
        containerd.set_sandbox_image(ctx.node("cp1"), ChangeLog(ctx, "break"), "x")


def test_tag_image_journals_a_command_whose_undo_removes_the_name() -> None:
    t = FakeTransport({containerd.CONFIG: CONFIG})
    t.expect(r"ctr -n k8s\.io images ls -q", stdout="breakfix.local/k8s/pause:3.10.1\nsha256:abc\n")
    t.expect(r"ctr -n k8s\.io images (tag|rm) .*")
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    containerd.tag_image(node, [node], ChangeLog(ctx, "alternative"), {}, "x/pause:3.6")  # the sandbox image by default
    assert t.log[-1] == "ctr -n k8s.io images tag breakfix.local/k8s/pause:3.10.1 x/pause:3.6"
    replay(ctx)
    assert t.log[-1] == "ctr -n k8s.io images rm x/pause:3.6"


@pytest.mark.parametrize(("image", "says"), [("missing:1", "has no image"), ("a:1", "already has")])
def test_tag_image_refuses_a_missing_source_or_a_taken_name(image: str, says: str) -> None:
    t = FakeTransport()
    t.expect(r"ctr -n k8s\.io images ls -q", stdout="a:1\n")
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    with pytest.raises(StepError, match=says):
        containerd.tag_image(node, [node], ChangeLog(ctx, "cheat"), {}, "a:1", image=image)


def test_tag_image_of_a_role_tags_the_clusters_image_for_it() -> None:
    t = FakeTransport()
    t.expect(r"ctr -n k8s\.io images ls -q", stdout="docker.io/library/nginx:1.27.3\n")
    t.expect(r"ctr -n k8s\.io images tag .*")
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    containerd.tag_image(node, [node], ChangeLog(ctx, "cheat"), {"web": "nginx:1.27.3"}, "ops/app:2", role="web")
    assert t.log[-1] == "ctr -n k8s.io images tag docker.io/library/nginx:1.27.3 ops/app:2"
    with pytest.raises(StepError, match="no image for role"):
        containerd.tag_image(node, [node], ChangeLog(ctx, "cheat"), {}, "ops/app:2", role="web")


def test_sandbox_image_from_copies_a_healthy_nodes_setting() -> None:
    broken = CONFIG.replace(b"breakfix.local/k8s/pause:3.10.1", b"registry.k8s.io/pause:3.6")
    w1 = FakeTransport({containerd.CONFIG: broken})
    cp1 = FakeTransport({containerd.CONFIG: CONFIG})
    ctx = make_ctx(w1)
    nodes = [Node("w1", "worker", w1), Node("cp1", "control-plane", cp1)]
    containerd.sandbox_image_from(nodes[0], nodes, ChangeLog(ctx, "solve"), "control-plane")
    assert w1.files[containerd.CONFIG] == CONFIG
    with pytest.raises(StepError, match="no node 'cp9'"):
        containerd.sandbox_image_from(nodes[0], nodes, ChangeLog(ctx, "solve"), "cp9")


def test_forget_image_on_reset_removes_the_name_however_it_came_and_refuses_a_node_that_has_it() -> None:
    t = FakeTransport()
    t.expect(r"ctr -n k8s\.io images ls -q", stdout="breakfix.local/k8s/pause:3.10.1\n")
    t.expect(r"^true$")
    t.expect(r"^ctr -n k8s\.io images rm ops/app:2 >/dev/null 2>&1 \|\| true$")
    ctx = make_ctx(t)
    containerd.forget_image_on_reset(ctx.node("cp1"), ChangeLog(ctx, "break"), "ops/app:2")
    replay(ctx)
    assert t.log[-1].startswith("ctr -n k8s.io images rm ops/app:2")
    t2 = FakeTransport()
    t2.expect(r"ctr -n k8s\.io images ls -q", stdout="ops/app:2\n")
    ctx2 = make_ctx(t2)
    with pytest.raises(StepError, match="already holds ops/app:2"):
        containerd.forget_image_on_reset(ctx2.node("cp1"), ChangeLog(ctx2, "break"), "ops/app:2")
