"""ONNX Runtime against eager torch on real images: same heads, same persons, both DCN forms."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
import torch
from decode_margins import assert_same_persons, clear_decisions
from onnx import TensorProto, helper

from centerpose_core.affine import preprocess
from centerpose_core.constants import HEAD_NAMES
from centerpose_core.export.onnx_checks import OnnxModelMismatchError
from centerpose_core.runtime import Predictor
from centerpose_core.runtime.backends import make_backend
from centerpose_core.runtime.onnxruntime_backend import OnnxRuntimeBackend

SIZE = 128  # the input size conftest exports at

HEAD_TOLERANCE = 1e-4
COMPARED = 20  # leading persons compared one to one where rounding cannot reorder them
MIN_COMPARED = 5


def _batch(images):
    return np.stack([preprocess(image, SIZE)[0] for image in images])


def assert_same_persons_as(reference: Predictor, image, actual) -> None:
    """`actual` persons equal the reference Predictor's wherever decode's decisions are clear."""
    clear = clear_decisions(reference.head_maps([image]), limit=COMPARED)
    assert_same_persons(reference.predict(image, threshold=0.0), actual, clear, min_ranked=MIN_COMPARED)


@pytest.fixture(scope="module")
def torch_heads(pose_model, real_images):
    with torch.inference_mode():
        return pose_model(torch.from_numpy(_batch(real_images)))


@pytest.mark.parametrize("form", ["native_onnx", "decomposed_onnx"])
def test_heads_match_torch_on_real_images(form, request, torch_heads, real_images):
    backend = OnnxRuntimeBackend(request.getfixturevalue(form), input_size=SIZE, num_threads=2)
    heads = backend(_batch(real_images))  # the whole batch at once: dynamic batch
    for name in HEAD_NAMES:
        assert heads[name].shape == torch_heads[name].shape
        delta = (heads[name] - torch_heads[name]).abs().max().item()
        assert delta <= HEAD_TOLERANCE, f"{form} {name}: max|delta| {delta:.2e}"


@pytest.mark.parametrize("form", ["native_onnx", "decomposed_onnx"])
@pytest.mark.parametrize("flip", [False, True])
def test_same_persons_as_torch(form, flip, request, pose_model, real_images):
    reference = Predictor(pose_model, input_size=SIZE, flip_test=flip)
    candidate = Predictor(
        request.getfixturevalue(form), backend="onnxruntime", input_size=SIZE, flip_test=flip
    )
    for image in real_images:
        actual = candidate.predict(image, threshold=0.0)
        assert len(actual) == 100  # all K candidates
        assert_same_persons_as(reference, image, actual)


def test_batch_equals_single_images(native_onnx, real_images):
    predictor = Predictor(native_onnx, backend="onnxruntime", input_size=SIZE)
    batched = predictor.predict_batch(real_images[:3], threshold=0.0)
    for image, persons in zip(real_images[:3], batched):
        assert_same_persons_as(predictor, image, persons)


def test_checkpoint_goes_through_the_export_cache(
    checkpoint, native_onnx, onnx_cache, real_images, pose_model
):
    stamp = native_onnx.stat().st_mtime_ns
    predictor = Predictor(checkpoint, backend="onnxruntime", input_size=SIZE, cache_dir=onnx_cache)
    assert predictor.backend.path == native_onnx  # reused, not exported again
    assert native_onnx.stat().st_mtime_ns == stamp
    reference = Predictor(pose_model, input_size=SIZE)
    assert_same_persons_as(reference, real_images[0], predictor.predict(real_images[0], threshold=0.0))


def test_from_file_reads_backend_and_input_size_from_the_file(native_onnx, real_images):
    predictor = Predictor.from_file(native_onnx, device="cpu")
    assert predictor.backend.name == "onnxruntime" and predictor.input_size == SIZE
    reference = Predictor(native_onnx, backend="onnxruntime", input_size=SIZE)
    assert_same_persons_as(reference, real_images[0], predictor.predict(real_images[0]))


def test_auto_picks_onnxruntime_without_tensorrt_and_openvino(native_onnx, monkeypatch):
    pytest.importorskip("onnxruntime")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: auto may choose TensorRT")
    monkeypatch.setitem(sys.modules, "openvino", None)  # as on a machine without OpenVINO
    backend = make_backend(native_onnx, backend="auto", input_size=SIZE)
    assert (backend.name, backend.precision) == ("onnxruntime", "fp32")


def _foreign_model(path, outputs):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], [name]) for name in outputs],
        "foreign",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, SIZE, SIZE]) for name in outputs],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_onnx_file_of_another_model_is_rejected_by_name(tmp_path):
    path = _foreign_model(tmp_path / "classifier.onnx", ["logits"])
    with pytest.raises(OnnxModelMismatchError, match=r"classifier\.onnx.*not a centerpose pose model"):
        Predictor(path, backend="onnxruntime", input_size=SIZE)
    wrong_shapes = _foreign_model(tmp_path / "lookalike.onnx", list(HEAD_NAMES))
    with pytest.raises(OnnxModelMismatchError, match=r"lookalike\.onnx: output 'hm' has shape"):
        Predictor(wrong_shapes, backend="onnxruntime", input_size=SIZE)


def test_wrong_input_size_names_the_file_and_the_fix(native_onnx):
    with pytest.raises(
        OnnxModelMismatchError, match=rf"{native_onnx.name}: exported for input {SIZE}x{SIZE}.*"
    ):
        Predictor(native_onnx, backend="onnxruntime", input_size=2 * SIZE)


def test_missing_file_and_torch_backend_on_onnx(tmp_path, native_onnx):
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        Predictor(tmp_path / "nothing.onnx", backend="onnxruntime", input_size=SIZE)
    with pytest.raises(
        ValueError, match="cannot be run by backend 'torch'; use backend 'tensorrt' or 'onnxruntime'"
    ):
        Predictor(native_onnx, backend="torch", input_size=SIZE)


def test_old_onnxruntime_is_told_about_deform_conv(native_onnx, decomposed_onnx):
    from centerpose_core.runtime.onnxruntime_backend import _require_deform_conv_support

    with pytest.raises(ValueError, match=r"DeformConv, which needs onnxruntime >= 1\.25 \(found 1\.24\.0\)"):
        _require_deform_conv_support(native_onnx, "1.24.0")
    _require_deform_conv_support(decomposed_onnx, "1.24.0")  # plain ops run anywhere
    _require_deform_conv_support(native_onnx, "1.25.1")
