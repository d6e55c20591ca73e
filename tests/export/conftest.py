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

from centerpose_core.export.cache import cached_onnx
from centerpose_core.export.onnx_export import ExportOptions
from centerpose_core.model import build_pose_net
from centerpose_core.model.checkpoint import save_checkpoint
from centerpose_core.runtime.preprocess import preprocess

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

SIZE = 128


# (target std, bias) of each head's logits: heatmaps with distinct peaks, boxes of some pixels.
HEAD_SPREAD = {
    "hm": (1.5, -2.0),
    "wh": (1.5, 5.0),
    "hps": (2.0, 0.0),
    "reg": (0.3, 0.5),
    "hm_hp": (1.5, -2.0),
    "hp_offset": (0.3, 0.5),
}


def synthetic_scenes(count: int, size: int, seed: int) -> np.ndarray:
    """Pre-processed images of random shapes on gradients: image-like statistics without data files."""
    rng = np.random.default_rng(seed)
    batch = np.empty((count, 3, size, size), dtype=np.float32)
    for i in range(count):
        ramp = np.linspace(0, 255, size, dtype=np.float32)
        image = np.stack([np.add.outer(ramp * rng.random(), ramp * rng.random()) / 2] * 3, axis=-1)
        for _ in range(25):
            color = tuple(int(c) for c in rng.integers(0, 256, 3))
            x0, y0, x1, y1 = (int(v) for v in rng.integers(0, size, 4))
            if rng.random() < 0.5:
                cv2.rectangle(image, (x0, y0), (x1, y1), color, -1)
            else:
                cv2.circle(image, (x0, y0), int(rng.integers(3, size // 4)), color, -1)
        image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
        preprocess(image, size, out=batch[i])
    return batch


def calibration_scenes(seed: int = 0) -> np.ndarray:
    """The shared real images when present (the statistics the tests run on), else synthetic scenes."""
    paths = sorted((SHARED_DATA / "coco_mini" / "images").glob("*.jpg"))
    if not paths:
        return synthetic_scenes(4, SIZE, seed)
    return np.stack([preprocess(_center_square(cv2.imread(str(p))), SIZE)[0] for p in paths])


def seeded_pose_net(seed: int = 0) -> torch.nn.Module:
    """Seeded weights with healthy activations, real deformations and spread head outputs.

    Fresh BatchNorm statistics (mean 0, var 1) make a random DLA's outputs nearly constant (all
    person scores tie to float rounding), so the statistics are measured on synthetic scenes and the
    last conv of each head is scaled to `HEAD_SPREAD`; offsets are a few pixels.
    """
    torch.manual_seed(seed)
    net = build_pose_net()
    scenes = torch.from_numpy(calibration_scenes(seed))
    with torch.no_grad():
        for module in net.modules():
            if hasattr(module, "conv_offset_mask"):
                module.conv_offset_mask.weight.normal_(0, 0.003)
                module.conv_offset_mask.bias.uniform_(-1.5, 1.5)
            if isinstance(module, torch.nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None  # one pass = plain average over the scenes
        net.train()
        net(scenes)
        net.eval()
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                # One variance per layer: per-channel variances of near-constant channels would turn
                # float rounding into signal (an ill-conditioned net where fp32 != fp64 by 0.1).
                module.running_var.fill_(float(module.running_var.mean()))
        probe = net(scenes)
        for head, (spread, bias) in HEAD_SPREAD.items():
            last = getattr(net, head)[2]
            gain = spread / max(float(probe[head].std()), 1e-12)
            mean_without_bias = probe[head].mean(dim=(0, 2, 3)) - last.bias
            last.weight.mul_(gain)
            last.bias.copy_(bias - gain * mean_without_bias)
    return net


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
    return [_center_square(cv2.imread(str(p))) for p in paths]


def _center_square(image: np.ndarray) -> np.ndarray:
    """Square crops: the pre-process warp then needs no black letterbox, whose constant area would
    give random weights long runs of exactly tied person scores (which top-K orders arbitrarily)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return np.ascontiguousarray(image[top : top + side, left : left + side])
