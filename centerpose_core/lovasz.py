"""Binary Lovász hinge (Berman, Rannen Triki, Blaschko, CVPR 2018), as the seed repo uses it.

The loss sorts the per-pixel hinge errors `1 - logit * sign` (sign +1 for foreground, -1 for
background) in decreasing order and weights them by the gradient of the Lovász extension of the
Jaccard loss (`lovasz_grad`): a convex surrogate of 1 - IoU. As the seed repo's copy, the errors
go through `elu(e) + 1` (smooth and positive) instead of `relu(e)`, and all non-ignored pixels
of the batch form one set (no per-image mean).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Jaccard-loss increments along labels sorted by decreasing error (Alg. 1 of the paper).

    With g = number of foreground pixels, after the first i pixels: intersection g - fg_i,
    union g + bg_i, loss_i = 1 - intersection / union; returns loss_1, loss_2 - loss_1, ...
    """
    gt = gt_sorted.float()
    total = gt.sum()
    intersection = total - gt.cumsum(0)
    union = total + (1.0 - gt).cumsum(0)
    jaccard = 1.0 - intersection / union
    if gt.numel() > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def lovasz_hinge(logits: torch.Tensor, labels: torch.Tensor, ignore: float | None = None) -> torch.Tensor:
    """Binary Lovász hinge over all pixels of `logits` whose `labels` (0/1) are not `ignore`.

    `labels` should be a signed or float tensor: an ignore value such as -254 would wrap in uint8.
    No valid pixel: 0 (with a zero gradient to every logit).
    """
    logits = logits.reshape(-1).float()
    labels = labels.reshape(-1)
    if ignore is not None:
        valid = labels != ignore
        logits, labels = logits[valid], labels[valid]
    if labels.numel() == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels.float() - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, order = torch.sort(errors, descending=True)
    grad = lovasz_grad(labels[order])
    return torch.dot(F.elu(errors_sorted) + 1.0, grad)


def symmetric_lovasz_hinge(logits: torch.Tensor, targets: torch.Tensor, ignore: int = 255) -> torch.Tensor:
    """The seed's SegLoss2 criterion: the mean of the hinge on the foreground and on the
    background (`-logits` against `1 - targets`, whose ignore value becomes 1 - ignore)."""
    targets = targets.long()
    return (lovasz_hinge(logits, targets, ignore) + lovasz_hinge(-logits, 1 - targets, 1 - ignore)) / 2
