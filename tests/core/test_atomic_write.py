"""Atomic writes: whole file or the previous one, never a torn file, even when the writer dies."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from centerpose_core import atomic_write
from centerpose_core.atomic_write import atomic_path, atomic_write_bytes


def test_writes_whole_file_with_plain_permissions_and_no_temp_left(tmp_path):
    target = tmp_path / "sub" / "model.bin"
    assert atomic_write_bytes(target, b"weights") == target
    assert target.read_bytes() == b"weights"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert [p.name for p in target.parent.iterdir()] == ["model.bin"]


def test_an_error_while_writing_keeps_the_previous_file(tmp_path):
    target = tmp_path / "engine.plan"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["engine.plan"]


def test_a_writer_killed_mid_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "checkpoint.pth"
    target.write_bytes(b"epoch 1")
    code = (
        "import os, sys\n"
        "from centerpose_core.atomic_write import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp, open(tmp, 'wb') as f:\n"
        "    f.write(b'epoch 2, half of it'); f.flush()\n"
        "    os._exit(9)  # killed: no cleanup, no rename\n"
    )
    assert subprocess.run([sys.executable, "-c", code, str(target)]).returncode == 9
    assert target.read_bytes() == b"epoch 1"


def test_file_and_folder_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):  # a spy: the real fsync still runs
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src, dst):
        synced.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(atomic_write.os, "fsync", fsync)
    monkeypatch.setattr(atomic_write.os, "replace", replace)
    atomic_write_bytes(tmp_path / "table.cache", b"calibration")
    assert len(synced) == 3 and synced[1] == "rename"
    assert synced[0].startswith(str(tmp_path / ".table.cache.")) and synced[2] == str(tmp_path)
