"""The model's parameter layout is the checkpoint contract with upstream CenterNet (DESIGN.md)."""

from __future__ import annotations

import pytest
import torch

from centerpose_core.constants import HEADS
from centerpose_core.model import build_pose_net


@pytest.fixture(scope="module")
def state_dict():
    return build_pose_net().state_dict()


def test_key_counts_match_upstream_dlaseg(state_dict):
    keys = list(state_dict)
    assert len(keys) == 410
    assert sum(k.startswith("base.") for k in keys) == 234
    assert sum(k.startswith("dla_up.") for k in keys) == 114
    assert sum(k.startswith("ida_up.") for k in keys) == 38
    assert sum(k.endswith("num_batches_tracked") for k in keys) == 55
    # Heads come last, in CenterNet's order, 4 entries each.
    assert keys[-24:] == [f"{h}.{i}.{p}" for h in HEADS for i in (0, 2) for p in ("weight", "bias")]


def test_parameter_count():
    assert sum(p.numel() for p in build_pose_net().parameters()) == 20_112_346


@pytest.mark.parametrize(
    ("key", "shape"),
    [
        # Shapes derived by hand from the DLA-34 / DLASeg definitions (levels 1,1,1,2,2,1;
        # channels 16..512; root dims 2*out (+in for level roots), +out per nesting level).
        ("base.base_layer.0.weight", (16, 3, 7, 7)),
        ("base.level1.0.weight", (32, 16, 3, 3)),
        ("base.level2.root.conv.weight", (64, 128, 1, 1)),
        ("base.level3.tree1.tree1.conv1.weight", (128, 64, 3, 3)),
        ("base.level3.tree2.root.conv.weight", (128, 448, 1, 1)),
        ("base.level3.project.0.weight", (128, 64, 1, 1)),
        ("base.level4.tree2.root.conv.weight", (256, 896, 1, 1)),
        ("base.level5.root.conv.weight", (512, 1280, 1, 1)),
        ("dla_up.ida_0.proj_1.conv.weight", (256, 512, 3, 3)),
        ("dla_up.ida_0.proj_1.conv.conv_offset_mask.weight", (27, 512, 3, 3)),
        ("dla_up.ida_0.proj_1.actf.0.running_var", (256,)),
        ("dla_up.ida_1.node_2.conv.bias", (128,)),
        ("dla_up.ida_2.up_3.weight", (64, 1, 4, 4)),
        ("ida_up.proj_2.conv.weight", (64, 256, 3, 3)),
        ("ida_up.up_2.weight", (64, 1, 8, 8)),
        ("hm.0.weight", (256, 64, 3, 3)),
        ("hps.2.weight", (34, 256, 1, 1)),
        ("hm_hp.2.bias", (17,)),
        ("hp_offset.2.weight", (2, 256, 1, 1)),
    ],
)
def test_upstream_key_shapes(state_dict, key, shape):
    assert tuple(state_dict[key].shape) == shape


def test_deformable_convs_have_dcnv2_keys(state_dict):
    offset_keys = [k for k in state_dict if k.endswith("conv_offset_mask.weight")]
    assert len(offset_keys) == 16
    for key in offset_keys:
        prefix = key[: -len("conv_offset_mask.weight")]
        assert {prefix + "weight", prefix + "bias", prefix + "conv_offset_mask.bias"} <= set(state_dict)
        assert state_dict[key].shape[0] == 27  # 3 x 3x3 taps: dy/dx pairs then the mask


def test_head_outputs_are_named_at_stride_4():
    model = build_pose_net().eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 3, 128, 96))
    assert {k: tuple(v.shape) for k, v in out.items()} == {h: (2, c, 32, 24) for h, c in HEADS.items()}


def test_upsampling_starts_bilinear():
    weight = build_pose_net().state_dict()["dla_up.ida_0.up_1.weight"]  # factor 2, 4x4 kernel
    row = torch.tensor([0.25, 0.75, 0.75, 0.25])
    expected = row[:, None] * row[None, :]
    for channel in (0, 100, 255):
        torch.testing.assert_close(weight[channel, 0], expected)


def test_heatmap_heads_start_at_focal_prior():
    sd = build_pose_net().state_dict()
    assert torch.allclose(sd["hm.2.bias"], torch.full((1,), -2.19))
    assert torch.allclose(sd["hm_hp.2.bias"], torch.full((17,), -2.19))
    assert torch.count_nonzero(sd["wh.2.bias"]) == 0
