"""Iterative deep aggregation neck (DLAUp + IDAUp) with deformable convolutions.

Upsamples and merges the deeper DLA levels back to stride 4, as CenterNet's `pose_dla_dcn.py`:
every merge is project (DCN) -> depthwise transposed-conv upsample (bilinear init) -> add the
shallower level -> node (DCN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from centerpose_core.model.dcn import ModulatedDeformConv
from centerpose_core.model.dla import BN_MOMENTUM


class DeformConvBlock(nn.Module):
    """DCN followed by BN + ReLU (upstream's `DeformConv`; keys `conv.*`, `actf.0.*`)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.actf = nn.Sequential(nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM), nn.ReLU(inplace=True))
        self.conv = ModulatedDeformConv(in_channels, out_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.actf(self.conv(x))


def bilinear_upsample_(up: nn.ConvTranspose2d) -> None:
    """Initialise a depthwise transposed conv as bilinear interpolation (FCN-style kernel)."""
    w = up.weight.data
    f = math.ceil(w.size(2) / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    ii = torch.arange(w.size(2), dtype=torch.float64)
    jj = torch.arange(w.size(3), dtype=torch.float64)
    kernel = (1 - (ii / f - c).abs())[:, None] * (1 - (jj / f - c).abs())[None, :]
    w.copy_(kernel.to(w.dtype).expand_as(w))


class IDAUp(nn.Module):
    """Merges levels [start+1, end) into their predecessors, in place, at the shallowest stride."""

    def __init__(self, out_channels: int, in_channels: Sequence[int], up_factors: Sequence[int]) -> None:
        super().__init__()
        for i in range(1, len(in_channels)):
            f = int(up_factors[i])
            up = nn.ConvTranspose2d(
                out_channels,
                out_channels,
                f * 2,
                stride=f,
                padding=f // 2,
                output_padding=0,
                groups=out_channels,
                bias=False,
            )
            bilinear_upsample_(up)
            setattr(self, f"proj_{i}", DeformConvBlock(in_channels[i], out_channels))
            setattr(self, f"up_{i}", up)
            setattr(self, f"node_{i}", DeformConvBlock(out_channels, out_channels))

    def forward(self, layers: list[torch.Tensor], start: int, end: int) -> None:
        for i in range(start + 1, end):
            j = i - start
            upsampled = getattr(self, f"up_{j}")(getattr(self, f"proj_{j}")(layers[i]))
            layers[i] = getattr(self, f"node_{j}")(upsampled + layers[i - 1])


class DLAUp(nn.Module):
    """A cascade of IDAUp stages, deepest first; returns the aggregated maps, shallowest first."""

    def __init__(self, start_level: int, channels: Sequence[int], scales: Sequence[int]) -> None:
        super().__init__()
        self.start_level = start_level
        channels = list(channels)
        in_channels = list(channels)
        scales = list(scales)
        for i in range(len(channels) - 1):
            j = -i - 2
            factors = [s // scales[j] for s in scales[j:]]
            setattr(self, f"ida_{i}", IDAUp(channels[j], in_channels[j:], factors))
            scales[j + 1 :] = [scales[j]] * len(scales[j + 1 :])
            in_channels[j + 1 :] = [channels[j]] * len(in_channels[j + 1 :])

    def forward(self, layers: list[torch.Tensor]) -> list[torch.Tensor]:
        layers = list(layers)
        out = [layers[-1]]
        for i in range(len(layers) - self.start_level - 1):
            getattr(self, f"ida_{i}")(layers, len(layers) - i - 2, len(layers))
            out.insert(0, layers[-1])
        return out
