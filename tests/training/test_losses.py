"""MultiPoseLoss terms against values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from centerpose_core.affine import get_affine_transform
from centerpose_core.constants import HEADS
from centerpose_core.data.codec import PoseTargetCodec
from centerpose_core.loss_weights import LossWeights
from centerpose_core.losses import LOSS_TERMS, MultiPoseLoss, focal_loss, reg_l1_loss, reg_weighted_l1_loss

LN2 = math.log(2.0)


def test_focal_loss_by_hand() -> None:
    """p = 0.5 everywhere; gt = [1, 0.5, 0]: positive ln2/4, negatives ln2/4 * (1-0.5)^4 and ln2/4."""
    pred = torch.full((1, 1, 1, 3), 0.5)
    gt = torch.tensor([1.0, 0.5, 0.0]).view(1, 1, 1, 3)
    expected = LN2 * 0.25 + LN2 * 0.25 * 0.5**4 + LN2 * 0.25  # one positive: divided by 1
    assert focal_loss(pred, gt).item() == pytest.approx(expected, rel=1e-6)
    # Two positives halve the normalised sum.
    gt2 = torch.tensor([1.0, 1.0, 0.0]).view(1, 1, 1, 3)
    assert focal_loss(pred, gt2).item() == pytest.approx((2 * LN2 * 0.25 + LN2 * 0.25) / 2, rel=1e-6)
    # No positive: the plain negative sum, not divided.
    gt0 = torch.tensor([0.0, 0.75, 0.0]).view(1, 1, 1, 3)
    p = torch.tensor([0.2, 0.4, 0.9]).view(1, 1, 1, 3)
    by_hand = -(math.log(0.8) * 0.04 + math.log(0.6) * 0.16 * 0.25**4 + math.log(0.1) * 0.81)
    assert focal_loss(p, gt0).item() == pytest.approx(by_hand, rel=1e-5)


def test_reg_l1_losses_by_hand() -> None:
    # A (1, 2, 2, 2) map: channel c at pixel (y, x) holds 10 c + 2 y + x.
    out = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]], [[10.0, 11.0], [12.0, 13.0]]]])
    ind = torch.tensor([[3, 1]])  # pixels (1, 1) and (0, 1)
    target = torch.tensor([[[1.0, 10.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 0]], dtype=torch.uint8)
    # Only object 0 counts: |3 - 1| + |13 - 10| = 5, over 2 masked coordinates.
    assert reg_l1_loss(out, mask, ind, target).item() == pytest.approx(5 / (2 + 1e-4), rel=1e-6)
    coord_mask = torch.tensor([[[1, 0], [0, 1]]], dtype=torch.uint8)
    # |3 - 1| for object 0 x, |11 - 100| for object 1 y, over 2 coordinates.
    assert reg_weighted_l1_loss(out, coord_mask, ind, target).item() == pytest.approx(
        91 / (2 + 1e-4), rel=1e-6
    )


def _targets(batch: int = 2, out: int = 32) -> dict[str, torch.Tensor]:
    """Two persons per image whose 34 joints all fall on distinct output pixels (map scale 0.5)."""
    codec = PoseTargetCodec(output_size=out)
    samples = []
    for i in range(batch):
        boxes = np.array([[2.0, 3.0, 60.0, 30.0], [3.0, 30.0, 61.0, 62.0]], np.float32)
        j = np.arange(17)
        kps = np.zeros((2, 17, 3), np.float32)
        for p in range(2):
            kps[p, :, 0] = 5 + 3 * j + 0.3 + i
            kps[p, :, 1] = 8 + 28 * p + 0.7 + 2 * (j % 3)
            kps[p, :, 2] = 2
        samples.append(codec.encode(boxes, kps, get_affine_transform((32, 32), 64, 0, (out, out))))
    return {k: torch.from_numpy(np.stack([s[k] for s in samples])) for k in samples[0]}


def _perfect_outputs(batch: dict[str, torch.Tensor], out: int = 32) -> dict[str, torch.Tensor]:
    """Logits whose heatmaps are ~1 at the peaks / ~0 elsewhere and whose regressions equal the targets."""
    b = batch["hm"].shape[0]
    outputs = {name: torch.zeros(b, c, out, out) for name, c in HEADS.items()}
    for name in ("hm", "hm_hp"):
        outputs[name] = torch.where(batch[name] == 1, 30.0, -30.0)
    for name, ind_key, mask_key in (
        ("wh", "ind", "reg_mask"),
        ("reg", "ind", "reg_mask"),
        ("hps", "ind", "reg_mask"),
        ("hp_offset", "hp_ind", "hp_mask"),
    ):
        flat = outputs[name].view(b, outputs[name].shape[1], -1)
        for i in range(b):
            for slot in torch.nonzero(batch[mask_key][i]).flatten():
                flat[i, :, batch[ind_key][i, slot]] = batch[name][i, slot]
    return outputs


def test_perfect_prediction_gives_zero_regression_terms() -> None:
    batch = _targets()
    total, terms = MultiPoseLoss()(_perfect_outputs(batch), batch)
    assert set(terms) == set(LOSS_TERMS)
    for name in ("wh_loss", "off_loss", "hp_loss", "hp_offset_loss"):
        assert terms[name].item() == pytest.approx(0.0, abs=1e-6), name
    # Focal terms: the clamped sigmoid (1e-4) keeps them just above 0, never exactly 0.
    for name in ("hm_loss", "hm_hp_loss"):
        assert 0 < terms[name].item() < 1e-3, name
    assert total.item() < 2e-3


def test_total_uses_original_weights() -> None:
    batch = _targets()
    torch.manual_seed(0)
    outputs = {name: torch.randn(2, c, 32, 32) for name, c in HEADS.items()}
    total, terms = MultiPoseLoss()(outputs, batch)
    expected = (
        terms["hm_loss"]
        + 0.1 * terms["wh_loss"]
        + terms["off_loss"]
        + terms["hp_loss"]
        + terms["hm_hp_loss"]
        + terms["hp_offset_loss"]
    )
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    weighted, same_terms = MultiPoseLoss(LossWeights(hm=2, wh=0.5, offset=3, hp=0, hm_hp=0))(outputs, batch)
    expected = (
        2 * terms["hm_loss"] + 0.5 * terms["wh_loss"] + 3 * terms["off_loss"] + 3 * terms["hp_offset_loss"]
    )
    assert weighted.item() == pytest.approx(expected.item(), rel=1e-6)
    assert same_terms["hm_hp_loss"].item() == 0.0  # weight 0: not computed, as the original
    # The heatmap terms are the focal loss of the clamped sigmoid of the logits.
    clamped = outputs["hm"].sigmoid().clamp(1e-4, 1 - 1e-4)
    assert terms["hm_loss"].item() == pytest.approx(focal_loss(clamped, batch["hm"]).item(), rel=1e-6)
