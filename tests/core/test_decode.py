"""decode_multi_pose on hand-built head maps with hand-computed answers (CenterNet semantics)."""

from __future__ import annotations

import pytest
import torch
from zero_head_maps import zero_maps

from centerpose_core.decode import activate, decode_multi_pose, peak_nms


def _one_person() -> dict[str, torch.Tensor]:
    """A person centred at cell (x=5, y=7), score 0.9, reg (0.25, 0.5), size 4 x 6.

    Box: (5.25 -+ 2, 7.5 -+ 3) = (3.25, 4.5, 7.25, 10.5); longer side 6, snap radius 1.8.
    Every joint j is regressed to the integer center + (dx_j, dy_j) given below.
    """
    m = zero_maps()
    m["hm"][0, 0, 7, 5] = 0.9
    m["reg"][0, :, 7, 5] = torch.tensor([0.25, 0.5])
    m["wh"][0, :, 7, 5] = torch.tensor([4.0, 6.0])
    for j in range(17):
        m["hps"][0, 2 * j, 7, 5] = 0.1 * j - 0.8  # dx in [-0.8, 0.8]
        m["hps"][0, 2 * j + 1, 7, 5] = 0.2
    return m


def _regressed(j: int) -> tuple[float, float]:
    return 5 + 0.1 * j - 0.8, 7 + 0.2


def test_box_score_and_regressed_keypoints():
    out = decode_multi_pose(_one_person(), k=5)
    assert out["scores"][0, 0].item() == pytest.approx(0.9)
    assert out["boxes"][0, 0].tolist() == pytest.approx([3.25, 4.5, 7.25, 10.5])
    for j in range(17):  # no joint peaks at all: every keypoint keeps its regressed location, score 0
        assert out["keypoints"][0, 0, j].tolist() == pytest.approx(_regressed(j))
        assert out["keypoint_scores"][0, 0, j].item() == 0.0


def test_each_branch_of_the_snapping_rule():
    m = _one_person()
    m["hp_offset"][0, :, :, :] = 0.5  # every joint peak refined by (+0.5, +0.5)
    # joint 0 (regressed to 4.2, 7.2): strong peak at cell (4, 6) -> (4.5, 6.5), dist 0.76: snapped.
    m["hm_hp"][0, 0, 6, 4] = 0.8
    # joint 1 (4.3, 7.2): peak at the same place but weak (0.05 <= 0.1): regressed kept.
    m["hm_hp"][0, 1, 6, 4] = 0.05
    # joint 2 (4.4, 7.2): strong peak at (8.5, 7.5): outside the box (x2 = 7.25): regressed kept.
    m["hm_hp"][0, 2, 7, 8] = 0.7
    # joint 3 (4.5, 7.2): strong peak at (6.5, 9.5): inside the box, but dist 3.05 > 1.8: kept.
    m["hm_hp"][0, 3, 9, 6] = 0.7
    # joint 4 (4.6, 7.2): two strong peaks, (4.5, 7.5) dist 0.32 and (6.5, 5.5): the nearer wins,
    # although the farther one scores higher.
    m["hm_hp"][0, 4, 7, 4] = 0.3
    m["hm_hp"][0, 4, 5, 6] = 0.95
    # joint 5 (4.7, 7.2): score exactly at the threshold does not count (> 0.1 required).
    m["hm_hp"][0, 5, 6, 4] = 0.1
    out = decode_multi_pose(m, k=5)
    kps, scores = out["keypoints"][0, 0], out["keypoint_scores"][0, 0]
    assert kps[0].tolist() == pytest.approx([4.5, 6.5]) and scores[0].item() == pytest.approx(0.8)
    assert kps[1].tolist() == pytest.approx(_regressed(1)) and scores[1].item() == 0.0
    assert kps[2].tolist() == pytest.approx(_regressed(2)) and scores[2].item() == 0.0
    assert kps[3].tolist() == pytest.approx(_regressed(3)) and scores[3].item() == 0.0
    assert kps[4].tolist() == pytest.approx([4.5, 7.5]) and scores[4].item() == pytest.approx(0.3)
    assert kps[5].tolist() == pytest.approx(_regressed(5)) and scores[5].item() == 0.0


def test_peak_nms_keeps_only_local_maxima():
    heat = torch.zeros(1, 1, 5, 5)
    heat[0, 0, 2, 2] = 0.9
    heat[0, 0, 2, 3] = 0.8  # neighbour of a higher peak: suppressed
    heat[0, 0, 0, 0] = 0.5  # isolated: kept
    kept = peak_nms(heat)
    assert torch.nonzero(kept[0, 0]).tolist() == [[0, 0], [2, 2]]


def test_top_k_is_sorted_and_padded_with_zero_score_candidates():
    m = zero_maps()
    for (y, x), s in {(2, 2): 0.4, (10, 12): 0.95, (13, 3): 0.6}.items():
        m["hm"][0, 0, y, x] = s
    out = decode_multi_pose(m, k=6)
    assert out["scores"][0, :3].tolist() == pytest.approx([0.95, 0.6, 0.4])
    assert out["scores"][0, 3:].tolist() == [0.0, 0.0, 0.0]
    centers = out["boxes"][0, :3, :2].tolist()  # zero-size boxes: x1,y1 = the cell
    assert centers == [[12.0, 10.0], [3.0, 13.0], [2.0, 2.0]]


def test_batch_images_decode_independently():
    a, b = _one_person(), zero_maps()
    b["hm"][0, 0, 1, 1] = 0.3
    batch = {k: torch.cat([a[k], b[k]]) for k in a}
    out = decode_multi_pose(batch, k=3)
    assert out["scores"][:, 0].tolist() == pytest.approx([0.9, 0.3])
    assert out["boxes"][0, 0].tolist() == pytest.approx([3.25, 4.5, 7.25, 10.5])


def test_activate_applies_sigmoid_to_heatmaps_only():
    m = {k: torch.zeros_like(v) for k, v in zero_maps().items()}
    out = activate(m)
    assert torch.all(out["hm"] == 0.5) and torch.all(out["hm_hp"] == 0.5)
    assert torch.all(out["wh"] == 0)
