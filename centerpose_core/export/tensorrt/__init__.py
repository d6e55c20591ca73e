"""TensorRT engines from our ONNX files: the one subsystem the runtime's TensorRT backend, the export
command and the GPU check use. Import what you need from this package; the modules inside are its
own business (tests may reach into them):

build       engine build (FP16 / FP32 / INT8 calibrated or Q/DQ) and the per-device engine cache
cache       engine cache keys and the engine-file header (pure Python)
versions    which TensorRT release does what (support range, weak typing, calibrators, native DCN)
compat      static report: which TensorRT releases parse a given ONNX file
calibrator  INT8 calibration batches from an image folder + the entropy calibrator
fp16        FP16 ONNX copies for strongly typed (TensorRT 11) builds
qdq         is an ONNX file explicitly quantized, and can TensorRT build it

Names resolve on first use (PEP 562): importing the package costs nothing, so reading an engine
needs neither `tensorrt` nor `onnx` until a build or an ONNX check really runs, and
`export.onnx_export` can use `compat` while `build` uses `onnx_export` without an import cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "build": (
        "TensorRTBuildError",
        "TensorRTUnavailableError",
        "build_engine_bytes",
        "build_or_load_engine",
        "device_index",
        "engine_key",
        "gpu_identity",
        "import_tensorrt",
        "require_cuda",
    ),
    "cache": ("EngineKey", "StaleEngineError", "check_engine_key", "read_engine", "write_engine"),
    "versions": ("UnsupportedTensorRTError", "dcn_form_for", "has_int8_calibrator", "parse_version"),
    "compat": ("CompatReport", "check_tensorrt_compat"),
    "calibrator": ("list_calibration_images",),
    "qdq": ("is_qdq", "qdq_problems"),
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
