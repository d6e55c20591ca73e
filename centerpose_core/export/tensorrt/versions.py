"""Which TensorRT releases we build for, and what each one's API can do (pure Python, no TensorRT import).

Releases (NVIDIA's release notes and migration guides):
  * 8.5 / 8.6 (JetPack 5.x, JetPack 6.0): weakly typed networks, precision flags, INT8 calibrators; the
    ONNX parser has no DeformConv, so a checkpoint is exported with the decomposed DCN.
  * 10.0: explicit batch only (EXPLICIT_BATCH is ignored); still no DeformConv in the parser.
  * 10.1 - 10.x (JetPack 6.1+, x86): DeformConv parses into the ModulatedDeformConv2d plugin.
    Implicit quantization (calibrators) is deprecated from 10.1 but still works.
  * 11.x (x86 `pip install tensorrt`; JetPack stays on 10.x): "Migrating from TensorRT 10.x to 11.x"
    (docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/tensorrt-10x-to-11x-python-api-reference)
    removes BuilderFlag.FP16/INT8/BF16/FP8, OBEY/PREFER_PRECISION_CONSTRAINTS,
    IBuilderConfig.int8_calibrator and set_calibration_profile: every network is strongly typed, FP16
    comes from an FP16 ONNX and INT8 from Q/DQ nodes (explicit quantization).

The build decides by what the installed module offers (`weak_typing`), not by its number alone, so a
10.x build without the flags is handled like 11.
"""

from __future__ import annotations

import re
from types import ModuleType

from centerpose_core.errors import MissingDependencyError

MIN_SUPPORTED = (8, 5)
MAX_TESTED_MAJOR = 11
NATIVE_DCN_FROM = (10, 1)  # first parser release with ONNX DeformConv
SUPPORTED_TEXT = (
    "TensorRT 8.5/8.6 (JetPack 5.x, 6.0), 10.x (JetPack 6.1+, x86) and 11.x (x86; strongly typed builds)"
)


class UnsupportedTensorRTError(MissingDependencyError):
    """The installed TensorRT release is outside the supported range, or lacks an API we need."""


def parse_version(version: str) -> tuple[int, int]:
    """'10.3.0.26' -> (10, 3); ValueError naming the string when it has no major.minor."""
    match = re.match(r"\s*(\d+)\.(\d+)", str(version))
    if not match:
        raise ValueError(f"cannot read a TensorRT version from {version!r}")
    return int(match.group(1)), int(match.group(2))


def check_supported(version: str) -> tuple[int, int]:
    """The parsed version, or one clear line naming the versions that work."""
    parsed = parse_version(version)
    if parsed < MIN_SUPPORTED or parsed[0] > MAX_TESTED_MAJOR:
        raise UnsupportedTensorRTError(
            f"TensorRT {version} is not supported; supported: {SUPPORTED_TEXT}. "
            "Use backend 'onnxruntime' with the exported ONNX file meanwhile"
        )
    return parsed


def weak_typing(trt: ModuleType) -> bool:
    """Whether this TensorRT still has precision flags (BuilderFlag.FP16): 8.x and 10.x; not 11."""
    return hasattr(trt.BuilderFlag, "FP16")


def has_int8_calibrator(trt: ModuleType) -> bool:
    """Implicit quantization (an IInt8 calibrator on the builder config): gone in TensorRT 11."""
    return weak_typing(trt) and hasattr(trt, "IInt8EntropyCalibrator2") and hasattr(trt.BuilderFlag, "INT8")


def native_dcn_parses(version: str) -> bool:
    """Whether this release's ONNX parser reads DeformConv (>= 10.1)."""
    return parse_version(version) >= NATIVE_DCN_FROM


def dcn_form_for(version: str) -> str:
    """The export form of the deformable convolutions that this TensorRT parses."""
    return "native" if native_dcn_parses(version) else "decomposed"
