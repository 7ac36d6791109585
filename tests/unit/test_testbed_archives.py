"""The test bed's image archives: another checkout's are kept while in use, removed once stale."""

from __future__ import annotations

import os
from pathlib import Path

from tests.testbed.kubeadm.images import STALE_ARCHIVE_S, remove_stale_archives

NOW = 1_800_000_000.0


def archive(folder: Path, name: str, age: float) -> Path:
    path = folder / name
    path.write_bytes(b"tar")
    os.utime(path, (NOW - age, NOW - age))
    return path


def test_only_other_digests_unused_for_an_hour_are_removed(tmp_path: Path) -> None:
    mine = archive(tmp_path, "node-aaaa.tar", age=10 * STALE_ARCHIVE_S)  # this build's own: kept, however old
    in_use = archive(tmp_path, "node-bbbb.tar", age=STALE_ARCHIVE_S / 2)  # another checkout's, used lately
    stale = archive(tmp_path, "control-plane-cccc.tar", age=STALE_ARCHIVE_S + 1)
    listing = archive(tmp_path, "images-cccc.json", age=10 * STALE_ARCHIVE_S)  # not an archive
    assert remove_stale_archives(tmp_path, "aaaa", now=NOW) == [stale]
    assert mine.exists() and in_use.exists() and listing.exists() and not stale.exists()
