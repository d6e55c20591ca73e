"""ONNX files with dynamic height and width (camera-shaped input): both DCN forms against eager torch
at several input shapes, in ONNX Runtime and OpenVINO, and the Predictor on a 4:3 frame."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from decode_margins import assert_same_persons, clear_decisions
from seeded_nets import synthetic_scenes

from centerpose_core.constants import HEAD_NAMES
from centerpose_core.export.onnx_checks import OnnxModelMismatchError
from centerpose_core.export.onnx_export import read_metadata
from centerpose_core.runtime import Predictor
from centerpose_core.runtime.onnxruntime_backend import OnnxRuntimeBackend
from centerpose_core.runtime.openvino_backend import OpenVinoBackend

SIZE = 128  # the square conftest exports at
HEAD_TOLERANCE = 1e-4  # as the fixed-shape comparison (test_onnxruntime_backend.py)
SHAPES = [(96, 128), (128, 64)]  # (height, width): landscape 4:3, and a portrait the trace never saw


def _scenes(height: int, width: int) -> np.ndarray:
    """Two image-like inputs of this shape (crops of larger synthetic scenes)."""
    side = max(height, width)
    return np.ascontiguousarray(synthetic_scenes(2, side, seed=3)[:, :, :height, :width])


@pytest.fixture(scope="module", params=["native", "decomposed"])
def dynamic_onnx(request):
    return request.getfixturevalue(f"{request.param}_dynamic_onnx")


def test_the_file_declares_dynamic_height_and_width(dynamic_onnx):
    dims = onnx.load(str(dynamic_onnx), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    assert [d.HasField("dim_value") for d in dims] == [False, True, False, False]
    assert read_metadata(dynamic_onnx)["input_hw"] == "dynamic"


@pytest.mark.parametrize("runtime", [OnnxRuntimeBackend, OpenVinoBackend])
@pytest.mark.parametrize(("height", "width"), SHAPES)
def test_heads_match_torch_at_each_shape(runtime, dynamic_onnx, pose_model, height, width):
    batch = _scenes(height, width)
    with torch.inference_mode():
        expected = pose_model(torch.from_numpy(batch))
    heads = runtime(dynamic_onnx, input_size=None, num_threads=2)(batch)
    for name in HEAD_NAMES:
        assert heads[name].shape == (2, expected[name].shape[1], height // 4, width // 4)
        delta = (heads[name] - expected[name]).abs().max().item()
        assert delta <= HEAD_TOLERANCE, f"{runtime.name} {name} at {height}x{width}: max|delta| {delta:.2e}"


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_fitted_input_gives_the_same_persons_as_torch(backend, native_dynamic_onnx, pose_model, frame):
    reference = Predictor(pose_model, input_size=SIZE, fit_aspect=True)
    candidate = Predictor(
        native_dynamic_onnx, backend=backend, input_size=SIZE, fit_aspect=True, precision="fp32"
    )
    clear = clear_decisions(reference.head_maps([frame]), limit=20)
    assert_same_persons(reference.predict(frame), candidate.predict(frame), clear, min_ranked=5)


def test_from_file_reads_the_export_size_of_a_dynamic_file(native_dynamic_onnx, frame):
    predictor = Predictor.from_file(native_dynamic_onnx, fit_aspect=True, device="cpu")
    assert predictor.input_size == SIZE and predictor.input_shape.for_image(480, 640) == (SIZE, 96)


def test_a_fixed_file_refuses_camera_shaped_input_and_names_the_fix(native_onnx):
    with pytest.raises(OnnxModelMismatchError, match=r"128x128.*export with --hw dynamic"):
        Predictor(native_onnx, backend="onnxruntime", input_size=SIZE, fit_aspect=True)
    backend = OnnxRuntimeBackend(native_onnx, input_size=SIZE)
    with pytest.raises(ValueError, match=r"input batch of shape \(1, 3, 96, 128\)"):
        backend(np.zeros((1, 3, 96, SIZE), np.float32))


def test_checkpoints_export_with_dynamic_height_and_width_when_needed(checkpoint, onnx_cache, frame):
    predictor = Predictor(checkpoint, backend="onnxruntime", input_size=(SIZE, 96), cache_dir=onnx_cache)
    assert "dynhw" in predictor.backend.path.name
    assert len(predictor.predict(frame)) == 100
