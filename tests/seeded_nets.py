"""Seeded pose networks with distinct outputs, for tests that compare two computations.

A freshly initialised DLA (BatchNorm mean 0 / var 1) gives nearly constant outputs: person scores
tie to float rounding, so which top-K candidates come back depends on the CPU. `seeded_pose_net`
measures BatchNorm statistics on image-like scenes and scales each head's last conv to a chosen
spread, giving well-separated peaks; tests still check the separation they rely on with
`decode_margins.clear_decisions`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from centerpose_core.affine import preprocess
from centerpose_core.model import build_pose_net

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CALIBRATION_SIZE = 128

# (target std, bias) of each head's logits: heatmaps with distinct peaks, boxes of some pixels.
HEAD_SPREAD = {
    "hm": (1.5, -2.0),
    "wh": (1.5, 5.0),
    "hps": (2.0, 0.0),
    "reg": (0.3, 0.5),
    "hm_hp": (1.5, -2.0),
    "hp_offset": (0.3, 0.5),
}
# The mask heads (a mask model): features of unit spread; kernels such that a person's mask
# logits (432 products summed) spread over a few units, so masks have both sides of 0.5.
MASK_HEAD_SPREAD = {"seg_feat": (1.0, 0.0), "seg": (0.15, 0.0)}


def center_square(image: np.ndarray) -> np.ndarray:
    """Square crops: the pre-process warp then needs no black letterbox, whose constant area would
    give random weights long runs of exactly tied person scores."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return np.ascontiguousarray(image[top : top + side, left : left + side])


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
        return synthetic_scenes(4, CALIBRATION_SIZE, seed)
    images = [center_square(cv2.imread(str(p))) for p in paths]
    return np.stack([preprocess(image, CALIBRATION_SIZE)[0] for image in images])


def seeded_pose_net(seed: int = 0, masks: bool = False) -> torch.nn.Module:
    """Seeded weights with healthy activations, real deformations and spread head outputs.

    BatchNorm statistics are measured on `calibration_scenes` and the last conv of each head is
    scaled to `HEAD_SPREAD`; deformable-conv offsets are a few pixels.
    """
    torch.manual_seed(seed)
    net = build_pose_net(masks=masks)
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
        for head, (spread, bias) in {**HEAD_SPREAD, **(MASK_HEAD_SPREAD if masks else {})}.items():
            last = getattr(net, head)[2]
            gain = spread / max(float(probe[head].std()), 1e-12)
            mean_without_bias = probe[head].mean(dim=(0, 2, 3)) - last.bias
            last.weight.mul_(gain)
            last.bias.copy_(bias - gain * mean_without_bias)
    return net
