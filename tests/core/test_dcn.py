"""ModulatedDeformConv against an explicit DCNv2 bilinear-sampling loop written here."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from centerpose_core.model.dcn import ModulatedDeformConv


def _bilinear_zero_padded(img: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """DCNv2 sampling: bilinear over the 4 neighbours, neighbours outside the image count as 0."""
    channels, height, width = img.shape
    if y <= -1 or y >= height or x <= -1 or x >= width:
        return torch.zeros(channels, dtype=img.dtype)
    y0, x0 = math.floor(y), math.floor(x)
    out = torch.zeros(channels, dtype=img.dtype)
    for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
        if 0 <= yy < height and 0 <= xx < width:
            out += (1 - abs(y - yy)) * (1 - abs(x - xx)) * img[:, yy, xx]
    return out


def _reference(layer: ModulatedDeformConv, x: torch.Tensor) -> torch.Tensor:
    raw = F.conv2d(x, layer.conv_offset_mask.weight, layer.conv_offset_mask.bias, padding=1)
    offsets = raw[:, :18]  # channels 2k, 2k+1 = (dy, dx) of tap k = 3*ky + kx
    mask = torch.sigmoid(raw[:, 18:])
    batch, _, height, width = x.shape
    out = torch.zeros(batch, layer.weight.shape[0], height, width, dtype=x.dtype)
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                acc = layer.bias.clone()
                for k in range(9):
                    ky, kx = divmod(k, 3)
                    y = i - 1 + ky + offsets[b, 2 * k, i, j].item()
                    xx = j - 1 + kx + offsets[b, 2 * k + 1, i, j].item()
                    sample = _bilinear_zero_padded(x[b], y, xx) * mask[b, k, i, j]
                    acc = acc + layer.weight[:, :, ky, kx] @ sample
                out[b, :, i, j] = acc
    return out


def _layer(seed: int, offset_scale: float) -> ModulatedDeformConv:
    torch.manual_seed(seed)
    layer = ModulatedDeformConv(3, 4).double()
    with torch.no_grad():
        layer.conv_offset_mask.weight.normal_(0, offset_scale)
        layer.conv_offset_mask.bias.normal_(0, offset_scale)
        layer.bias.normal_()
    return layer


def test_matches_explicit_sampling_loop():
    layer = _layer(0, 0.5)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), _reference(layer, x), rtol=1e-9, atol=1e-9)


def test_offsets_far_outside_the_image_sample_zero():
    layer = _layer(1, 0.0)
    with torch.no_grad():
        layer.conv_offset_mask.bias[:18] = 40.0  # every tap samples ~40 px away: all outside
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        out = layer(x)
        torch.testing.assert_close(out, _reference(layer, x))
        torch.testing.assert_close(out, layer.bias.view(1, -1, 1, 1).expand_as(out))


def test_zero_offsets_are_a_plain_convolution_with_mask_half():
    layer = _layer(2, 0.0)
    x = torch.randn(1, 3, 6, 5, dtype=torch.float64)
    with torch.no_grad():
        expected = F.conv2d(x, layer.weight * 0.5, layer.bias, padding=1)
        torch.testing.assert_close(layer(x), expected)
