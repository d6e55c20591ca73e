"""Inference backends: each turns a normalised NCHW float32 batch into the six raw head maps.

A backend returns logits exactly as the network's forward does (no sigmoid) as torch tensors
on `backend.device`; decoding happens outside, in one implementation shared by all backends.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from centerpose_core.constants import HEAD_NAMES, MASK_HEAD_NAMES
from centerpose_core.devices import resolve_device
from centerpose_core.input_shape import InputShape
from centerpose_core.model_formats import (
    AUTO,
    BACKENDS,
    CHECKPOINT,
    backend_spec,
    check_backend_accepts,
    model_format,
)
from centerpose_core.runtime.precision import (
    AUTO_PRECISION,
    PRECISIONS,
    Choice,
    PrecisionError,
    choose,
    inspect_model_file,
    probe_machine,
)


class Backend(Protocol):
    name: str
    device: torch.device
    precision: str  # the arithmetic actually running (fp32, bf16, fp16, int8); set by make_backend

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) float32 -> {head: (B, C, H/4, W/4) logits} on `self.device` (the six
        heads, plus `seg_feat` and `seg` when the model has masks)."""
        ...


class TorchBackend:
    """Eager PyTorch; the reference every other backend is checked against."""

    name = "torch"

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.has_masks = bool(getattr(model, "has_masks", False))

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        inputs = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device, non_blocking=True)
        outputs = self.model(inputs)
        return {name: outputs[name] for name in head_names(outputs)}


def head_names(outputs) -> tuple[str, ...]:
    """The heads a backend returns, in order: the six, then the mask heads when all are there."""
    masks = all(name in outputs for name in MASK_HEAD_NAMES)
    return HEAD_NAMES + (MASK_HEAD_NAMES if masks else ())


def make_torch_backend(
    model: str | Path | nn.Module, *, device: str = "cpu", input_size: int | InputShape = 512
) -> TorchBackend:
    """A module runs as it is; a checkpoint is loaded (strictly, weights only)."""
    if model_format(model) == CHECKPOINT:
        from centerpose_core.model.checkpoint import load_model

        model = load_model(model, map_location="cpu")
    return TorchBackend(model, device)


def make_backend(
    model: str | Path | nn.Module,
    backend: str = "torch",
    device: str = "cpu",
    input_size: int | InputShape = 512,
    precision: str = AUTO_PRECISION,
    **options,
) -> Backend:
    """Build the named backend (`model_formats.BACKEND_NAMES`) for a model: an nn.Module, a
    checkpoint, an ONNX file or an engine, as that backend accepts (`model_formats.BACKENDS`),
    in the asked precision (`runtime.precision.PRECISIONS`; `auto`: the rule in `runtime.precision`).
    The returned backend's `precision` says what runs.

    `input_size`: a square side, or an `InputShape` (rectangle, fitted input) for the backends
    that run any input shape."""
    if backend != AUTO:
        backend_spec(backend)  # an unknown name fails first, naming the choices
        check_backend_accepts(backend, model)
    choice = choose_configuration(model, backend, precision, device)
    backend = choice.backend
    spec = backend_spec(backend)
    check_backend_accepts(backend, model)
    if not isinstance(input_size, int) and not spec.any_shape:
        able = ", ".join(s.name for s in BACKENDS if s.any_shape)
        raise ValueError(
            f"backend {backend!r} runs a fixed square input only, not {input_size.describe()}; "
            f"camera-shaped input runs on {able}"
        )
    module_name, function_name = spec.factory.split(":")
    factory = getattr(importlib.import_module(module_name), function_name)
    check_options(backend, factory, options)
    takes = backend_options(factory)
    if "precision" in takes:
        options["precision"] = choice.precision
    elif "fp16" in takes:  # torch2trt
        options.setdefault("fp16", choice.precision == "fp16")
    built = factory(model, device=resolve_device(device), input_size=input_size, **options)
    built.precision = choice.precision
    return built


def choose_configuration(model: str | Path | nn.Module, backend: str, precision: str, device: str) -> Choice:
    """The backend and precision `runtime.precision.choose` picks for this model on this machine."""
    if backend == "torch" and precision in (AUTO_PRECISION, "fp32"):
        return Choice("torch", "fp32", "asked")  # nothing to probe
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return choose(backend, precision, probe_machine(resolve_device(device)), inspect_model_file(model))


def backend_options(factory: Callable) -> tuple[str, ...]:
    """The options a backend factory takes: its keyword-only parameters besides device and input_size."""
    parameters = inspect.signature(factory).parameters.values()
    return tuple(
        p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name not in ("device", "input_size")
    )


def check_options(backend: str, factory: Callable, options: dict) -> None:
    """TypeError naming every unknown option and the backend's valid ones (a typo never passes)."""
    valid = backend_options(factory)
    unknown = [name for name in options if name not in valid]
    if unknown:
        takes = f"its options are {', '.join(valid)}" if valid else "it takes no options"
        raise TypeError(f"backend {backend!r} has no option {', '.join(map(repr, unknown))}; {takes}")


def resolve_auto_backend(model: str | Path | nn.Module, device: str = "cpu") -> str:
    """'auto': the backend of the auto rule's choice (`runtime.precision.AUTO_RULES`)."""
    return choose_configuration(model, AUTO, AUTO_PRECISION, device).backend
