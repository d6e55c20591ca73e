"""OpenVINO backend: the exported ONNX file (either DCN form, fp32 or INT8 QDQ) on the CPU, in fp32,
bf16 or fp16 arithmetic where the CPU has it.

OpenVINO's ONNX reader has no rule for ONNX `DeformConv` (opset 19); `deform_conv_extension`
converts it into OpenVINO's own `DeformableConvolution` (opset 8), so the same native file runs
here and in ONNX Runtime. The decomposed form needs no extension. A QDQ-quantized file
(`export.quantize`) runs its quantized convolutions in INT8. Each input shape is compiled once
(static shapes are faster than OpenVINO's dynamic ones); a camera stream has one shape.

Inference precision: OpenVINO's CPU plugin runs fp32 models in bf16 by default on CPUs with AMX
or AVX512-BF16; here the default is fp32 (the reference numbers), and `precision` asks for bf16
or fp16 explicitly, refused with the CPU's capabilities named when it lacks them. In bf16 the
neck's depthwise transposed convolutions run as polyphase depthwise convolutions
(`openvino_upsampling`: the plugin's bf16 transposed kernel is 10x slower than its fp32 one).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from centerpose_core.errors import MissingDependencyError, import_optional
from centerpose_core.export.onnx_checks import check_onnx_takes
from centerpose_core.input_shape import InputShape
from centerpose_core.runtime.onnx_batches import onnx_file_for, run_heads_checked
from centerpose_core.runtime.openvino_upsampling import polyphase_depthwise_upsampling

PRECISIONS = ("fp32", "bf16", "fp16", "int8", "auto")
# int8: the Q/DQ file's quantized layers run in INT8, the rest (DCN, heads' last convs) in fp32.
_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}
_CAPABILITY = {"bf16": "BF16", "fp16": "FP16", "int8": "INT8"}
_COMPILED_SHAPES = 4  # compiled models kept (one per input shape, least recently used dropped)


def import_openvino():
    return import_optional(
        "openvino", "OpenVINO", "install it (pip install openvino) or use backend 'onnxruntime'"
    )


def cpu_capabilities() -> tuple[str, ...]:
    """OpenVINO's CPU OPTIMIZATION_CAPABILITIES (e.g. FP32, BF16, INT8); empty when OpenVINO is missing."""
    try:
        ov = import_openvino()
    except MissingDependencyError:
        return ()
    return tuple(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def cpu_precisions() -> tuple[str, ...]:
    """The inference precisions this machine's CPU runs natively ("fp32" always; "bf16", "fp16",
    "int8" where OpenVINO reports the capability, e.g. AVX512-BF16 / AMX, VNNI). Empty when
    OpenVINO is missing."""
    capabilities = set(cpu_capabilities())
    if not capabilities:
        return ()
    return ("fp32", *(name for name, cap in _CAPABILITY.items() if cap in capabilities))


def resolve_precision(precision: str) -> str:
    """'auto' -> bf16 where the CPU has it, else fp32; a precision the CPU lacks is a ValueError."""
    if precision not in PRECISIONS:
        raise ValueError(f"openvino precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    available = cpu_precisions()
    if precision == "auto":
        return "bf16" if "bf16" in available else "fp32"
    if precision not in available:
        raise ValueError(
            f"this CPU has no native {precision} (OpenVINO CPU precisions: {', '.join(available)}); "
            "use precision 'fp32' or 'auto'"
        )
    return precision


def deform_conv_extension():
    """An OpenVINO ONNX-frontend conversion of ONNX `DeformConv` into `DeformableConvolution`.

    Same sampling as torchvision / ONNX: interleaved (dy, dx) offsets per tap, bilinear with zero
    outside the map and partial weights for points within one pixel of the border
    (`bilinear_interpolation_pad`); ONNX's bias is added afterwards (OpenVINO's op has none).
    """
    import_openvino()
    import openvino.opset8 as ops
    from openvino.frontend.onnx import ConversionExtension

    def convert(node):
        def attribute(name: str, default):
            return node.get_attribute(name) if node.has_attribute(name) else default

        inputs = node.get_input_size()
        pads = list(attribute("pads", [0, 0, 0, 0]))
        half = len(pads) // 2
        out = ops.deformable_convolution(
            node.get_input(0),
            node.get_input(2),
            node.get_input(1),
            strides=list(attribute("strides", [1, 1])),
            pads_begin=pads[:half],
            pads_end=pads[half:],
            dilations=list(attribute("dilations", [1, 1])),
            mask=node.get_input(4) if inputs > 4 else None,
            group=int(attribute("group", 1)),
            deformable_group=int(attribute("offset_group", 1)),
            bilinear_interpolation_pad=True,
        )
        if inputs > 3:
            bias = ops.reshape(node.get_input(3), ops.constant(np.array([1, -1, 1, 1], np.int64)), False)
            out = ops.add(out, bias)
        return [out.output(0)]

    return ConversionExtension("DeformConv", convert)


class OpenVinoBackend:
    """An OpenVINO CPU model over an exported centerpose ONNX file.

    Args:
        path: the .onnx file (native or decomposed DCN, fp32 or QDQ INT8).
        input_size: the Predictor's input (a square side or an `InputShape`); checked against the file.
        precision: 'fp32' (default), 'bf16', 'fp16' or 'auto' (bf16 where the CPU has it).
        num_threads: inference threads (None: OpenVINO's default, one per core).
    """

    name = "openvino"

    def __init__(
        self,
        path: str | Path,
        *,
        input_size: int | InputShape | None = None,
        precision: str = "fp32",
        num_threads: int | None = None,
    ) -> None:
        ov = import_openvino()
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        self.input = check_onnx_takes(self.path, input_size)
        self.has_masks = self.input.masks
        self.precision = resolve_precision(precision)
        self.config: dict[str, object] = {
            "INFERENCE_PRECISION_HINT": _HINTS[self.precision],
            "PERFORMANCE_HINT": "LATENCY",
        }
        if num_threads is not None:
            if num_threads < 0:
                raise ValueError(f"num_threads must be >= 0, got {num_threads}")
            if num_threads:
                self.config["INFERENCE_NUM_THREADS"] = int(num_threads)
        self.core = ov.Core()
        self.core.add_extension(deform_conv_extension())
        self.model = self.core.read_model(str(self.path))
        # bf16: the neck's depthwise upsamplings as depthwise convolutions (10x faster there, same sums)
        self.rewritten_upsamplings = (
            polyphase_depthwise_upsampling(self.model) if self.precision == "bf16" else 0
        )
        self.input_name = self.model.inputs[0].get_any_name()
        self.device = torch.device("cpu")
        self._compiled: OrderedDict[tuple[int, ...], object] = OrderedDict()

    def _compiled_for(self, shape: tuple[int, ...]):
        compiled = self._compiled.pop(shape, None)
        if compiled is None:
            model = self.model.clone()
            model.reshape({self.input_name: list(shape)})
            compiled = self.core.compile_model(model, "CPU", self.config)
        self._compiled[shape] = compiled
        while len(self._compiled) > _COMPILED_SHAPES:
            self._compiled.popitem(last=False)
        return compiled

    def _run(self, batch: np.ndarray) -> list[np.ndarray]:
        compiled = self._compiled_for(batch.shape)
        result = compiled({self.input_name: batch})
        return [np.array(result[compiled.output(name)]) for name in self.input.head_names]

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        outputs = run_heads_checked(self.path, self.input, batch, self._run)
        return {name: torch.from_numpy(out) for name, out in zip(self.input.head_names, outputs)}


def make_openvino_backend(
    model: str | Path | nn.Module,
    *,
    device: str = "cpu",
    input_size: int | InputShape = 512,
    precision: str = "fp32",
    num_threads: int | None = None,
    dcn: str = "native",
    cache_dir: str | Path | None = None,
) -> OpenVinoBackend:
    """An ONNX file runs as is; a checkpoint or an nn.Module is exported (cached) on first use,
    with dynamic height and width when the input is not a fixed square."""
    if device != "cpu":
        raise ValueError(f"backend 'openvino' runs on the CPU here, got device {device!r}")
    model = onnx_file_for(model, input_size, dcn, cache_dir)
    return OpenVinoBackend(model, input_size=input_size, precision=precision, num_threads=num_threads)
