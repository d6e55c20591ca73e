"""TensorRT engine cache: one serialized engine per (ONNX file, TensorRT version, GPU, precision, size).

An engine is only valid for the TensorRT release and GPU that built it. Each engine file starts
with a small JSON header holding its key, so an engine copied from another machine or left over
from an older TensorRT is refused with a clear error instead of failing inside TensorRT (or,
worse, being silently reused). Pure Python: nothing here imports TensorRT.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from centerpose_core.atomic_write import atomic_path
from centerpose_core.export.options import PRECISIONS
from centerpose_core.model_formats import ENGINE_SUFFIXES

ENGINE_MAGIC = b"CENTERPOSE-TRT\n"
ENGINE_FORMAT = 1


class StaleEngineError(ValueError):
    """The engine was built for another TensorRT version, GPU, precision, size or ONNX file."""


@dataclass(frozen=True)
class EngineKey:
    """Everything that makes a serialized engine (in)valid."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    input_size: int
    max_batch: int = 1
    calibration_sha256: str = ""  # INT8 only: the calibration images/cache used

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision != "int8" and self.calibration_sha256:
            raise ValueError("a calibration hash only belongs to an int8 engine key")

    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def file_name(self) -> str:
        gpu = re.sub(r"[^a-z0-9]+", "-", self.gpu_name.lower()).strip("-")
        return (
            f"centerpose-{self.precision}-{self.input_size}-b{self.max_batch}-trt{self.tensorrt_version}-"
            f"{gpu}-{self.digest()}{ENGINE_SUFFIXES[0]}"
        )

    def mismatches(self, other: EngineKey) -> list[str]:
        """Human-readable differences `field: other's value != self's value`."""
        mine, theirs = asdict(self), asdict(other)
        return [f"{name}: {theirs[name]!r} != {mine[name]!r}" for name in mine if mine[name] != theirs[name]]


def write_engine(path: str | Path, key: EngineKey, engine: bytes) -> Path:
    """Header + engine bytes, written atomically (`atomic_write.atomic_path`)."""
    header = json.dumps({"format": ENGINE_FORMAT, "key": asdict(key)}).encode()
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(ENGINE_MAGIC)
        handle.write(len(header).to_bytes(4, "little"))
        handle.write(header)
        handle.write(engine)
    return Path(path)


def read_engine(path: str | Path) -> tuple[EngineKey | None, bytes]:
    """(key, engine bytes); key is None for a raw engine (e.g. from trtexec) without our header."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TensorRT engine not found: {path}")
    data = path.read_bytes()
    if not data.startswith(ENGINE_MAGIC):
        return None, data
    start = len(ENGINE_MAGIC)
    try:
        length = int.from_bytes(data[start : start + 4], "little")
        header = json.loads(data[start + 4 : start + 4 + length])
        key = EngineKey(**header["key"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: corrupt engine header ({exc})") from exc
    if header.get("format") != ENGINE_FORMAT:
        raise StaleEngineError(f"{path}: engine file format {header.get('format')}, expected {ENGINE_FORMAT}")
    return key, data[start + 4 + length :]


def check_engine_key(
    path: str | Path, found: EngineKey | None, expected: EngineKey, *, strict_onnx: bool = True
) -> None:
    """Refuse an engine whose key differs from what this machine/request needs."""
    if found is None:
        return
    ignore = set() if strict_onnx else {"onnx_sha256", "calibration_sha256"}
    problems = [m for m in expected.mismatches(found) if m.split(":")[0] not in ignore]
    if problems:
        raise StaleEngineError(
            f"{path}: stale TensorRT engine ({'; '.join(problems)}); delete it or rebuild from the ONNX file"
        )


class EngineCache:
    """A directory of engines named by key; `lookup` never returns an engine of another key."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: EngineKey) -> Path:
        return self.directory / key.file_name()

    def lookup(self, key: EngineKey) -> bytes | None:
        path = self.path_for(key)
        if not path.is_file():
            return None
        found, engine = read_engine(path)
        check_engine_key(path, found, key)  # a digest collision or a hand-copied file
        return engine

    def store(self, key: EngineKey, engine: bytes) -> Path:
        return write_engine(self.path_for(key), key, engine)

    def get_or_build(self, key: EngineKey, build) -> tuple[bytes, Path, bool]:
        """(engine, path, built): the cached engine, or `build()` stored under the key."""
        cached = self.lookup(key)
        if cached is not None:
            return cached, self.path_for(key), False
        engine = build()
        if not engine:
            raise RuntimeError("TensorRT returned an empty engine (see the TensorRT log above)")
        return engine, self.store(key, bytes(engine)), True
