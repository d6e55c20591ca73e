"""The plain-op DCN against torchvision's deform_conv2d (float64) and against hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import deform_conv2d

from centerpose_core.export.decomposed_dcn import (
    DecomposedDeformConv,
    decompose_deform_convs,
    deform_conv2d_decomposed,
)
from centerpose_core.model.dcn import ModulatedDeformConv

EXACT = 1e-12  # float64: only summation order differs


def _out_size(size, kernel, stride, pad, dilation):
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def _case(seed, n, c, h, w, o, k, stride, pad, dilation, groups, offset_scale):
    gen = torch.Generator().manual_seed(seed)
    kh, kw = k
    oh = _out_size(h, kh, stride, pad[0], dilation)
    ow = _out_size(w, kw, stride, pad[1], dilation)
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    weight = torch.randn(o, c, kh, kw, generator=gen, dtype=torch.float64)
    bias = torch.randn(o, generator=gen, dtype=torch.float64)
    offset = torch.randn(n, 2 * groups * kh * kw, oh, ow, generator=gen, dtype=torch.float64) * offset_scale
    mask = torch.rand(n, groups * kh * kw, oh, ow, generator=gen, dtype=torch.float64)
    return x, weight, bias, offset, mask, dict(stride=stride, padding=pad, dilation=dilation)


CASES = [
    # n, c, h, w, o, kernel, stride, pad, dilation, offset groups, offset scale (pixels)
    (2, 6, 7, 9, 5, (3, 3), 1, (1, 1), 1, 1, 2.0),
    (1, 4, 6, 5, 3, (3, 3), 2, (1, 1), 1, 2, 3.0),
    (2, 4, 8, 8, 4, (3, 2), 1, (2, 0), 2, 1, 1.5),
    (1, 3, 5, 5, 2, (1, 1), 1, (0, 0), 1, 3, 10.0),  # mostly far outside the map
]


@pytest.mark.parametrize("case", CASES)
def test_matches_torchvision_in_float64(case):
    x, weight, bias, offset, mask, conv = _case(0, *case)
    expected = deform_conv2d(x, offset, weight, bias, mask=mask, **conv)
    actual = deform_conv2d_decomposed(x, offset, weight, bias, mask=mask, **conv)
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= EXACT


def test_without_mask_matches_torchvision():
    x, weight, bias, offset, _, conv = _case(1, *CASES[0])
    expected = deform_conv2d(x, offset, weight, bias, **conv)
    assert (deform_conv2d_decomposed(x, offset, weight, bias, **conv) - expected).abs().max() <= EXACT


@pytest.mark.parametrize("shift", [-2.0, -1.0, 0.0, 1.0, 5.0, 6.0, 7.0, 50.0])
def test_integer_offsets_on_pixel_borders(shift):
    """Integer offsets land exactly on pixel centres and on the borders -1 and H (read as 0)."""
    x, weight, bias, _, mask, conv = _case(2, 1, 3, 6, 6, 2, (3, 3), 1, (1, 1), 1, 1, 0.0)
    offset = torch.full((1, 18, 6, 6), shift, dtype=torch.float64)
    offset[:, 1::2] = -shift  # dx opposite to dy: both borders of both axes get hit
    expected = deform_conv2d(x, offset, weight, bias, mask=mask, **conv)
    actual = deform_conv2d_decomposed(x, offset, weight, bias, mask=mask, **conv)
    assert (actual - expected).abs().max().item() <= EXACT


def test_single_tap_reads_pixels_bilinearly_and_zero_outside():
    """A 1x1 identity kernel turns the DCN into a bilinear sampler: check values by hand."""
    image = torch.arange(12, dtype=torch.float64).reshape(1, 1, 3, 4)  # value = 4*y + x
    weight = torch.ones(1, 1, 1, 1, dtype=torch.float64)

    def sample(dy, dx):
        offset = torch.zeros(1, 2, 3, 4, dtype=torch.float64)
        offset[:, 0], offset[:, 1] = dy, dx
        return deform_conv2d_decomposed(image, offset, weight)[0, 0]

    # Inside: bilinear of a linear function is exact, 4*(y+dy) + (x+dx) at output (0, 0).
    assert sample(0.25, 0.5)[0, 0].item() == pytest.approx(4 * 0.25 + 0.5, abs=EXACT)
    # Exactly on pixel centres: the pixel itself.
    assert torch.equal(sample(1.0, 2.0)[:2, :2], image[0, 0, 1:3, 2:4])
    # Beyond the last row by a full pixel (y = H): zero; half a pixel past the last row
    # (y = H - 0.5): half the last row's value (the missing neighbour reads 0).
    assert sample(3.0, 0.0)[0, 0].item() == 0.0
    assert sample(2.5, 0.0)[0, 0].item() == pytest.approx(0.5 * 8.0, abs=EXACT)
    # Left of the first column by exactly one pixel (x = -1): zero; by half: half the pixel.
    assert sample(0.0, -1.0)[1, 0].item() == 0.0
    assert sample(0.0, -0.5)[1, 0].item() == pytest.approx(0.5 * 4.0, abs=EXACT)


def test_all_samples_outside_leave_only_the_bias():
    x, weight, bias, _, mask, conv = _case(3, 2, 4, 5, 5, 3, (3, 3), 1, (1, 1), 1, 1, 0.0)
    offset = torch.full((2, 18, 5, 5), 100.0, dtype=torch.float64)
    out = deform_conv2d_decomposed(x, offset, weight, bias, mask=mask, **conv)
    assert torch.equal(out, bias.reshape(1, 3, 1, 1).expand_as(out))


def test_module_swap_keeps_weights_and_outputs():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        ModulatedDeformConv(4, 6), torch.nn.ReLU(), ModulatedDeformConv(6, 2, stride=2)
    )
    with torch.no_grad():
        for module in model:
            if isinstance(module, ModulatedDeformConv):
                module.conv_offset_mask.weight.normal_(0, 0.5)
                module.conv_offset_mask.bias.uniform_(-2, 2)
    model = model.double().eval()
    x = torch.randn(2, 4, 9, 11, dtype=torch.float64)
    expected = model(x)
    assert decompose_deform_convs(model) == 2
    assert all(isinstance(model[i], DecomposedDeformConv) for i in (0, 2))
    assert model[0].source.weight is not None and len(list(model.parameters())) == 8  # shared, not copied
    assert (model(x) - expected).abs().max().item() <= EXACT


def test_weight_groups_are_refused():
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match="one weight group"):
        deform_conv2d_decomposed(x, torch.zeros(1, 18, 5, 5), torch.randn(2, 2, 3, 3), padding=1)
