"""Modulated deformable convolution written in plain tensor ops, for runtimes without `DeformConv`.

TensorRT 8.5 / 8.6 (JetPack 5, JetPack 6.0) cannot parse ONNX `DeformConv`, and opset-20
`GridSample` is unsafe there (its 'linear' mode silently becomes nearest). This module computes
exactly what torchvision's `deform_conv2d` computes, with only ops every TensorRT >= 8.5 parses:
Floor, Clip on floats, comparisons, Cast, Gather on a flattened feature map, Mul/Add/ReduceSum and
MatMul. It is swapped into a model for export only (`decompose_deform_convs`), so the model code
has no export branch.

Sampling semantics (torchvision's CPU/CUDA kernels, which ONNX `DeformConv` follows): tap k at
output (i, j) reads the input at p = (i*s - pad + ky*d + dy, j*s - pad + kx*d + dx); a point with
y <= -1, y >= H, x <= -1 or x >= W reads 0; otherwise bilinear interpolation over the four
neighbours where neighbours outside the map read 0. Offsets are interleaved (dy, dx) per tap and
per offset group; the mask multiplies each sampled value.

FP16 engines: the sampling coordinates (base grid + offset, floor, fractions, indices) must stay
FP32, since a half float has a spacing of 0.0625 at 128 px. Those ops are built inside
`SamplingPlan`, a submodule; export renames its ONNX nodes with the prefix `FP32_NODE_PREFIX`, and
the TensorRT builder pins every layer with that prefix to FP32 (precision constraints).
"""

from __future__ import annotations

import torch
from torch import nn

