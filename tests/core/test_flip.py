"""Flip rules against hand values and the CenterNet semantics: pairs, annotations, merge."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from zero_head_maps import H, W, zero_maps

from centerpose_core.constants import KEYPOINT_NAMES
from centerpose_core.flip import (
    FLIP_PAIRS,
    FLIP_PERMUTATION,
    fill_mirrored_half,
    merge_flip,
    mirror_annotations,
)


def test_pairs_swap_each_left_joint_with_its_right_twin():
    for a, b in FLIP_PAIRS:
        assert KEYPOINT_NAMES[a].replace("left_", "right_") == KEYPOINT_NAMES[b]
    assert FLIP_PERMUTATION[0] == 0  # the nose stays
    assert all(FLIP_PERMUTATION[FLIP_PERMUTATION[j]] == j for j in range(17))
    assert sorted(FLIP_PERMUTATION) == list(range(17))


def test_mirror_annotations_hand_values():
    # 100 px wide: x -> 99 - x (the original's `width - x - 1`); box corners swap so x1 <= x2.
    boxes = np.array([[10.0, 5.0, 30.0, 50.0]], np.float32)
    keypoints = np.zeros((1, 17, 3), np.float32)
    keypoints[0, 1] = (20.0, 8.0, 2.0)  # left eye
    keypoints[0, 2] = (26.0, 9.0, 1.0)  # right eye
    keypoints[0, 0] = (23.0, 12.0, 2.0)  # nose
    new_boxes, new_keypoints = mirror_annotations(boxes, keypoints, width=100)
    np.testing.assert_array_equal(new_boxes, [[69.0, 5.0, 89.0, 50.0]])
    np.testing.assert_array_equal(new_keypoints[0, 0], (76.0, 12.0, 2.0))
    np.testing.assert_array_equal(new_keypoints[0, 1], (73.0, 9.0, 1.0))  # was the right eye
    np.testing.assert_array_equal(new_keypoints[0, 2], (79.0, 8.0, 2.0))
    assert boxes[0, 0] == 10.0 and keypoints[0, 1, 0] == 20.0  # inputs untouched


def test_fill_mirrored_half():
    batch = np.zeros((4, 3, 2, 3), np.float32)
    batch[:2] = np.arange(2 * 3 * 2 * 3, dtype=np.float32).reshape(2, 3, 2, 3)
    fill_mirrored_half(batch)
    np.testing.assert_array_equal(batch[2:], batch[:2, :, :, ::-1])
    assert batch[2, 0, 0, 0] == batch[0, 0, 0, 2]


def _mirror(maps: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What a perfectly mirror-equivariant network would output for the mirrored image."""
    perm = list(FLIP_PERMUTATION)
    hps = maps["hps"].flip(3).reshape(-1, 17, 2, H, W)[:, perm]
    hps = hps * torch.tensor([-1.0, 1.0]).view(1, 1, 2, 1, 1)
    return {
        "hm": maps["hm"].flip(3),
        "wh": maps["wh"].flip(3),
        "hps": hps.reshape(-1, 34, H, W),
        "reg": maps["reg"].flip(3),
        "hm_hp": maps["hm_hp"].flip(3)[:, perm],
        "hp_offset": maps["hp_offset"].flip(3),
    }


def test_flip_merge_of_an_equivariant_network_is_the_identity():
    torch.manual_seed(0)
    maps = {k: torch.rand_like(v) for k, v in zero_maps().items()}
    doubled = {k: torch.cat([maps[k], _mirror(maps)[k]]) for k in maps}
    merged = merge_flip(doubled)
    for key in maps:
        torch.testing.assert_close(merged[key], maps[key])


def test_flip_merge_is_symmetric_under_mirroring_the_input():
    # Net outputs for [x, mirror(x)] are (A, B); for [mirror(x), x] they are (B, A). The merged
    # maps of the second batch must be the mirror of the first (reg/hp_offset excepted: those
    # come from the unflipped pass, as the original).
    torch.manual_seed(1)
    a = {k: torch.rand_like(v) for k, v in zero_maps().items()}
    b = {k: torch.rand_like(v) for k, v in zero_maps().items()}
    first = merge_flip({k: torch.cat([a[k], b[k]]) for k in a})
    second = merge_flip({k: torch.cat([b[k], a[k]]) for k in a})
    mirrored = _mirror(first)
    for key in ("hm", "wh", "hps", "hm_hp"):
        torch.testing.assert_close(second[key], mirrored[key])
    torch.testing.assert_close(second["reg"], b["reg"])


def test_flip_merge_hand_values():
    a, b = zero_maps(), zero_maps()
    a["hps"][0, 2, 3, 4] = 1.0  # joint 1 (left eye) dx at (x=4, y=3) in the plain pass
    # In the mirrored pass the same eye is joint 2 (right eye) at x = 15 - 4 = 11, dx negated.
    b["hps"][0, 4, 3, 11] = -3.0
    merged = merge_flip({k: torch.cat([a[k], b[k]]) for k in a})
    assert merged["hps"][0, 2, 3, 4].item() == pytest.approx((1.0 + 3.0) / 2)
