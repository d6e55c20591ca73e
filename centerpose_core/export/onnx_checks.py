"""Checks of an ONNX file before anything runs it: is it a centerpose pose network, for which input.

Input (B, 3, S, S) and the six head outputs with the right channel counts at S/4, so an ONNX file
of another model fails with its path named instead of giving meaningless persons. Used by every
runtime that takes an ONNX file (ONNX Runtime, the TensorRT engine build).
"""

from __future__ import annotations

from pathlib import Path

import onnx

from centerpose_core.constants import DOWN_RATIO, HEAD_NAMES, HEADS


class OnnxModelMismatchError(ValueError):
    """The ONNX file is not a centerpose network for this input size."""


def describe_onnx_io(path: str | Path) -> tuple[list, dict[str, list]]:
    """Input shape and {output name: shape} of an ONNX file (symbolic dims as strings, unknown as None)."""
    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}

    def dims(value: onnx.ValueInfoProto) -> list:
        return [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value.type.tensor_type.shape.dim
        ]

    inputs = [v for v in model.graph.input if v.name not in initializers]
    if len(inputs) != 1:
        raise OnnxModelMismatchError(f"{path}: expected one input tensor, found {len(inputs)}")
    return dims(inputs[0]), {v.name: dims(v) for v in model.graph.output}


def check_pose_onnx(path: str | Path, input_size: int | None) -> tuple[int, bool]:
    """Validate that `path` is a centerpose ONNX file; return (input size, batch is dynamic)."""
    input_shape, outputs = describe_onnx_io(path)
    if len(input_shape) != 4 or input_shape[1] != 3:
        raise OnnxModelMismatchError(f"{path}: input shape {input_shape} is not (batch, 3, size, size)")
    height, width = input_shape[2], input_shape[3]
    if not isinstance(height, int) or height != width:
        raise OnnxModelMismatchError(f"{path}: input must be a fixed square size, got {input_shape}")
    if input_size is not None and height != input_size:
        raise OnnxModelMismatchError(
            f"{path}: exported for input {height}x{width}, but {input_size} was requested; "
            f"use input_size={height} (--size {height}) or re-export"
        )
    missing = [name for name in HEAD_NAMES if name not in outputs]
    if missing:
        raise OnnxModelMismatchError(
            f"{path}: not a centerpose pose model: outputs {sorted(outputs)} lack {missing} "
            f"(expected {list(HEAD_NAMES)})"
        )
    side = height // DOWN_RATIO
    for name in HEAD_NAMES:
        shape = outputs[name]
        expected = [HEADS[name], side, side]
        if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape[1:], expected)):
            raise OnnxModelMismatchError(
                f"{path}: output {name!r} has shape {shape}, "
                f"expected (batch, {', '.join(map(str, expected))})"
            )
    return height, not isinstance(input_shape[0], int)


def uses_deform_conv(path: str | Path) -> bool:
    """Whether the graph holds ONNX `DeformConv` nodes (the native DCN form, opset 19)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return any(node.op_type == "DeformConv" for node in graph.node)
