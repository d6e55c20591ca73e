"""Inference runtime: the Predictor (pre-process from `affine`, a backend, the shared decode,
post-process) and the backends listed in `model_formats`."""

from centerpose_core.runtime.predictor import Predictor

__all__ = ["Predictor"]
