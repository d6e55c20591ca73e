"""Export-on-first-use cache: a checkpoint (or an in-memory model) -> an ONNX file reused later.

The key covers everything that changes the file: the weights' hash, input size, DCN form, batch
and height/width modes, the export format version and the torch version that traced it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from centerpose_core.export.onnx_export import FORMAT_VERSION, export_onnx, file_sha256
from centerpose_core.export.options import ExportOptions


def default_cache_dir() -> Path:
    """$CENTERPOSE_CACHE, else $XDG_CACHE_HOME/centerpose, else ~/.cache/centerpose."""
    if os.environ.get("CENTERPOSE_CACHE"):
        return Path(os.environ["CENTERPOSE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "centerpose"


def state_dict_sha256(model: nn.Module) -> str:
    """Hash of a model's parameters and buffers (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(
            tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes()
        )
    return digest.hexdigest()


def cached_onnx(
    model: nn.Module | str | Path,
    options: ExportOptions,
    cache_dir: str | Path | None = None,
) -> Path:
    """Path of the ONNX export of `model` with `options`, exporting it on the first call."""
    if isinstance(model, nn.Module):
        weights_hash = state_dict_sha256(model)
    else:
        if not Path(model).is_file():
            raise FileNotFoundError(f"checkpoint not found: {model}")
        weights_hash = file_sha256(model)
    key_source = "|".join(
        [
            weights_hash,
            str(options.size),
            options.dcn,
            str(options.batch),
            options.hw,
            str(options.resolved_opset),
            FORMAT_VERSION,
            torch.__version__,
        ]
    )
    key = hashlib.sha256(key_source.encode()).hexdigest()[:20]
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "onnx"
    directory.mkdir(parents=True, exist_ok=True)
    hw = "-dynhw" if options.hw == "dynamic" else ""
    target = directory / f"centerpose-{options.dcn}-{options.size}{hw}-b{options.batch}-{key}.onnx"
    if not target.is_file():  # written atomically: a concurrent reader sees no file or a whole one
        export_onnx(model, target, options, checkpoint_sha256=weights_hash)
    return target
