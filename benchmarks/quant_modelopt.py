"""NVIDIA ModelOpt ONNX post-training quantization of an exported centerpose file (issue 20, item 3).

ModelOpt (`nvidia-modelopt`, the ONNX PTQ NVIDIA recommends for TensorRT 10/11) writes Q/DQ files
in TensorRT's form (signed int8, zero point 0). Benchmark-only: it is loaded from a separate folder
(`pip install --target /work/peerlibs/modelopt --no-deps nvidia-modelopt ...`, see README) and
calibrated here on the CPU (ONNX Runtime's CPU execution provider), with everything not quantized
kept fp32 (`high_precision_dtype="fp32"`; ModelOpt's default converts it to fp16) and the same
nodes kept fp32 as the centerpose export (`export.quantize.fp32_nodes`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

MODELOPT_DIR = Path("/work/peerlibs/modelopt")


def import_modelopt_quantize():
    """`modelopt.onnx.quantization.quantize`, from MODELOPT_DIR when it is not installed here."""
    if MODELOPT_DIR.is_dir() and str(MODELOPT_DIR) not in sys.path:
        sys.path.append(str(MODELOPT_DIR))  # after the venv: ModelOpt's pins never shadow ours
    from modelopt.onnx.quantization import quantize

    return quantize


def modelopt_quantize(
    fp32: Path, out: Path, batches: list[np.ndarray], nodes_to_exclude: list[str], method: str = "max"
) -> Path:
    """INT8 Q/DQ copy of `fp32` at `out`, calibrated by `method` ("max" or "entropy") on `batches`."""
    import onnx

    quantize = import_modelopt_quantize()
    name = onnx.load(str(fp32), load_external_data=False).graph.input[0].name
    quantize(
        str(fp32),
        quantize_mode="int8",
        calibration_data={name: np.concatenate(batches)},
        calibration_method=method,
        calibration_eps=["cpu"],
        nodes_to_exclude=nodes_to_exclude,
        high_precision_dtype="fp32",
        output_path=str(out),
    )
    return out
