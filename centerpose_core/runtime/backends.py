"""Inference backends: each turns a normalised NCHW float32 batch into the six raw head maps.

A backend returns logits exactly as the network's forward does (no sigmoid) as torch tensors
on `backend.device`; decoding happens outside, in one implementation shared by all backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from centerpose_core.constants import HEAD_NAMES

BACKEND_NAMES = ("torch", "onnxruntime", "tensorrt", "torch2trt", "auto")


class Backend(Protocol):
    name: str
    device: torch.device

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        """(B, 3, S, S) float32 -> {head: (B, C, S/4, S/4) logits} on `self.device`."""
        ...


class TorchBackend:
    """Eager PyTorch; the reference every other backend is checked against."""

    name = "torch"

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        inputs = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
        outputs = self.model(inputs)
        return {name: outputs[name] for name in HEAD_NAMES}


def make_backend(
    model: str | Path | nn.Module,
    backend: str = "torch",
    device: str = "cpu",
    input_size: int = 512,
    **options,
) -> Backend:
    """Build the named backend for a model (an nn.Module, a checkpoint, an ONNX file or an engine)."""
    if backend not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if backend == "auto":
        backend = resolve_auto_backend(model)
    if backend == "torch":
        if isinstance(model, nn.Module):
            return TorchBackend(model, device)
        if Path(model).suffix.lower() in (".onnx", ".engine", ".plan", ".trt"):
            raise ValueError(f"{model} is an exported model: use backend 'onnxruntime' or 'tensorrt'")
        from centerpose_core.model.checkpoint import load_model

        return TorchBackend(load_model(model, map_location="cpu"), device)
    if backend == "onnxruntime":
        from centerpose_core.runtime.onnxruntime_backend import make_onnxruntime_backend

        return make_onnxruntime_backend(model, device=device, input_size=input_size, **options)
    if backend == "torch2trt":
        from centerpose_core.runtime.torch2trt_backend import make_torch2trt_backend

        return make_torch2trt_backend(model, device=device, input_size=input_size, **options)
    from centerpose_core.runtime.tensorrt_backend import make_tensorrt_backend

    return make_tensorrt_backend(model, device=device, input_size=input_size, **options)


def resolve_auto_backend(model: str | Path | nn.Module) -> str:
    """'auto': tensorrt when importable with a GPU, else onnxruntime when importable, else torch."""
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available():
        return "tensorrt"
    if isinstance(model, (str, Path)) and Path(model).suffix.lower() in (".engine", ".plan", ".trt"):
        return "tensorrt"  # fails there with a clear message about TensorRT / the GPU
    if importlib.util.find_spec("onnxruntime") is not None:
        return "onnxruntime"
    return "torch"
