"""torch2trt path (named in the product design): convert the eager model straight to TensorRT.

Only used when `torch2trt` is importable (not installable here; the ONNX -> TensorRT path is the
supported one). A converter maps torchvision's `deform_conv2d` to TensorRT's
`ModulatedDeformConv2d` plugin; the converted module is saved / loaded as torch2trt's TRTModule.

A `.trtm` file is TRTModule's own state dict (torch2trt's format: `engine` bytes, `input_names`,
`output_names`, flattener schemas of plain lists/dicts) plus our `centerpose_*` entries (batch
limit, input size, TensorRT version). It is read with `torch.load(weights_only=True)`: a file that
asks to import or call anything is refused before any of it runs. Batches larger than the
engine's limit (flip test sends 2N images) run in chunks.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from centerpose_core.constants import HEAD_NAMES, output_head_names
from centerpose_core.errors import MissingDependencyError, UserError, import_optional
from centerpose_core.export.flatten import HeadsAsTuple
from centerpose_core.export.tensorrt import parse_version
from centerpose_core.model_formats import CHECKPOINT, TORCH2TRT_MODULE, model_format

PLUGIN_NAME = "ModulatedDeformConv2d"
# Both the public name and the name the model module looks up, so the hook sees every call.
DEFORM_CONV_PATHS = ("torchvision.ops.deform_conv2d", "centerpose_core.model.dcn.deform_conv2d")


class Torch2TRTUnavailableError(MissingDependencyError):
    """torch2trt (or TensorRT, or a GPU) is missing."""


class Torch2TRTFileError(UserError, ValueError):
    """A .trtm file that is not a TRTModule state dict, or one that would run code when loaded."""


META_PREFIX = "centerpose_"  # our entries in the TRTModule state dict (TRTModule ignores them)


def import_torch2trt() -> ModuleType:
    return import_optional(
        "torch2trt",
        "torch2trt",
        "export ONNX instead (`centerpose export`) and use backend 'tensorrt' (ONNX -> TensorRT engine) "
        "or 'onnxruntime'",
        Torch2TRTUnavailableError,
    )


_registered = False


def plugin_creator(trt: ModuleType, name: str, version: str):
    """The registry's creator of plugin `name`/`version` (None when not registered):
    `get_creator` from TensorRT 10.0 on (11 removed `get_plugin_creator`), `get_plugin_creator` before."""
    registry = trt.get_plugin_registry()
    if parse_version(trt.__version__) >= (10, 0):
        return registry.get_creator(name, version, "")
    return registry.get_plugin_creator(name, version, "")


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
        creator = plugin_creator(trt, PLUGIN_NAME, "1")
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


def _cuda_index(device: str) -> int:
    if not torch.cuda.is_available():
        raise Torch2TRTUnavailableError("torch2trt needs a CUDA GPU; torch.cuda.is_available() is False")
    requested = torch.device(device if str(device).startswith("cuda") else "cuda")
    return requested.index if requested.index is not None else torch.cuda.current_device()


def engine_batch_limit(engine, input_name: str) -> int:
    """The largest batch an engine takes: its static batch, its profile's maximum (dynamic batch),
    or `max_batch_size` of an implicit-batch engine (TensorRT 8, input without a batch axis)."""
    if not hasattr(engine, "get_tensor_shape"):
        return int(getattr(engine, "max_batch_size", 1))
    shape = tuple(engine.get_tensor_shape(input_name))
    if len(shape) == 3:
        return int(getattr(engine, "max_batch_size", 1))
    if shape[0] != -1:
        return int(shape[0])
    return int(tuple(engine.get_tensor_profile_shape(input_name, 0)[2])[0])


def convert(
    model: nn.Module, input_size: int, *, fp16: bool = True, max_batch: int = 1, device: str = "cuda"
) -> nn.Module:
    """The model as a torch2trt TRTModule returning the heads as a tuple (`output_head_names` order),
    built on `device`'s GPU. `module.centerpose_max_batch` is the batch limit the engine has."""
    torch2trt = import_torch2trt()
    index = _cuda_index(device)
    import tensorrt as trt

    trt.init_libnvinfer_plugins(trt.Logger(trt.Logger.WARNING), "")
    register_deform_conv_converter()
    with torch.cuda.device(index):
        wrapper = HeadsAsTuple(model).to(f"cuda:{index}").eval()
        example = torch.zeros(1, 3, input_size, input_size, device=f"cuda:{index}")
        module = torch2trt.torch2trt(wrapper, [example], fp16_mode=fp16, max_batch_size=max_batch)
    module.centerpose_max_batch = engine_batch_limit(module.engine, module.input_names[0])
    module.centerpose_input_size = input_size
    return module


def save(module: nn.Module, path: str | Path) -> Path:
    """TRTModule's state dict plus our entries, written atomically."""
    from centerpose_core.atomic_write import atomic_path

    state = dict(module.state_dict())
    state[META_PREFIX + "max_batch"] = int(getattr(module, "centerpose_max_batch", 1))
    state[META_PREFIX + "input_size"] = int(getattr(module, "centerpose_input_size", 0))
    trt = import_optional("tensorrt", "TensorRT", "", Torch2TRTUnavailableError)
    state[META_PREFIX + "tensorrt_version"] = str(trt.__version__)
    with atomic_path(path) as tmp:
        torch.save(state, str(tmp))
    return Path(path)


