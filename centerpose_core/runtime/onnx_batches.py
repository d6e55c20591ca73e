"""One input check and batching rule for every backend that runs an exported ONNX file.

ONNX Runtime and OpenVINO take the same files, so they must refuse the same wrong-shaped batches
with the same message and split a batch the same way when the file has a fixed batch of 1
(a flip test or `predict_batch` then runs image by image).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from centerpose_core.export.onnx_checks import PoseOnnxInput


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
