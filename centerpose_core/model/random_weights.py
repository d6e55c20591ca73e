"""Seeded random weights for tests, benchmarks and demos (no pretrained weights exist here).

Freshly initialised, the network's outputs barely depend on the image (eval-mode batch norm
with default statistics), so every candidate ties at the heatmap prior and boxes collapse to
points. Calibrating batch-norm statistics on seeded noise and scaling the heads' last layers
gives varied scores, boxes and snapped keypoints: still meaningless as poses, but exercising
every code path and making rankings unambiguous.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from centerpose_core.model.pose_net import PoseNet

HEAD_SCALES = {"hm": 20.0, "hm_hp": 20.0, "wh": 20.0, "hps": 10.0}
# With masks: larger mask logits, so seeded masks have both sides of the threshold.
MASK_HEAD_SCALES = {"seg_feat": 10.0, "seg": 10.0}


def build_random_model(seed: int = 0, calibration_size: int = 128, masks: bool = False) -> PoseNet:
    import torch

    from centerpose_core.model.pose_net import build_pose_net

    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = build_pose_net(masks=masks)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.momentum = None  # cumulative average over the calibration batches
        model.train()
        with torch.no_grad():
            for _ in range(2):
                model(torch.randn(2, 3, calibration_size, calibration_size))
            scales = {**HEAD_SCALES, **(MASK_HEAD_SCALES if masks else {})}
            for name, scale in scales.items():
                getattr(model, name)[-1].weight.mul_(scale)
        model.eval()
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.momentum = 0.1
        return model
    finally:
        torch.random.set_rng_state(generator_state)


def save_random_checkpoint(path: str | Path, seed: int = 0, masks: bool = False) -> Path:
    """Write seeded random weights as a CenterNet-format checkpoint (with the mask heads when
    `masks`); returns the path."""
    from centerpose_core.model.checkpoint import save_checkpoint

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, build_random_model(seed, masks=masks), epoch=0)
    return path