def read_trtm(path: str | Path) -> tuple[dict, dict]:
    """(TRTModule state dict, our metadata) of a .trtm file, read without running any of its code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"torch2trt module not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next(
            (ln.strip() for ln in str(exc).splitlines() if "GLOBAL" in ln or "Unsupported" in ln), ""
        )
        raise Torch2TRTFileError(
            f"{path}: refused to load: the file asks to import code or objects "
            f"({detail or type(exc).__name__}); only plain TRTModule state dicts are accepted"
        ) from None
    except Exception as exc:  # torch.load on arbitrary bytes can raise almost anything
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise Torch2TRTFileError(
            f"{path}: not a readable torch2trt module: {type(exc).__name__}: {first_line}"
        ) from None
    if not isinstance(state, Mapping):
        raise Torch2TRTFileError(f"{path}: not a TRTModule state dict (got {type(state).__name__})")
    problems = []
    if not isinstance(state.get("engine"), (bytes, bytearray)) or not state.get("engine"):
        problems.append("no serialized engine")
    for names in ("input_names", "output_names"):
        value = state.get(names)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            problems.append(f"no list of {names}")
    if problems:
        raise Torch2TRTFileError(f"{path}: not a TRTModule state dict ({', '.join(problems)})")
    meta = {k[len(META_PREFIX) :]: v for k, v in state.items() if k.startswith(META_PREFIX)}
    module_state = {k: v for k, v in state.items() if not k.startswith(META_PREFIX)}
    return module_state, meta


def load(path: str | Path, device: str = "cuda") -> nn.Module:
    """A TRTModule from a .trtm file (see `read_trtm`), deserialized on `device`'s GPU."""
    torch2trt = import_torch2trt()
    state, meta = read_trtm(path)
    with torch.cuda.device(_cuda_index(device)):
        module = torch2trt.TRTModule()
        module.load_state_dict(state)
    module.centerpose_max_batch = int(meta.get("max_batch", 1))  # unknown (foreign file): one at a time
    module.centerpose_input_size = int(meta.get("input_size", 0))
    return module


class Torch2TRTBackend:
    """Backend over a converted TRTModule (GPU); outputs stay on the GPU for the shared decode.

    A batch larger than the engine's limit runs in chunks of the limit; a static-batch engine gets
    its last chunk padded (the padding rows are dropped)."""

    name = "torch2trt"

    def __init__(self, module: nn.Module, device: str = "cuda", max_batch: int | None = None) -> None:
        self.device = torch.device(f"cuda:{_cuda_index(device)}")
        self.module = module
        self.max_batch = max(1, int(max_batch or getattr(module, "centerpose_max_batch", 1)))
        self._static = self._static_batch()

    def _static_batch(self) -> bool:
        engine = getattr(self.module, "engine", None)
        names = getattr(self.module, "input_names", None)
        if engine is None or not names or not hasattr(engine, "get_tensor_shape"):
            return False
        shape = tuple(engine.get_tensor_shape(names[0]))
        return len(shape) == 4 and shape[0] != -1

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        inputs = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        parts = []
        with torch.cuda.device(self.device.index):
            for start in range(0, len(inputs), self.max_batch):
                chunk = inputs[start : start + self.max_batch]
                rows = len(chunk)
                if self._static and rows < self.max_batch:
                    pad = chunk.new_zeros((self.max_batch - rows, *chunk.shape[1:]))
                    chunk = torch.cat([chunk, pad])
                outputs = self.module(chunk)
                parts.append([out[:rows].float() for out in outputs])
        names = output_head_names(len(parts[0]) > len(HEAD_NAMES))  # 8 outputs: a mask model
        return {name: torch.cat([part[i] for part in parts]) for i, name in enumerate(names)}


def make_torch2trt_backend(
    model: str | Path | nn.Module,
    *,
    device: str = "cuda",
    input_size: int = 512,
    fp16: bool = True,
    max_batch: int = 1,
) -> Torch2TRTBackend:
    """A saved TRTModule (.trtm) is loaded; a checkpoint or module is converted (batch limit
    `max_batch`, on the GPU of `device`)."""
    import_torch2trt()
    fmt = model_format(model)
    if fmt == TORCH2TRT_MODULE:
        module = load(model, device)
        size = module.centerpose_input_size
        if size and size != input_size:
            raise Torch2TRTFileError(f"{model}: converted for input {size}, but {input_size} was requested")
        return Torch2TRTBackend(module, device)
    if fmt == CHECKPOINT:
        from centerpose_core.model.checkpoint import load_model

        model = load_model(model, map_location="cpu")
    return Torch2TRTBackend(convert(model, input_size, fp16=fp16, max_batch=max_batch, device=device), device)
