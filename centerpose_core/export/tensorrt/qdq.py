"""Explicitly quantized (Q/DQ) ONNX files: the only INT8 input TensorRT 11 accepts.

TensorRT's explicit quantization ("Explicit Quantization", TensorRT developer guide; "Explicit
quantization with Q/DQ nodes" replaces calibrators in the 10.x -> 11.x migration guide) reads
QuantizeLinear/DequantizeLinear pairs and supports symmetric signed INT8 only: every zero point
must be an INT8 zero. ONNX Runtime's CPU-oriented static quantization often writes UINT8 with
non-zero zero points, which TensorRT rejects deep in the parser; `qdq_problems` says so up front.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import numpy_helper

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


def _load(model: onnx.ModelProto | str | Path) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    return onnx.load(str(model), load_external_data=False)


def is_qdq(model: onnx.ModelProto | str | Path) -> bool:
    """Whether the graph holds Q/DQ nodes (an explicitly quantized network)."""
    return any(node.op_type in QDQ_OPS for node in _load(model).graph.node)


def qdq_problems(model: onnx.ModelProto | str | Path) -> list[str]:
    """Why TensorRT cannot take this Q/DQ graph ([] when it can): unsigned or asymmetric quantization."""
    model = _load(model)
    constants = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    problems: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear":
            continue
        if len(node.input) < 3 or not node.input[2]:
            problems.add("QuantizeLinear without a zero point (ONNX default: UINT8)")
            continue
        zero_point = constants.get(node.input[2])
        if zero_point is None:
            problems.add("QuantizeLinear zero point is computed, not a constant")
            continue
        if zero_point.data_type != onnx.TensorProto.INT8:
            name = onnx.TensorProto.DataType.Name(zero_point.data_type)
            problems.add(f"{name} quantization (TensorRT takes INT8 only)")
        elif numpy_helper.to_array(zero_point).any():
            problems.add("asymmetric quantization (non-zero zero points; TensorRT needs symmetric)")
    problems.update(_weight_axis_problems(model, constants))
    return sorted(problems)


# The weight input's output-channel axis, the only per-channel axis TensorRT takes for each op
# ("Q/DQ Layer-Placement" rules of the TensorRT developer guide: K for convolution weights,
# which ConvTranspose stores second).
_OUTPUT_CHANNEL_AXIS = {"Conv": 0, "ConvTranspose": 1}


def _weight_axis_problems(model: onnx.ModelProto, constants: dict) -> set[str]:
    """Per-channel weight scales along another axis than the output channels."""
    producers = {out: node for node in model.graph.node for out in node.output}
    problems = set()
    for node in model.graph.node:
        axis_needed = _OUTPUT_CHANNEL_AXIS.get(node.op_type)
        dequantize = producers.get(node.input[1]) if axis_needed is not None and len(node.input) > 1 else None
        if dequantize is None or dequantize.op_type != "DequantizeLinear":
            continue
        scale = constants.get(dequantize.input[1])
        if scale is None or numpy_helper.to_array(scale).size <= 1:
            continue  # per-tensor
        axis = next((a.i for a in dequantize.attribute if a.name == "axis"), 1)  # ONNX's default: 1
        if axis != axis_needed:
            problems.add(
                f"{node.op_type} weights quantized per channel along axis {axis} "
                f"(TensorRT takes the output-channel axis {axis_needed} only)"
            )
    return problems
