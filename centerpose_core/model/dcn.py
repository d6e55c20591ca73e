"""Modulated deformable 3x3 convolution (DCNv2) on top of torchvision's `deform_conv2d`.

Parameter names follow the DCNv2 extension CenterNet was trained with (`weight`, `bias`,
`conv_offset_mask.*`), so official checkpoints load unchanged. The offset predictor emits
3 * k*k channels: the first two thirds are the (dy, dx) offsets, interleaved per kernel tap as
torchvision expects, and the last third is the mask, passed through a sigmoid.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.ops import deform_conv2d


class ModulatedDeformConv(nn.Module):
    """DCNv2 with one deformable group: out = conv(x sampled at p + offset(x)) * mask(x)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, padding: int = 1
    ) -> None:
        super().__init__()
        self.stride = stride
        self.padding = padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.conv_offset_mask = nn.Conv2d(
            in_channels, 3 * kernel_size * kernel_size, kernel_size, stride=stride, padding=padding, bias=True
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As DCNv2: uniform(-1/sqrt(fan_in), +) weights, zero bias, and a zero offset/mask predictor
        # so that a fresh layer starts as a plain convolution with mask 0.5.
        bound = 1.0 / math.sqrt(self.weight[0].numel())
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def offset_and_mask(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Offsets (B, 2*k*k, H, W) and sigmoid mask (B, k*k, H, W) predicted from x."""
        o1, o2, mask = torch.chunk(self.conv_offset_mask(x), 3, dim=1)
        return torch.cat((o1, o2), dim=1), torch.sigmoid(mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset, mask = self.offset_and_mask(x)
        return deform_conv2d(
            x, offset, self.weight, self.bias, stride=self.stride, padding=self.padding, mask=mask
        )
