"""ONNX Runtime backend: the exported graph (native DeformConv or decomposed) on CPU, CUDA or TensorRT EP.

The file is checked before a session is made (`export.onnx_checks`); outputs come back as torch
tensors for the shared decode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from centerpose_core.export.onnx_checks import check_onnx_takes, uses_deform_conv
from centerpose_core.input_shape import InputShape
from centerpose_core.runtime.onnx_batches import onnx_file_for, run_heads_checked

TENSORRT_PROVIDER = "TensorrtExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class OnnxRuntimeBackend:
    """An `onnxruntime.InferenceSession` over an exported centerpose file.

    Args:
        path: the .onnx file.
        device: 'cpu' (CPU provider) or 'cuda[:i]' (CUDA provider when the installed onnxruntime
            has it; decode then runs on that GPU too).
        input_size: the Predictor's input (a square side, or an `InputShape` for a rectangle or a
            fitted input, which needs a file exported with dynamic height and width); checked
            against the file.
        num_threads: intra-op threads (None: onnxruntime's default, one per core).
        providers: explicit provider list, e.g. ['TensorrtExecutionProvider', 'CUDAExecutionProvider'];
            names get their options from `provider_options` (a (name, options) tuple is kept as is).
        optimization: 'all' (default), 'extended', 'basic' or 'disable'.
        tensorrt_fp16: FP16 engines in the TensorRT provider (its default is FP32).
    """

    name = "onnxruntime"

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        input_size: int | InputShape | None = None,
        num_threads: int | None = None,
        providers: list[str] | None = None,
        optimization: str = "all",
        tensorrt_fp16: bool = True,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        self.input = check_onnx_takes(self.path, input_size)
        _require_deform_conv_support(self.path, ort.__version__)
        levels = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }
        if optimization not in levels:
            raise ValueError(f"optimization must be one of {', '.join(levels)}, got {optimization!r}")
        options = ort.SessionOptions()
        options.graph_optimization_level = levels[optimization]
        if num_threads is not None:
            if num_threads < 0:
                raise ValueError(f"num_threads must be >= 0, got {num_threads}")
            options.intra_op_num_threads = int(num_threads)
        self.providers = providers or _default_providers(device, ort.get_available_providers())
        self.session = ort.InferenceSession(
            str(self.path),
            sess_options=options,
            providers=provider_options(self.providers, device, tensorrt_fp16=tensorrt_fp16),
        )
        active = self.session.get_providers()
        self.device = torch.device(
            device if device.startswith("cuda") and CUDA_PROVIDER in active else "cpu"
        )
        self.input_name = self.session.get_inputs()[0].name
        self.has_masks = self.input.masks

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        names = self.input.head_names

        def run(images: np.ndarray) -> list[np.ndarray]:
            return self.session.run(list(names), {self.input_name: images})

        outputs = run_heads_checked(self.path, self.input, batch, run)
        return {name: torch.from_numpy(out).to(self.device) for name, out in zip(names, outputs)}


MIN_ORT_FOR_DEFORM_CONV = (1, 25)


def _require_deform_conv_support(path: Path, ort_version: str) -> None:
    """ONNX DeformConv (opset 19) runs in onnxruntime >= 1.25 only: say so instead of a kernel error."""
    version = tuple(int(part) for part in ort_version.split(".")[:2] if part.isdigit())
    if version < MIN_ORT_FOR_DEFORM_CONV and uses_deform_conv(path):
        raise ValueError(
            f"{path} uses ONNX DeformConv, which needs onnxruntime >= 1.25 (found {ort_version}); "
            "upgrade onnxruntime or export with --dcn decomposed"
        )


def _default_providers(device: str, available: list[str]) -> list[str]:
    if device.startswith("cuda"):
        if CUDA_PROVIDER not in available:
            raise ValueError(
                f"device {device!r} needs onnxruntime's CUDAExecutionProvider; this onnxruntime has "
                f"{', '.join(available)} (install onnxruntime-gpu)"
            )
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def provider_options(
    providers: list, device: str, *, tensorrt_fp16: bool = True, cache_root: str | Path | None = None
) -> list:
    """Providers with their options (names as in ONNX Runtime's "TensorRT Execution Provider" and
    "CUDA Execution Provider" pages): the GPU of `device` as `device_id` for both (cuda:1 -> 1),
    and for TensorRT FP16 plus engine and timing caches under our cache root
    (`<cache root>/ort-tensorrt`), so a restart reuses the engine instead of building it again.
    A (name, options) tuple is passed through unchanged."""
    index = (torch.device(device).index or 0) if str(device).startswith("cuda") else 0
    if cache_root is None:
        from centerpose_core.export.cache import default_cache_dir

        cache_root = default_cache_dir()
    engines = Path(cache_root) / "ort-tensorrt"
    result: list = []
    for provider in providers:
        if not isinstance(provider, str):
            result.append(provider)
        elif provider == TENSORRT_PROVIDER:
            engines.mkdir(parents=True, exist_ok=True)
            options = {
                "device_id": index,
                "trt_fp16_enable": bool(tensorrt_fp16),
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(engines),
                "trt_timing_cache_enable": True,
                "trt_timing_cache_path": str(engines),
            }
            result.append((provider, options))
        elif provider == CUDA_PROVIDER:
            result.append((provider, {"device_id": index}))
        else:
            result.append(provider)
    return result


def make_onnxruntime_backend(
    model: str | Path | nn.Module,
    *,
    device: str = "cpu",
    input_size: int | InputShape = 512,
    dcn: str = "native",
    cache_dir: str | Path | None = None,
    num_threads: int | None = None,
    providers: list[str] | None = None,
    optimization: str = "all",
    tensorrt_fp16: bool = True,
) -> OnnxRuntimeBackend:
    """An ONNX file runs as is; a checkpoint or an nn.Module is exported (cached) on first use.

    `dcn` and `cache_dir` choose the export (`export.cache.cached_onnx`; dynamic height and width
    when the input is not a fixed square); the other options are `OnnxRuntimeBackend`'s.
    """
    model = onnx_file_for(model, input_size, dcn, cache_dir)
    return OnnxRuntimeBackend(
        model,
        device=device,
        input_size=input_size,
        num_threads=num_threads,
        providers=providers,
        optimization=optimization,
        tensorrt_fp16=tensorrt_fp16,
    )
