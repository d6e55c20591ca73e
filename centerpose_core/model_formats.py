"""Model files and inference backends, named in one place.

A model reaches a backend as an in-memory `nn.Module` or as a file whose suffix says its format.
Each backend runs some formats as they are and builds the rest itself on first use (a checkpoint
or a module is exported to ONNX, an ONNX file is built into a TensorRT engine). Everything that
picks a backend, checks a suffix or lists backend names (the runtime, the CLI, the ROS node's
parameters) reads it from here. Pure Python: importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODULE = "module"  # an in-memory nn.Module (a PoseNet)
CHECKPOINT = "checkpoint"  # CenterNet-format weights (.pth; any suffix not listed below)
ONNX = "onnx"
TENSORRT_ENGINE = "tensorrt engine"
TORCH2TRT_MODULE = "torch2trt module"

ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")  # the first is the one written
TORCH2TRT_SUFFIXES = (".trtm",)
_FORMAT_SUFFIXES = {
    ONNX: ONNX_SUFFIXES,
    TENSORRT_ENGINE: ENGINE_SUFFIXES,
    TORCH2TRT_MODULE: TORCH2TRT_SUFFIXES,
}


@dataclass(frozen=True)
class BackendSpec:
    """An inference backend: the model formats it runs as they are, those it converts first, and
    where its factory lives.

    `factory` ("module:function") is imported only when the backend is built, so listing backends
    never imports onnxruntime, TensorRT or torch. The factory takes (model, *, device, input_size)
    plus the backend's own keyword-only options; `input_size` is a square side, or, for a backend
    with `any_shape`, an `input_shape.InputShape` (a rectangle or an input fitted to each image).
    """

    name: str
    runs: tuple[str, ...]
    converts: tuple[str, ...]
    factory: str
    any_shape: bool = False

    @property
    def formats(self) -> tuple[str, ...]:
        return self.runs + self.converts


BACKENDS: tuple[BackendSpec, ...] = (
    BackendSpec(
        "tensorrt",
        (TENSORRT_ENGINE,),
        (ONNX, MODULE, CHECKPOINT),
        "centerpose_core.runtime.tensorrt_backend:make_tensorrt_backend",
    ),
    BackendSpec(
        "onnxruntime",
        (ONNX,),
        (MODULE, CHECKPOINT),
        "centerpose_core.runtime.onnxruntime_backend:make_onnxruntime_backend",
        any_shape=True,
    ),
    BackendSpec(
        "torch",
        (MODULE, CHECKPOINT),
        (),
        "centerpose_core.runtime.backends:make_torch_backend",
        any_shape=True,
    ),
    BackendSpec(
        "torch2trt",
        (TORCH2TRT_MODULE,),
        (MODULE, CHECKPOINT),
        "centerpose_core.runtime.torch2trt_backend:make_torch2trt_backend",
    ),
    BackendSpec(
        "openvino",
        (ONNX,),
        (MODULE, CHECKPOINT),
        "centerpose_core.runtime.openvino_backend:make_openvino_backend",
        any_shape=True,
    ),
)
AUTO = "auto"  # chosen at load time from what is installed (runtime.backends.resolve_auto_backend)
BACKEND_NAMES: tuple[str, ...] = (AUTO, *(spec.name for spec in BACKENDS))
# precisions a Predictor can be asked for (runtime/precision.py decides what "auto" means); here,
# not there, so that argument parsers list them without importing the runtime (and torch)
AUTO_PRECISION = "auto"
PRECISIONS: tuple[str, ...] = (AUTO_PRECISION, "fp32", "bf16", "fp16", "int8")


def model_format(model: object) -> str:
    """The format of a model: MODULE for anything that is not a path, else by file suffix."""
    if not isinstance(model, (str, Path)):
        return MODULE
    suffix = Path(model).suffix.lower()
    return next((fmt for fmt, suffixes in _FORMAT_SUFFIXES.items() if suffix in suffixes), CHECKPOINT)


def backend_spec(name: str) -> BackendSpec:
    """The named backend ('auto' is resolved by the runtime first); ValueError naming the choices."""
    for spec in BACKENDS:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


def native_backend(fmt: str) -> str:
    """The backend that runs this format as it is (torch for a checkpoint or a module)."""
    return next(spec.name for spec in BACKENDS if fmt in spec.runs)


def check_backend_accepts(backend: str, model: object) -> None:
    """ValueError naming the file and the backends that can run it, when `backend` cannot."""
    fmt = model_format(model)
    if fmt not in backend_spec(backend).formats:
        able = " or ".join(repr(spec.name) for spec in BACKENDS if fmt in spec.formats)
        raise ValueError(f"{model} ({fmt}) cannot be run by backend {backend!r}; use backend {able}")
