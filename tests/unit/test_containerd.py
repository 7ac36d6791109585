"""breakers.containerd: the sandbox image line is rewritten, the file journaled and put back by reset."""

from __future__ import annotations

import pytest

from breakers import containerd
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
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
