"""Checks of an ONNX file before anything runs it: is it a centerpose pose network, for which input.

Input (B, 3, S, S) and the six head outputs (plus `seg_feat`, `seg` for a mask model, both or
neither) with the right channel counts at S/4, so an ONNX file
of another model fails with its path named instead of giving meaningless persons. Used by every
runtime that takes an ONNX file (ONNX Runtime, OpenVINO, the TensorRT engine build). A file
exported with dynamic height and width (`--hw dynamic`) takes any multiple of 32 on both sides.
`onnx` is imported only where a file is read, so the TensorRT backend, which imports this module,
runs a ready `.engine` on a machine (a Jetson) that has TensorRT but no `onnx` package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from centerpose_core.constants import ALL_HEADS, DOWN_RATIO, HEAD_NAMES, MASK_HEAD_NAMES, output_head_names
from centerpose_core.input_shape import ALIGN, InputShape


class OnnxModelMismatchError(ValueError):
    """The ONNX file is not a centerpose network for this input size."""


def describe_onnx_io(path: str | Path) -> tuple[list, dict[str, list]]:
    """Input shape and {output name: shape} of an ONNX file (symbolic dims as strings, unknown as None)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}

    def dims(value) -> list:  # an onnx.ValueInfoProto
        return [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value.type.tensor_type.shape.dim
        ]

    inputs = [v for v in model.graph.input if v.name not in initializers]
    if len(inputs) != 1:
        raise OnnxModelMismatchError(f"{path}: expected one input tensor, found {len(inputs)}")
    return dims(inputs[0]), {v.name: dims(v) for v in model.graph.output}


@dataclass(frozen=True)
class PoseOnnxInput:
    """The input a centerpose ONNX file takes: fixed height/width, or None where dynamic."""

    height: int | None
    width: int | None
    dynamic_batch: bool
    masks: bool = False  # the file has the mask outputs seg_feat and seg

    @property
    def head_names(self) -> tuple[str, ...]:
        """The outputs a runtime reads, in order (`constants.output_head_names`)."""
        return output_head_names(self.masks)

    @property
    def dynamic_hw(self) -> bool:
        return self.height is None or self.width is None

    def accepts(self, height: int, width: int) -> bool:
        """Whether a (height, width) input runs (dynamic sides take multiples of 32)."""
        return all(
            side % ALIGN == 0 if fixed is None else side == fixed
            for side, fixed in ((height, self.height), (width, self.width))
        )

    def describe(self) -> str:
        return "dynamic HxW" if self.dynamic_hw else f"{self.width}x{self.height}"


def inspect_pose_onnx(path: str | Path) -> PoseOnnxInput:
    """Validate that `path` is a centerpose network (input (B, 3, H, W), the six heads at input / 4)."""
    input_shape, outputs = describe_onnx_io(path)
    if len(input_shape) != 4 or input_shape[1] != 3:
        raise OnnxModelMismatchError(f"{path}: input shape {input_shape} is not (batch, 3, height, width)")
    height, width = (d if isinstance(d, int) else None for d in input_shape[2:])
    missing = [name for name in HEAD_NAMES if name not in outputs]
    if missing:
        raise OnnxModelMismatchError(
            f"{path}: not a centerpose pose model: outputs {sorted(outputs)} lack {missing} "
            f"(expected {list(HEAD_NAMES)})"
        )
    mask_outputs = [name for name in MASK_HEAD_NAMES if name in outputs]
    if mask_outputs and len(mask_outputs) != len(MASK_HEAD_NAMES):
        raise OnnxModelMismatchError(
            f"{path}: has the mask output {mask_outputs[0]!r} without the other; a mask model "
            f"has both {' and '.join(MASK_HEAD_NAMES)}"
        )
    masks = bool(mask_outputs)
    out_h, out_w = (side // DOWN_RATIO if side is not None else None for side in (height, width))
    for name in output_head_names(masks):
        shape = outputs[name]
        expected = [ALL_HEADS[name], out_h, out_w]
        if len(shape) != 4 or any(
            isinstance(d, int) and e is not None and d != e for d, e in zip(shape[1:], expected)
        ):
            raise OnnxModelMismatchError(
                f"{path}: output {name!r} has shape {shape}, "
                f"expected (batch, {', '.join(str(e) if e is not None else 'H/4' for e in expected)})"
            )
    return PoseOnnxInput(height, width, not isinstance(input_shape[0], int), masks)


def check_pose_onnx(path: str | Path, input_size: int | None) -> tuple[int, bool]:
    """Validate that `path` is a centerpose ONNX file with a fixed square input; return (input
    size, batch is dynamic)."""
    info = inspect_pose_onnx(path)
    if info.dynamic_hw or info.height != info.width:
        raise OnnxModelMismatchError(
            f"{path}: input must be a fixed square size, got {info.describe()} (export with --hw fixed)"
        )
    _check_takes(path, info, input_size)
    return info.height, info.dynamic_batch


def check_onnx_takes(path: str | Path, input_size: int | InputShape | None) -> PoseOnnxInput:
    """Validate `path` for a Predictor's input (a square side, an `InputShape`, or None: any the
    file takes); OnnxModelMismatchError naming the file and the fix otherwise."""
    info = inspect_pose_onnx(path)
    _check_takes(path, info, input_size)
    return info


def _check_takes(path: str | Path, info: PoseOnnxInput, input_size: int | InputShape | None) -> None:
    if input_size is None:
        return
    if isinstance(input_size, int):
        if not info.accepts(input_size, input_size):
            raise OnnxModelMismatchError(
                f"{path}: exported for input {info.describe()}, but {input_size} was requested; "
                f"use input_size={info.height} (--size {info.height}) or re-export"
            )
        return
    fixed = not input_size.fit_aspect and info.accepts(input_size.height, input_size.width)
    if not (fixed or info.dynamic_hw):
        raise OnnxModelMismatchError(
            f"{path}: exported for input {info.describe()}, but {input_size.describe()} was requested; "
            "export with --hw dynamic for camera-shaped input"
        )


def uses_deform_conv(path: str | Path) -> bool:
    """Whether the graph holds ONNX `DeformConv` nodes (the native DCN form, opset 19)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return any(node.op_type == "DeformConv" for node in graph.node)
