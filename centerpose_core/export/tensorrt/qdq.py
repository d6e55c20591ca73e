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
    return sorted(problems)