# ONNX node-name prefix of the sampling-coordinate subgraph that must run in FP32.
FP32_NODE_PREFIX = "dcn_fp32_sampling/"


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class SamplingPlan(nn.Module):
    """Offsets -> gather indices and bilinear weights of the four neighbours of every tap.

    Returns `index` (N, G, L, K, 4) int64 rows into the input flattened to (N*G*H*W, C/G), and
    `weights` (N, G, L, K, 4) in the offsets' dtype (bilinear weight x validity x mask), with
    L = Ho*Wo output positions and K = kh*kw taps.
    """

    def __init__(
        self,
        kernel_size: tuple[int, int],
        stride: tuple[int, int],
        padding: tuple[int, int],
        dilation: tuple[int, int],
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation

    def forward(
        self, offset: torch.Tensor, mask: torch.Tensor, height: int, width: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        kh, kw = self.kernel_size
        n, _, out_h, out_w = offset.shape
        taps = kh * kw
        groups = offset.shape[1] // (2 * taps)
        dtype, device = offset.dtype, offset.device

        # (N, G, K, 2, Ho, Wo) -> (N, G, Ho, Wo, K) for dy and dx: row-major over output pixels.
        offset = offset.reshape(n, groups, taps, 2, out_h, out_w).permute(0, 1, 4, 5, 2, 3)
        dy, dx = offset[..., 0], offset[..., 1]
        mask = mask.reshape(n, groups, taps, out_h, out_w).permute(0, 1, 3, 4, 2)

        tap = torch.arange(taps, device=device)
        ky = (tap // kw).to(dtype) * self.dilation[0]
        kx = (tap % kw).to(dtype) * self.dilation[1]
        oy = torch.arange(out_h, dtype=dtype, device=device) * self.stride[0] - self.padding[0]
        ox = torch.arange(out_w, dtype=dtype, device=device) * self.stride[1] - self.padding[1]
        y = oy.reshape(out_h, 1, 1) + ky.reshape(1, 1, taps) + dy  # (N, G, Ho, Wo, K)
        x = ox.reshape(1, out_w, 1) + kx.reshape(1, 1, taps) + dx

        wy, rows = _axis_taps(y, height)
        wx, cols = _axis_taps(x, width)
        # Four neighbours in the order (y0,x0), (y0,x1), (y1,x0), (y1,x1).
        weights = (wy.unsqueeze(-1) * wx.unsqueeze(-2)).flatten(-2) * mask.unsqueeze(-1)
        pixel = (rows.unsqueeze(-1) * width + cols.unsqueeze(-2)).flatten(-2)  # (N, G, Ho, Wo, K, 4)
        plane = torch.arange(n * groups, device=device, dtype=torch.int64).reshape(n, groups, 1, 1, 1, 1)
        index = pixel + plane * (height * width)
        return index.flatten(2, 3), weights.flatten(2, 3)


def _axis_taps(coord: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear weights (..., 2) and clamped int64 rows (..., 2) of the low/high neighbour on one axis.

    A coordinate outside (-1, size) gets zero weights; a neighbour outside [0, size-1] gets zero
    weight and an index clamped into range on the float side (no integer Clip for TensorRT).
    """
    low = torch.floor(coord)
    frac = coord - low
    inside = ((coord > -1) & (coord < size)).to(coord.dtype)
    low_ok = (low >= 0).to(coord.dtype)
    high_ok = (low <= size - 2).to(coord.dtype)
    weights = torch.stack(((1 - frac) * low_ok * inside, frac * high_ok * inside), dim=-1)
    low_row = torch.clamp(low, 0, size - 1)
    high_row = torch.clamp(low + 1, 0, size - 1)
    rows = torch.stack((low_row, high_row), dim=-1).to(torch.int64)
    return weights, rows


def deform_conv2d_decomposed(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    mask: torch.Tensor | None = None,
    plan: SamplingPlan | None = None,
) -> torch.Tensor:
    """Same signature and result as `torchvision.ops.deform_conv2d` (weight groups must be 1)."""
    n, channels, height, width = input.shape
    out_channels, weight_channels, kh, kw = weight.shape
    if weight_channels != channels:
        raise ValueError(
            f"decomposed deform_conv2d supports one weight group only (input has {channels} channels, "
            f"weight expects {weight_channels})"
        )
    taps = kh * kw
    if offset.shape[1] % (2 * taps) != 0:
        raise ValueError(f"offset has {offset.shape[1]} channels, not a multiple of 2*{taps}")
    groups = offset.shape[1] // (2 * taps)
    if channels % groups != 0:
        raise ValueError(f"{channels} input channels do not split into {groups} offset groups")
    out_h, out_w = offset.shape[-2:]
    if mask is None:
        mask = torch.ones((n, groups * taps, out_h, out_w), dtype=input.dtype, device=input.device)
    if plan is None:
        plan = SamplingPlan((kh, kw), _pair(stride), _pair(padding), _pair(dilation))
    index, weights = plan(offset, mask, height, width)

    group_channels = channels // groups
    # Rows of `table` are pixels of each (image, offset group) plane; columns their channels.
    table = input.reshape(n, groups, group_channels, height * width).transpose(2, 3)
    table = table.reshape(n * groups * height * width, group_channels)
    corners = torch.index_select(table, 0, index.reshape(-1)).reshape(
        n, groups, out_h * out_w, taps, 4, group_channels
    )
    sampled = (corners * weights.unsqueeze(-1)).sum(dim=4)  # (N, G, L, K, Cg)

    # Columns ordered (group, tap, channel) to match the reordered weight below.
    columns = sampled.permute(0, 2, 1, 3, 4).reshape(n, out_h * out_w, groups * taps * group_channels)
    kernel = weight.reshape(out_channels, groups, group_channels, taps).permute(1, 3, 2, 0)
    kernel = kernel.reshape(groups * taps * group_channels, out_channels)
    out = torch.matmul(columns, kernel)  # (N, L, O)
    if bias is not None:
        out = out + bias
    return out.transpose(1, 2).reshape(n, out_channels, out_h, out_w)


class DecomposedDeformConv(nn.Module):
    """A `ModulatedDeformConv` computed with plain ops; shares the wrapped module's parameters."""

    def __init__(self, source: nn.Module) -> None:
        super().__init__()
        self.source = source
        kernel = tuple(source.weight.shape[-2:])
        self.sampling = SamplingPlan(kernel, _pair(source.stride), _pair(source.padding), (1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset, mask = self.source.offset_and_mask(x)
        return deform_conv2d_decomposed(
            x,
            offset,
            self.source.weight,
            self.source.bias,
            stride=self.source.stride,
            padding=self.source.padding,
            mask=mask,
            plan=self.sampling,
        )


def decompose_deform_convs(model: nn.Module) -> int:
    """Replace, in place, every `ModulatedDeformConv` in `model` by a `DecomposedDeformConv`.

    The replacement holds the same parameter tensors, so outputs agree up to float rounding.
    Returns the number of modules replaced. Used on a copy of the model at export time.
    """
    from centerpose_core.model.dcn import ModulatedDeformConv

    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ModulatedDeformConv):
                setattr(parent, name, DecomposedDeformConv(child))
                replaced += 1
    return replaced
