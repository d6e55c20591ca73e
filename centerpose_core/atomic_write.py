"""Files that appear whole or not at all: written beside the target, fsynced, renamed over it.

A process killed mid-write (or a machine losing power) leaves the previous file or the new one,
never a truncated one that a later run would trust: checkpoints, ONNX exports and the export
cache, TensorRT engines, INT8 calibration tables all go through here. Concurrent writers of one
path each write their own temp file; the last rename wins and a reader never sees a partial file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A fresh temp path beside `path` for the caller to write.

    On success the temp file is fsynced, given the permissions a plain `open` would have, renamed
    over `path`, and the folder is fsynced so the rename survives a power loss; on an exception
    the temp file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        tmp.chmod(0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes | bytearray | memoryview) -> Path:
    """Write `data` to `path` atomically (see `atomic_path`); returns the path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
    return Path(path)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # a folder cannot be opened on some platforms (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
