"""torch2trt path (named in the product design): convert the eager model straight to TensorRT.

Only used when `torch2trt` is importable (not installable here; the ONNX -> TensorRT path is the
supported one). A converter maps torchvision's `deform_conv2d` to TensorRT's
`ModulatedDeformConv2d` plugin; the converted module is saved / loaded as torch2trt's TRTModule.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from centerpose_core.constants import HEAD_NAMES
from centerpose_core.errors import MissingDependencyError, import_optional
from centerpose_core.export.flatten import HeadsAsTuple
from centerpose_core.model_formats import CHECKPOINT, TORCH2TRT_MODULE, model_format

PLUGIN_NAME = "ModulatedDeformConv2d"
# Both the public name and the name the model module looks up, so the hook sees every call.
DEFORM_CONV_PATHS = ("torchvision.ops.deform_conv2d", "centerpose_core.model.dcn.deform_conv2d")


class Torch2TRTUnavailableError(MissingDependencyError):
    """torch2trt (or TensorRT, or a GPU) is missing."""


def import_torch2trt() -> ModuleType:
    return import_optional(
        "torch2trt",
        "torch2trt",
        "export ONNX instead (`centerpose export`) and use backend 'tensorrt' (ONNX -> TensorRT engine) "
        "or 'onnxruntime'",
        Torch2TRTUnavailableError,
    )


_registered = False


def register_deform_conv_converter() -> None:
    """Register the deform_conv2d -> ModulatedDeformConv2d plugin converter with torch2trt (once)."""
    global _registered
    if _registered:
        return
    torch2trt = import_torch2trt()
    import tensorrt as trt

    def convert_deform_conv2d(ctx) -> None:
        get = torch2trt.get_arg
        inp = get(ctx, "input", pos=0, default=None)
        offset = get(ctx, "offset", pos=1, default=None)
        weight = get(ctx, "weight", pos=2, default=None)
        bias = get(ctx, "bias", pos=3, default=None)
        stride = torch.nn.modules.utils._pair(get(ctx, "stride", pos=4, default=1))
        padding = torch.nn.modules.utils._pair(get(ctx, "padding", pos=5, default=0))
        dilation = torch.nn.modules.utils._pair(get(ctx, "dilation", pos=6, default=1))
        mask = get(ctx, "mask", pos=7, default=None)
        if mask is None:
            mask = torch.ones_like(offset[:, : offset.shape[1] // 2])
        if bias is None:
            bias = torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
        offset_groups = offset.shape[1] // (2 * weight.shape[2] * weight.shape[3])
        tensors = torch2trt.add_missing_trt_tensors(ctx.network, [inp, offset, mask, weight, bias])
        creator = trt.get_plugin_registry().get_plugin_creator(PLUGIN_NAME, "1", "")
        if creator is None:
            raise Torch2TRTUnavailableError(
                f"TensorRT plugin {PLUGIN_NAME} not found (init_libnvinfer_plugins?)"
            )
        fields = trt.PluginFieldCollection(
            [
                trt.PluginField("stride", np.array(stride, np.int32), trt.PluginFieldType.INT32),
                trt.PluginField("padding", np.array(padding, np.int32), trt.PluginFieldType.INT32),
                trt.PluginField("dilation", np.array(dilation, np.int32), trt.PluginFieldType.INT32),
                trt.PluginField("group", np.array([1], np.int32), trt.PluginFieldType.INT32),
                trt.PluginField(
                    "deformable_group", np.array([offset_groups], np.int32), trt.PluginFieldType.INT32
                ),
            ]
        )
        plugin = creator.create_plugin(PLUGIN_NAME, fields)
        layer = ctx.network.add_plugin_v2(tensors, plugin)
        ctx.method_return._trt = layer.get_output(0)

    for path in DEFORM_CONV_PATHS:
        torch2trt.tensorrt_converter(path)(convert_deform_conv2d)
    _registered = True


def convert(model: nn.Module, input_size: int, *, fp16: bool = True, max_batch: int = 1) -> nn.Module:
    """The model as a torch2trt TRTModule returning the six heads as a tuple (HEAD_NAMES order)."""
    torch2trt = import_torch2trt()
    if not torch.cuda.is_available():
        raise Torch2TRTUnavailableError("torch2trt needs a CUDA GPU; torch.cuda.is_available() is False")
    import tensorrt as trt

    trt.init_libnvinfer_plugins(trt.Logger(trt.Logger.WARNING), "")
    register_deform_conv_converter()
    wrapper = HeadsAsTuple(model).cuda().eval()
    example = torch.zeros(1, 3, input_size, input_size, device="cuda")
    return torch2trt.torch2trt(wrapper, [example], fp16_mode=fp16, max_batch_size=max_batch)


def save(module: nn.Module, path: str | Path) -> Path:
    torch.save(module.state_dict(), str(path))
    return Path(path)


def load(path: str | Path) -> nn.Module:
    torch2trt = import_torch2trt()
    module = torch2trt.TRTModule()
    # A .trtm holds engine bytes in a pickled state dict: load only files `convert` made locally.
    module.load_state_dict(torch.load(str(path), weights_only=False))
    return module


class Torch2TRTBackend:
    """Backend over a converted TRTModule (GPU); outputs stay on the GPU for the shared decode."""

    name = "torch2trt"

    def __init__(self, module: nn.Module, device: str = "cuda") -> None:
        self.device = torch.device(device if str(device).startswith("cuda") else "cuda")
        self.module = module

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        inputs = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        outputs = self.module(inputs)
        return {name: out.float() for name, out in zip(HEAD_NAMES, outputs)}


def make_torch2trt_backend(
    model: str | Path | nn.Module, *, device: str = "cuda", input_size: int = 512, fp16: bool = True
) -> Torch2TRTBackend:
    """A saved TRTModule (.trtm) is loaded; a checkpoint or module is converted."""
    import_torch2trt()
    fmt = model_format(model)
    if fmt == TORCH2TRT_MODULE:
        return Torch2TRTBackend(load(model), device)
    if fmt == CHECKPOINT:
        from centerpose_core.model.checkpoint import load_model

        model = load_model(model, map_location="cpu")
    return Torch2TRTBackend(convert(model, input_size, fp16=fp16), device)
