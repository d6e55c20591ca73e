"""Session fixtures for the export tests: one seeded checkpoint, each ONNX form exported once.

Exports take tens of seconds on two cores, so every form is exported once per session at a
small input size (128) and shared by all tests.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from seeded_nets import center_square, seeded_pose_net

from centerpose_core.export.cache import cached_onnx
from centerpose_core.export.options import ExportOptions
from centerpose_core.model.checkpoint import save_checkpoint

SIZE = 128


@pytest.fixture(scope="session")
def pose_model() -> torch.nn.Module:
    return seeded_pose_net()


@pytest.fixture(scope="session")
def checkpoint(pose_model, tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "seeded.pth", pose_model, epoch=1)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx_cache")


@pytest.fixture(scope="session")
def native_onnx(checkpoint, onnx_cache) -> Path:
    """Native DeformConv, dynamic batch, exported through the first-use cache (as a .pth Predictor does)."""
    return cached_onnx(checkpoint, ExportOptions(size=SIZE, dcn="native", batch="dynamic"), onnx_cache)


@pytest.fixture(scope="session")
def decomposed_onnx(checkpoint, onnx_cache) -> Path:
    return cached_onnx(checkpoint, ExportOptions(size=SIZE, dcn="decomposed", batch="dynamic"), onnx_cache)


@pytest.fixture(scope="session")
def real_images(shared_data) -> list[np.ndarray]:
    paths = sorted((shared_data / "coco_mini" / "images").glob("*.jpg"))
    paths += sorted((shared_data / "ochuman_mini" / "images").glob("*.jpg"))[:1]
    return [center_square(cv2.imread(str(p))) for p in paths]


@pytest.fixture(scope="session")
def native_dynamic_onnx(checkpoint, onnx_cache) -> Path:
    """Native DeformConv with dynamic batch, height and width (camera-shaped input)."""
    options = ExportOptions(size=SIZE, dcn="native", batch="dynamic", hw="dynamic")
    return cached_onnx(checkpoint, options, onnx_cache)


@pytest.fixture(scope="session")
def decomposed_dynamic_onnx(checkpoint, onnx_cache) -> Path:
    options = ExportOptions(size=SIZE, dcn="decomposed", batch="dynamic", hw="dynamic")
    return cached_onnx(checkpoint, options, onnx_cache)


@pytest.fixture(scope="session")
def frame(shared_data) -> np.ndarray:
    """A real 640x480 (4:3) camera frame."""
    return cv2.imread(str(shared_data / "media" / "basketball1.png"))
