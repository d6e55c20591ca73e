"""Hand-built head maps for decode and flip tests: every head at zero, 16 x 16 cells."""

from __future__ import annotations

import torch

from centerpose_core.constants import HEADS

H = W = 16


def zero_maps() -> dict[str, torch.Tensor]:
    """One image's six head maps, all zero, shaped as the network's outputs (1, C, H, W)."""
    return {name: torch.zeros(1, channels, H, W) for name, channels in HEADS.items()}
