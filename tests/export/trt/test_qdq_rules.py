"""`tensorrt.qdq_problems` on hand-built one-convolution Q/DQ graphs: TensorRT's explicit
quantization takes signed int8 with zero point 0, and per-channel weight scales only along the
weight's output-channel axis (0 for Conv, 1 for ConvTranspose)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from centerpose_core.export.tensorrt import qdq_problems


def _graph(op: str, axis: int | None, zero_point_type=np.int8) -> onnx.ModelProto:
    """x -> Q/DQ -> op(weights from a per-channel DQ) -> y; 4 output and 3 input channels."""
    shape = (4, 3, 3, 3) if op == "Conv" else (3, 4, 3, 3)
    channels = shape[0] if axis in (None, 0) else shape[1]
    axis_attr = {} if axis is None else {"axis": axis}
    inits = [
        numpy_helper.from_array(np.ones(shape, np.int8), "w_q"),
        numpy_helper.from_array(np.full(channels, 0.1, np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(channels, np.int8), "w_zero"),
        numpy_helper.from_array(np.array(0.05, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, zero_point_type), "x_zero"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], **axis_attr),
        helper.make_node(op, ["x_dq", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, None, None])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


@pytest.mark.parametrize(("op", "axis"), [("Conv", 0), ("ConvTranspose", 1)])
def test_output_channel_weight_axis_and_int8_zero_points_are_accepted(op, axis):
    model = _graph(op, axis)
    onnx.checker.check_model(model)
    assert qdq_problems(model) == []


@pytest.mark.parametrize(
    ("op", "axis", "needed"), [("Conv", 1, 0), ("Conv", None, 0), ("ConvTranspose", 0, 1)]
)
def test_per_channel_weights_along_another_axis_are_named(op, axis, needed):
    """axis None: the attribute left out, which ONNX reads as 1."""
    problems = qdq_problems(_graph(op, axis))
    shown = 1 if axis is None else axis
    assert problems == [
        f"{op} weights quantized per channel along axis {shown} "
        f"(TensorRT takes the output-channel axis {needed} only)"
    ]


def test_unsigned_activations_are_named():
    assert qdq_problems(_graph("Conv", 0, np.uint8)) == ["UINT8 quantization (TensorRT takes INT8 only)"]
