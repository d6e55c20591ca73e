"""Mask-model checkpoints (issue 21): the seed repo's `seg_feat` / `seg` heads are optional, both
or neither, and a bad mask head is one error naming the key."""

from __future__ import annotations

import pytest
import torch

from centerpose_core.constants import HEADS, MASK_HEADS
from centerpose_core.model import build_pose_net
from centerpose_core.model.checkpoint import CheckpointError, load_model


@pytest.fixture(scope="module")
def mask_state_dict():
    torch.manual_seed(1)
    return build_pose_net(masks=True).state_dict()


def test_mask_heads_have_the_standard_form_and_names(mask_state_dict):
    keys = list(mask_state_dict)
    assert len(keys) == 410 + 8
    heads = ("seg_feat", "seg")
    assert keys[-8:] == [f"{h}.{i}.{p}" for h in heads for i in (0, 2) for p in ("weight", "bias")]
    assert tuple(mask_state_dict["seg_feat.0.weight"].shape) == (256, 64, 3, 3)
    assert tuple(mask_state_dict["seg_feat.2.weight"].shape) == (48, 256, 1, 1)
    assert tuple(mask_state_dict["seg.2.weight"].shape) == (432, 256, 1, 1)
    model = build_pose_net(masks=True).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        h: (1, c, 16, 16) for h, c in {**HEADS, "seg_feat": 48, "seg": 432}.items()
    }


@pytest.mark.parametrize("prefix", ["", "head_model."])
def test_checkpoint_with_both_heads_builds_a_mask_model(mask_state_dict, tmp_path, prefix):
    renamed = {}
    for key, value in mask_state_dict.items():
        top = key.split(".")[0]
        if prefix and top in ("base", "dla_up", "ida_up"):
            renamed["backbone_model." + key] = value
        else:
            renamed[(prefix if top in {**HEADS, **MASK_HEADS} else "") + key] = value
    torch.save({"state_dict": renamed}, tmp_path / "masks.pth")
    model = load_model(tmp_path / "masks.pth")
    assert model.has_masks
    for key, value in model.state_dict().items():
        assert torch.equal(value, mask_state_dict[key]), key


def test_checkpoint_without_mask_heads_is_the_six_head_model(mask_state_dict, tmp_path):
    plain = {k: v for k, v in mask_state_dict.items() if not k.startswith(("seg_feat.", "seg."))}
    torch.save({"state_dict": plain}, tmp_path / "plain.pth")
    model = load_model(tmp_path / "plain.pth")
    assert not model.has_masks and len(model.state_dict()) == 410
    with pytest.raises(CheckpointError, match="masks were asked for but the checkpoint has no mask heads"):
        load_model(tmp_path / "plain.pth", require_masks=True)


@pytest.mark.parametrize("dropped, named", [("seg.", "'seg'"), ("seg_feat.", "'seg_feat'")])
def test_one_mask_head_alone_is_an_error_naming_it(mask_state_dict, tmp_path, dropped, named):
    partial = {k: v for k, v in mask_state_dict.items() if not k.startswith(dropped)}
    torch.save({"state_dict": partial}, tmp_path / "half.pth")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "half.pth")
    assert f"but not {named}" in str(info.value) and "half.pth" in str(info.value)


def test_misshaped_seg_is_an_error_naming_the_key(mask_state_dict, tmp_path):
    bad = dict(mask_state_dict)
    bad["seg.2.weight"] = torch.zeros(48 * 4, 256, 1, 1)  # 2x2 kernels, not 3x3
    bad["seg.2.bias"] = torch.zeros(48 * 4)
    torch.save({"state_dict": bad}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "bad.pth")
    message = str(info.value)
    assert "'seg.2.weight'" in message and "(192, 256, 1, 1)" in message and "432" in message
