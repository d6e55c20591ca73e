"""Inference runtime: pre-process, backends, shared decode, post-process."""

from centerpose_core.runtime.predictor import Predictor

__all__ = ["Predictor"]
