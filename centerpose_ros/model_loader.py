"""Load, warm up and release the node's Predictor: the model's whole life in the node.

Both node flavours use it: the plain node loads at start-up, the lifecycle node in `configure`
and releases in `cleanup`. Errors come back as one ModelLoadError line naming model_path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from pathlib import Path

import numpy as np

from centerpose_core.devices import resolve_device
from centerpose_core.runtime import Predictor
from centerpose_ros.params import NodeParameters

WARMUP_IMAGE = np.zeros((64, 64, 3), np.uint8)


class ModelLoadError(RuntimeError):
    """The model file named by model_path cannot be used (missing, corrupt, wrong backend)."""


def load_predictor(params: NodeParameters) -> tuple[Predictor, str]:
    """Build and warm up the Predictor named by the parameters; returns it and
    "backend/precision/device" as it runs (e.g. "openvino/bf16/cpu": what `auto` chose)."""
    path = Path(params.model_path).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"model_path '{params.model_path}': file not found")
    device = resolve_device(params.device)
    backend = params.backend
    options = dict(
        device=device, input_size=params.input_size, fit_aspect=params.fit_aspect, flip_test=params.flip_test
    )
    try:
        predictor = Predictor(str(path), backend=backend, precision=params.precision, **options)
        predictor.predict(WARMUP_IMAGE)  # fail here, not on the first frame
    except (ValueError, OSError, RuntimeError, NotImplementedError, ImportError) as exc:
        raise ModelLoadError(
            f"model_path '{params.model_path}' (backend {backend}, precision {params.precision}): {exc}"
        ) from None
    return predictor, f"{predictor.backend.name}/{predictor.precision}/{device}"


def preload_inference_code() -> None:
    """Import the model code (and torchvision, ~170 MB resident) now rather than at the first load.

    The lifecycle node calls this at start-up, so `configure` / `cleanup` move only the model's
    own memory and the unconfigured process already has the size it returns to after `cleanup`
    (imported libraries cannot be unloaded).
    """
    import centerpose_core.model  # noqa: F401


def release_memory() -> None:
    """Give the memory of a dropped Predictor back: CUDA cache, then the C heap's free pages.

    Call after the last reference to the Predictor is gone. Without the two explicit steps the
    process keeps its peak footprint: torch's CUDA caching allocator holds freed blocks, and
    glibc keeps freed heap pages mapped (RSS stays high until `malloc_trim`).
    """
    gc.collect()
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        libc = ctypes.CDLL(libc_name)
        if hasattr(libc, "malloc_trim"):  # glibc only
            libc.malloc_trim(0)
