"""One model-to-file rule, input check and batching rule for every backend that runs an exported
ONNX file.

ONNX Runtime and OpenVINO take the same files, so they must export a checkpoint the same way,
refuse the same wrong-shaped batches with the same message and split a batch the same way when
the file has a fixed batch of 1 (a flip test or `predict_batch` then runs image by image).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from torch import nn

from centerpose_core.export.onnx_checks import PoseOnnxInput
from centerpose_core.input_shape import InputShape
from centerpose_core.model_formats import ONNX, model_format


def onnx_file_for(
    model: str | Path | nn.Module, input_size: int | InputShape, dcn: str, cache_dir: str | Path | None
) -> str | Path:
    """An ONNX file as it is; a checkpoint or an nn.Module exported (cached) on first use, with
    dynamic height and width when the input is not a fixed square (`export_options_for`)."""
    if model_format(model) == ONNX:
        return model
    from centerpose_core.export.cache import cached_onnx
    from centerpose_core.export.options import export_options_for

    return cached_onnx(model, export_options_for(input_size, dcn), cache_dir)


def run_heads_checked(
    path: str | Path,
    file_input: PoseOnnxInput,
    batch: np.ndarray,
    run: Callable[[np.ndarray], Sequence[np.ndarray]],
) -> list[np.ndarray]:
    """`run(batch)`'s head arrays after checking the batch against what the file accepts.

    A file exported with batch 1 gets one image per call, the outputs joined along the batch axis.
    """
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    if batch.ndim != 4 or batch.shape[1] != 3 or not file_input.accepts(*batch.shape[2:]):
        raise ValueError(
            f"{path}: input batch of shape {batch.shape}, expected (B, 3, H, W) with {file_input.describe()}"
        )
    if file_input.dynamic_batch or batch.shape[0] == 1:
        return list(run(batch))
    runs = [run(batch[i : i + 1]) for i in range(len(batch))]
    return [np.concatenate(parts, axis=0) for parts in zip(*runs)]
