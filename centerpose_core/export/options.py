"""What an export or an engine build can be asked for, validated before any work starts.

Pure Python (no torch, onnx or TensorRT import), so the CLI builds its choices from here for free.
"""

from __future__ import annotations

from dataclasses import dataclass

from centerpose_core.input_shape import InputShape

DCN_FORMS = ("native", "decomposed")
BATCH_MODES = ("1", "dynamic")
HW_MODES = ("fixed", "dynamic")  # input height/width: the export size, or any multiple of 32
NATIVE_OPSET = 19  # ONNX DeformConv exists from opset 19
DECOMPOSED_OPSET = 17  # the highest opset TensorRT 8.5 / 8.6 parse
OPSET_RANGE = (17, 21)

PRECISIONS = ("fp16", "fp32", "int8")
QUANTIZE_MODES = ("int8",)  # ONNX Runtime static quantization for CPU runtimes (export.quantize)
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
DEFAULT_CALIBRATION_IMAGES = 32
DEFAULT_WORKSPACE_GIB = 2.0
DYNAMIC_MAX_BATCH = 8  # engine optimisation profile of a dynamic-batch export


@dataclass(frozen=True)
class ExportOptions:
    """How to export: input side, DCN form, batch dimension, input height/width, opset, external
    weight file. With hw "dynamic" the file takes any height and width that are multiples of 32
    (camera-shaped input); `size` is then the square it is traced and checked at."""

    size: int = 512
    dcn: str = "native"
    batch: str = "1"
    opset: int | None = None
    external_data: bool = False
    hw: str = "fixed"

    def __post_init__(self) -> None:
        if self.size <= 0 or self.size % 32:
            raise ValueError(f"export size must be a positive multiple of 32, got {self.size}")
        if self.dcn not in DCN_FORMS:
            raise ValueError(f"--dcn must be one of {', '.join(DCN_FORMS)}, got {self.dcn!r}")
        if str(self.batch) not in BATCH_MODES:
            raise ValueError(f"--batch must be one of {', '.join(BATCH_MODES)}, got {self.batch!r}")
        if self.hw not in HW_MODES:
            raise ValueError(f"--hw must be one of {', '.join(HW_MODES)}, got {self.hw!r}")
        if self.dcn == "native" and self.opset is not None and self.opset < NATIVE_OPSET:
            raise ValueError(
                f"native DeformConv needs opset >= {NATIVE_OPSET} (got {self.opset}); "
                "use --dcn decomposed for older opsets"
            )
        low, high = OPSET_RANGE
        if self.opset is not None and not low <= self.opset <= high:
            raise ValueError(f"opset must be within {low}..{high}, got {self.opset}")

    @property
    def resolved_opset(self) -> int:
        if self.opset is not None:
            return self.opset
        return NATIVE_OPSET if self.dcn == "native" else DECOMPOSED_OPSET


@dataclass(frozen=True)
class BuildOptions:
    """How to build a TensorRT engine from an ONNX file."""

    precision: str = "fp16"
    workspace_gib: float = DEFAULT_WORKSPACE_GIB
    max_batch: int = 1
    calibration_folder: str | None = None
    calibration_cache: str | None = None
    calibration_batch: int = 8

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "int8" and not (self.calibration_folder or self.calibration_cache):
            raise ValueError("int8 needs a calibration image folder (or an existing calibration cache file)")
        if self.workspace_gib <= 0:
            raise ValueError(f"workspace must be positive, got {self.workspace_gib} GiB")
        if self.max_batch < 1:
            raise ValueError(f"max batch must be >= 1, got {self.max_batch}")


def export_options_for(input_size: int | InputShape, dcn: str = "native") -> ExportOptions:
    """The export a runtime needs for a Predictor's input (dynamic batch for flip tests and batches):
    a fixed square for a square side, dynamic height and width for a rectangle or a fitted input."""
    if isinstance(input_size, int):
        return ExportOptions(size=input_size, dcn=dcn, batch="dynamic")
    return ExportOptions(size=input_size.long_side, dcn=dcn, batch="dynamic", hw="dynamic")


@dataclass(frozen=True)
class QuantizeOptions:
    """How to quantize: calibration folder, how many of its images, the range estimator, input size.

    calibration_size: square side the calibration images are warped to (default: the file's
    input, or the size a dynamic-shape file was exported at).
    symmetric: activations as signed int8 with zero point 0 on convolution inputs only (the only
        Q/DQ form TensorRT takes, in its placement; the default: one file that ONNX Runtime,
        OpenVINO and TensorRT all run within the accuracy targets). False: uint8 with a fitted
        zero point on every quantized op, a file only the CPU runtimes take, measured 1.1-1.2x faster
        on OpenVINO and 1.5-1.7x on ONNX Runtime at 512x512 (README, "INT8 accuracy").
    """

    calibration_folder: str
    max_images: int = DEFAULT_CALIBRATION_IMAGES
    # percentile 99.999 kept AP (-0.0 points, 0.07 px from fp32) on 605 held-out persons where
    # minmax lost 0.5 and entropy 11.9 (README, "INT8 accuracy"); it also clips the rare outlier
    # activations that made minmax lose 34 points on the phase-1 reference model.
    method: str = "percentile"
    calibration_size: int | None = None
    symmetric: bool = True
    percentile: float = 99.999  # method "percentile": the share of each activation's values kept

    def __post_init__(self) -> None:
        if self.max_images <= 0:
            raise ValueError(f"calibration image count must be positive, got {self.max_images}")
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(
                f"calibration method must be one of {', '.join(CALIBRATION_METHODS)}, got {self.method!r}"
            )
        if not 50.0 < self.percentile <= 100.0:
            raise ValueError(f"calibration percentile must be within (50, 100], got {self.percentile}")
        if self.calibration_size is not None and (self.calibration_size <= 0 or self.calibration_size % 32):
            raise ValueError(
                f"calibration size must be a positive multiple of 32, got {self.calibration_size}"
            )
