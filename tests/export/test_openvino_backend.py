"""OpenVINO backend: ONNX DeformConv converted to OpenVINO's op with torchvision's sampling, the
exported files against eager torch, and reduced precision where this CPU has it."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
import torch
from decode_margins import assert_leading_persons_found, assert_same_persons, clear_decisions
from onnx import TensorProto, helper
from torchvision.ops import deform_conv2d

from centerpose_core.constants import HEAD_NAMES
from centerpose_core.runtime import Predictor
from centerpose_core.runtime.openvino_backend import (
    OpenVinoBackend,
    cpu_precisions,
    deform_conv_extension,
    resolve_precision,
)

SIZE = 128
HEAD_TOLERANCE = 1e-4  # as ONNX Runtime against torch (test_onnxruntime_backend.py)


def _deform_conv_graph(path, x, w, offset, mask, bias, *, stride, pad, offset_group):
    tensor = lambda name, a: helper.make_tensor_value_info(name, TensorProto.FLOAT, list(a.shape))  # noqa: E731
    out_shape = [x.shape[0], w.shape[0], *offset.shape[2:]]
    node = helper.make_node(
        "DeformConv",
        ["x", "w", "offset", "b", "mask"],
        ["y"],
        strides=[stride, stride],
        pads=[pad, pad, pad, pad],
        dilations=[1, 1],
        group=1,
        offset_group=offset_group,
        kernel_shape=list(w.shape[2:]),
    )
    inputs = [
        tensor("x", x),
        tensor("w", w),
        tensor("offset", offset),
        tensor("b", bias),
        tensor("mask", mask),
    ]
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    path.write_bytes(model.SerializeToString())


@pytest.mark.parametrize(("stride", "pad", "offset_group"), [(1, 1, 1), (2, 1, 2)])
def test_deform_conv_conversion_samples_as_torchvision(tmp_path, stride, pad, offset_group):
    """Offsets of up to +-4 pixels on a 7x9 map: points inside, between the border pixels, partly
    outside (within one pixel: partial bilinear weights) and fully outside (zero)."""
    import openvino as ov

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 7, 9)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    out_h, out_w = (7 + 2 * pad - 3) // stride + 1, (9 + 2 * pad - 3) // stride + 1
    offset = rng.uniform(-4, 4, (2, 2 * 9 * offset_group, out_h, out_w)).astype(np.float32)
    mask = rng.uniform(0, 1, (2, 9 * offset_group, out_h, out_w)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    path = tmp_path / "deform_conv.onnx"
    _deform_conv_graph(path, x, w, offset, mask, bias, stride=stride, pad=pad, offset_group=offset_group)

    core = ov.Core()
    core.add_extension(deform_conv_extension())
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled({"x": x, "w": w, "offset": offset, "b": bias, "mask": mask})[compiled.output(0)]
    expected = deform_conv2d(
        *(torch.from_numpy(a) for a in (x, offset, w, bias)),
        stride=stride,
        padding=pad,
        mask=torch.from_numpy(mask),
    )
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("form", ["native_onnx", "decomposed_onnx"])
def test_heads_match_torch_on_real_images(form, request, pose_model, real_images):
    from centerpose_core.affine import preprocess

    batch = np.stack([preprocess(image, SIZE)[0] for image in real_images])
    with torch.inference_mode():
        expected = pose_model(torch.from_numpy(batch))
    heads = OpenVinoBackend(request.getfixturevalue(form), input_size=SIZE, num_threads=2)(batch)
    for name in HEAD_NAMES:
        delta = (heads[name] - expected[name]).abs().max().item()
        assert delta <= HEAD_TOLERANCE, f"{form} {name}: max|delta| {delta:.2e}"


@pytest.mark.parametrize("flip", [False, True])
def test_same_persons_as_torch(flip, native_onnx, pose_model, real_images):
    reference = Predictor(pose_model, input_size=SIZE, flip_test=flip)
    candidate = Predictor(native_onnx, backend="openvino", input_size=SIZE, flip_test=flip, precision="fp32")
    for image in real_images[:3]:
        clear = clear_decisions(reference.head_maps([image]), limit=20)
        assert_same_persons(reference.predict(image), candidate.predict(image), clear, min_ranked=5)


def test_checkpoint_goes_through_the_export_cache(checkpoint, native_onnx, onnx_cache):
    predictor = Predictor(
        checkpoint, backend="openvino", input_size=SIZE, cache_dir=onnx_cache, precision="fp32"
    )
    assert predictor.backend.path == native_onnx


@pytest.mark.skipif("bf16" not in cpu_precisions(), reason="this CPU has no native bf16 (AVX512-BF16 / AMX)")
def test_bf16_finds_the_fp32_leading_persons(native_onnx, pose_model, real_images):
    """bf16 keeps 8 mantissa bits: scores move by up to a few hundredths on these seeded weights,
    centers by a cell; the leading fp32 persons must still be found."""
    reference = Predictor(pose_model, input_size=SIZE)
    candidate = Predictor(native_onnx, backend="openvino", input_size=SIZE, precision="bf16")
    assert candidate.backend.precision == "bf16"
    transposed = [n for n in onnx.load(str(native_onnx)).graph.node if n.op_type == "ConvTranspose"]
    assert candidate.backend.rewritten_upsamplings == len(transposed) > 0  # the neck's 2x / 4x
    for image in real_images[:3]:
        cell = max(image.shape[:2]) / (SIZE // 4)
        assert_leading_persons_found(
            reference.predict(image), candidate.predict(image), score_tolerance=0.05, cell=cell
        )


def test_precision_choices_and_errors():
    assert "fp32" in cpu_precisions()
    assert resolve_precision("auto") == ("bf16" if "bf16" in cpu_precisions() else "fp32")
    with pytest.raises(ValueError, match="openvino precision must be one of fp32, bf16, fp16, int8, auto"):
        resolve_precision("int4")
    with pytest.raises(ValueError, match="runs on the CPU here"):
        Predictor("model.onnx", backend="openvino", device="cuda:0")


def test_cpu_precisions_is_empty_where_openvino_is_missing(monkeypatch):
    """The documented answer on a machine without OpenVINO, not the import error."""
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    assert cpu_precisions() == ()


def _openvino_capabilities() -> set[str]:
    import openvino as ov

    return set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def test_auto_precision_is_bf16_exactly_where_the_cpu_reports_bf16(native_onnx):
    """precision 'auto' on the openvino backend, and backend 'auto' on a CPU: what OpenVINO's own
    OPTIMIZATION_CAPABILITIES (read here directly) says the CPU runs natively."""
    expected = "bf16" if "BF16" in _openvino_capabilities() else "fp32"
    assert Predictor(native_onnx, backend="openvino", input_size=SIZE).describe() == f"openvino {expected}"
    if not torch.cuda.is_available():
        assert Predictor(native_onnx, backend="auto", input_size=SIZE).describe() == f"openvino {expected}"


def test_a_precision_the_machine_cannot_run_is_one_clear_error(native_onnx):
    from centerpose_core.runtime.precision import PrecisionError

    with pytest.raises(PrecisionError, match="onnxruntime runs fp32 .* only"):
        Predictor(native_onnx, backend="onnxruntime", input_size=SIZE, precision="bf16")
    with pytest.raises(PrecisionError, match="needs an INT8 .*--quantize int8"):
        Predictor(native_onnx, backend="openvino", input_size=SIZE, precision="int8")
    if "FP16" not in _openvino_capabilities():
        with pytest.raises(PrecisionError, match="this CPU has no native fp16 .*OpenVINO CPU capabilities"):
            Predictor(native_onnx, backend="openvino", input_size=SIZE, precision="fp16")
