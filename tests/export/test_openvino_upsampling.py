"""The neck's depthwise transposed convolutions rewritten as polyphase depthwise convolutions
(OpenVINO bf16): the same sums as torch's conv_transpose2d, and only where the rewrite covers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper

from centerpose_core.runtime.openvino_upsampling import TRANSPOSED, polyphase_depthwise_upsampling

ov = pytest.importorskip("openvino")


def _transposed_model(weights: np.ndarray, stride: int, pad: int, input_shape: tuple[int, ...]):
    """An OpenVINO model read from a one-node ONNX depthwise ConvTranspose (constant weights)."""
    channels, _, kernel, _ = weights.shape
    node = helper.make_node(
        "ConvTranspose", ["x", "w"], ["y"], strides=[stride] * 2, pads=[pad] * 4, group=channels,
        kernel_shape=[kernel] * 2,
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, weights.shape, weights.flatten())],
    )
    onnx_bytes = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    return ov.Core().read_model(onnx_bytes, b"")


@pytest.mark.parametrize(
    ("stride", "kernel", "pad", "rewritten"),
    [(2, 4, 1, 1), (4, 8, 2, 1), (2, 3, 1, 0), (2, 4, 0, 0)],  # IDAUp's 2x and 4x; two it leaves alone
)
def test_rewrite_sums_as_torch_conv_transpose(stride, kernel, pad, rewritten):
    rng = np.random.default_rng(stride * 10 + kernel)
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    weights = rng.standard_normal((3, 1, kernel, kernel)).astype(np.float32)
    model = _transposed_model(weights, stride, pad, x.shape)
    assert polyphase_depthwise_upsampling(model) == rewritten
    kinds = {op.get_type_name() for op in model.get_ops()}
    assert (TRANSPOSED in kinds) == (rewritten == 0)
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled({0: x})[compiled.output(0)]
    expected = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(weights), stride=stride, padding=pad, groups=3
    ).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
