"""CenterNet's multi-pose loss (`src/lib/trains/multi_pose.py`, `src/lib/models/losses.py`).

Terms: CornerNet focal loss on the center (`hm`) and joint (`hm_hp`) heatmaps, L1 on the keypoint
offsets (`hps`, normalised by the number of labelled coordinates), L1 on box size (`wh`), center
offset (`reg`) and joint offset (`hp_offset`), each normalised by its mask. Heads come in as raw
logits; the heatmaps go through the original's clamped sigmoid.

A mask model (the seed repo's whole-body branch) adds a seventh term, `seg_loss` (`seg_loss`
below, the seed's `SegLoss2`), weighted by `LossWeights.seg`; it is 0 for the six-head model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from centerpose_core.constants import MASK_FEATURES, MASK_KERNEL
from centerpose_core.data.masks import MASK_IGNORE
from centerpose_core.decode import gather_feat
from centerpose_core.loss_weights import LossWeights
from centerpose_core.lovasz import symmetric_lovasz_hinge

# The original clamps the heatmap sigmoid so log() stays finite.
SIGMOID_EPS = 1e-4


def clamped_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    return torch.clamp(logits.sigmoid(), min=SIGMOID_EPS, max=1 - SIGMOID_EPS)


def focal_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """CornerNet's penalty-reduced focal loss on probabilities `pred` vs a gaussian heatmap `gt`.

    Positives are the pixels where gt == 1 (alpha 2); negatives are weighted by (1 - gt)^4 (beta 4);
    the sum is divided by the number of positives (not divided when there are none).
    """
    pred = pred.float()
    gt = gt.float()
    pos = gt.eq(1).float()
    neg = gt.lt(1).float()
    neg_weights = torch.pow(1 - gt, 4)
    pos_loss = (torch.log(pred) * torch.pow(1 - pred, 2) * pos).sum()
    neg_loss = (torch.log(1 - pred) * torch.pow(pred, 2) * neg_weights * neg).sum()
    num_pos = pos.sum()
    if num_pos == 0:
        return -neg_loss
    return -(pos_loss + neg_loss) / num_pos


def _gather(output: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) map at flat indices (B, N) -> (B, N, C) (the original's `_transpose_and_gather_feat`)."""
    return gather_feat(output, ind.long())


def reg_l1_loss(
    output: torch.Tensor, mask: torch.Tensor, ind: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Summed L1 over objects with mask 1 (all C channels), divided by mask count x C (+1e-4)."""
    pred = _gather(output, ind).float()
    mask = mask.unsqueeze(2).expand_as(pred).float()
    loss = F.l1_loss(pred * mask, target.float() * mask, reduction="sum")
    return loss / (mask.sum() + 1e-4)


def reg_weighted_l1_loss(
    output: torch.Tensor, mask: torch.Tensor, ind: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Summed L1 with a per-coordinate mask (B, N, C), divided by the mask's sum (+1e-4)."""
    pred = _gather(output, ind).float()
    mask = mask.float()
    loss = F.l1_loss(pred * mask, target.float() * mask, reduction="sum")
    return loss / (mask.sum() + 1e-4)


def seg_loss(
    seg: torch.Tensor, seg_feat: torch.Tensor, ind: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """The seed's SegLoss2: every slot's 3x3 kernel (the 432 `seg` values at its `ind`) over its
    own image's `seg_feat` as one grouped convolution (padding 1), then the symmetric Lovász hinge
    over all pixels of the batch whose target is not 255.

    seg (B, 432, H, W), seg_feat (B, 48, H, W), ind (B, M), target (B, M, H, W) uint8 0/1/255.
    """
    batch, channels, height, width = seg_feat.shape
    kernels = _gather(seg, ind).float().reshape(-1, MASK_FEATURES, MASK_KERNEL, MASK_KERNEL)
    logits = F.conv2d(
        seg_feat.float().reshape(1, batch * channels, height, width),
        kernels,
        padding=MASK_KERNEL // 2,
        groups=batch,
    ).reshape(batch, -1, height, width)
    return symmetric_lovasz_hinge(logits, target, ignore=MASK_IGNORE)


LOSS_TERMS = ("hm_loss", "wh_loss", "off_loss", "hp_loss", "hm_hp_loss", "hp_offset_loss", "seg_loss")


class MultiPoseLoss(nn.Module):
    """Weighted sum of the six CenterNet multi-pose terms.

    `MultiPoseLoss()` gives the original weights (`LossWeights()`: hm 1, wh 0.1, offset 1, also
    weighting `hp_offset`, hp 1, hm_hp 1). `forward(outputs, batch)` takes the model's raw head
    logits and a batch of targets (names as `PoseTargetCodec`, with a batch dimension) and returns
    `(total, terms)` with `terms` named as `LOSS_TERMS` (terms whose weight is 0 are reported as 0
    and not computed, as the original skips them). `seg_loss` is computed when the outputs have
    the mask heads and the batch a `seg` target (else reported as 0).
    """

    def __init__(self, weights: LossWeights | None = None) -> None:
        super().__init__()
        self.weights = weights if weights is not None else LossWeights()

    def forward(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        weights = self.weights
        zero = outputs["hm"].new_zeros((), dtype=torch.float32)
        hm_loss = focal_loss(clamped_sigmoid(outputs["hm"].float()), batch["hm"])
        hp_loss = reg_weighted_l1_loss(outputs["hps"], batch["hps_mask"], batch["ind"], batch["hps"])
        wh_loss = zero
        if weights.wh > 0:
            wh_loss = reg_l1_loss(outputs["wh"], batch["reg_mask"], batch["ind"], batch["wh"])
        off_loss = hp_offset_loss = zero
        if weights.offset > 0:
            off_loss = reg_l1_loss(outputs["reg"], batch["reg_mask"], batch["ind"], batch["reg"])
            hp_offset_loss = reg_l1_loss(
                outputs["hp_offset"], batch["hp_mask"], batch["hp_ind"], batch["hp_offset"]
            )
        hm_hp_loss = zero
        if weights.hm_hp > 0:
            hm_hp_loss = focal_loss(clamped_sigmoid(outputs["hm_hp"].float()), batch["hm_hp"])
        mask_loss = zero
        if weights.seg > 0 and "seg" in outputs and "seg_feat" in outputs and "seg" in batch:
            mask_loss = seg_loss(outputs["seg"], outputs["seg_feat"], batch["ind"], batch["seg"])
        total = (
            weights.hm * hm_loss
            + weights.wh * wh_loss
            + weights.offset * off_loss
            + weights.hp * hp_loss
            + weights.hm_hp * hm_hp_loss
            + weights.offset * hp_offset_loss
            + weights.seg * mask_loss
        )
        terms = {
            "hm_loss": hm_loss,
            "wh_loss": wh_loss,
            "off_loss": off_loss,
            "hp_loss": hp_loss,
            "hm_hp_loss": hm_hp_loss,
            "hp_offset_loss": hp_offset_loss,
            "seg_loss": mask_loss,
        }
        return total, terms
