"""The batching rule shared by the ONNX Runtime and OpenVINO backends, on a runner that records
what it was given: a batch-1 file gets one image per call, in order, and the outputs are joined;
a dynamic-batch file gets the batch at once; a wrong shape is refused before anything runs."""

from __future__ import annotations

import numpy as np
import pytest

from centerpose_core.export.onnx_checks import PoseOnnxInput
from centerpose_core.runtime.onnx_batches import run_heads_checked

FIXED_BATCH_ONE = PoseOnnxInput(height=64, width=96, dynamic_batch=False)
DYNAMIC = PoseOnnxInput(height=None, width=None, dynamic_batch=True)


class RecordingRunner:
    """Two 'heads': the per-image sum (so outputs identify their image) and a constant map."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        self.batch_sizes.append(len(batch))
        sums = batch.reshape(len(batch), -1).sum(axis=1)[:, None]
        return [sums, np.ones((len(batch), 2, 3), np.float32)]


def _images(count: int, height: int, width: int) -> np.ndarray:
    return np.stack([np.full((3, height, width), index + 1, np.float32) for index in range(count)])


def test_a_batch_one_file_runs_image_by_image_and_keeps_the_order() -> None:
    runner = RecordingRunner()
    outputs = run_heads_checked("model.onnx", FIXED_BATCH_ONE, _images(3, 64, 96), runner)
    assert runner.batch_sizes == [1, 1, 1]
    per_image = 3 * 64 * 96
    assert outputs[0][:, 0].tolist() == [per_image * 1, per_image * 2, per_image * 3]
    assert outputs[1].shape == (3, 2, 3)


def test_a_dynamic_batch_file_gets_the_whole_batch_once() -> None:
    runner = RecordingRunner()
    outputs = run_heads_checked("model.onnx", DYNAMIC, _images(4, 96, 128), runner)
    assert runner.batch_sizes == [4] and outputs[0].shape == (4, 1)


def test_the_input_reaches_the_runner_as_contiguous_float32() -> None:
    seen = []
    images = _images(2, 64, 96).astype(np.float64)[:, :, :, ::-1]  # float64, negative strides
    run_heads_checked("model.onnx", DYNAMIC, images, lambda batch: seen.append(batch) or [batch])
    assert seen[0].dtype == np.float32 and seen[0].flags.c_contiguous


@pytest.mark.parametrize(
    ("file_input", "shape"),
    [
        (FIXED_BATCH_ONE, (1, 3, 64, 64)),  # another width than the file's
        (FIXED_BATCH_ONE, (1, 1, 64, 96)),  # one channel
        (FIXED_BATCH_ONE, (3, 64, 96)),  # no batch axis
        (DYNAMIC, (1, 3, 100, 128)),  # a dynamic side that is not a multiple of 32
    ],
)
def test_a_wrong_shape_is_refused_naming_the_file_and_what_it_takes(file_input, shape) -> None:
    runner = RecordingRunner()
    with pytest.raises(ValueError, match=r"model\.onnx: input batch of shape .*expected \(B, 3, H, W\) with"):
        run_heads_checked("model.onnx", file_input, np.zeros(shape, np.float32), runner)
    assert runner.batch_sizes == []
