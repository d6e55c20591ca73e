"""Decoding of the six multi-pose heads into persons, as CenterNet's `multi_pose_decode`.

Shared by every backend (torch, ONNX Runtime, TensorRT): backends return raw head logits and
this module does the rest on whatever device the tensors live on, so all backends give the same
persons. Coordinates here are in output-map pixels (input / 4); `runtime.postprocess` maps them
back to the source image.

Shapes: B images, K candidates, J = 17 joints, output map H x W.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from centerpose_core.constants import (
    KEYPOINT_SNAP_MAX_DISTANCE,
    KEYPOINT_SNAP_THRESHOLD,
)

# Placeholder coordinate for joint peaks that fail the score threshold, as the original: far
# enough away that such a peak is only ever nearest when no peak passes.
_FAR_AWAY = -10000.0


def peak_nms(heat: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Zero every value that is not the maximum of its kernel x kernel neighbourhood."""
    hmax = F.max_pool2d(heat, kernel, stride=1, padding=(kernel - 1) // 2)
    return heat * (hmax == heat).to(heat.dtype)


def gather_feat(feat: torch.Tensor, inds: torch.Tensor) -> torch.Tensor:
    """Values of a (B, C, H, W) map at flat spatial indices (B, N): returns (B, N, C)."""
    b, c = feat.shape[:2]
    flat = feat.reshape(b, c, -1)
    return flat.gather(2, inds.unsqueeze(1).expand(b, c, inds.shape[1])).permute(0, 2, 1)


def topk_per_channel(heat: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
    """Top-k of each channel of (B, C, H, W): scores, flat indices, ys, xs, each (B, C, k)."""
    b, c, h, w = heat.shape
    scores, inds = torch.topk(heat.reshape(b, c, -1), k)
    ys = torch.div(inds, w, rounding_mode="floor").to(heat.dtype)
    xs = (inds % w).to(heat.dtype)
    return scores, inds, ys, xs


def activate(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Apply the sigmoid to the two heatmap heads (inference only: training clamps it)."""
    activated = dict(outputs)
    activated["hm"] = outputs["hm"].sigmoid()
    activated["hm_hp"] = outputs["hm_hp"].sigmoid()
    return activated


def decode_multi_pose(maps: dict[str, torch.Tensor], k: int = 100) -> dict[str, torch.Tensor]:
    """Top-k person candidates from activated head maps, in output-map pixels.

    Returns, sorted by score (highest first): `boxes` (B, K, 4) x1 y1 x2 y2, `scores` (B, K),
    `keypoints` (B, K, J, 2) x y, `keypoint_scores` (B, K, J), `inds` (B, K) the flat index
    y * W + x of each integer center peak (where the mask branch reads its kernel).
    Each keypoint is regressed from its person center, then snapped to the nearest joint-heatmap
    peak when that peak scores above 0.1, lies inside the person box and is closer than 0.3 x
    the box's longer side; its score is that peak's score, or 0 where the regressed location
    was kept.
    """
    hm, wh, hps = maps["hm"], maps["wh"], maps["hps"]
    reg, hm_hp, hp_offset = maps["reg"], maps["hm_hp"], maps["hp_offset"]
    batch, _, height, width = hm.shape
    k = min(k, height * width)
    j = hps.shape[1] // 2

    scores, inds, ys, xs = (t[:, 0] for t in topk_per_channel(peak_nms(hm), k))  # (B, K)

    # Keypoints regressed from the integer center.
    kps = gather_feat(hps, inds).reshape(batch, k, j, 2)
    kps = kps + torch.stack([xs, ys], dim=-1).unsqueeze(2)

    offsets = gather_feat(reg, inds)  # (B, K, 2)
    cx, cy = xs + offsets[..., 0], ys + offsets[..., 1]
    size = gather_feat(wh, inds)
    boxes = torch.stack(
        [cx - size[..., 0] / 2, cy - size[..., 1] / 2, cx + size[..., 0] / 2, cy + size[..., 1] / 2], dim=-1
    )

    # Joint heatmap peaks: top-k per joint channel, refined by the shared sub-pixel offset.
    peak_scores, peak_inds, peak_ys, peak_xs = topk_per_channel(peak_nms(hm_hp), k)  # (B, J, K)
    peak_off = gather_feat(hp_offset, peak_inds.reshape(batch, -1)).reshape(batch, j, k, 2)
    peak_xy = torch.stack([peak_xs + peak_off[..., 0], peak_ys + peak_off[..., 1]], dim=-1)
    strong = peak_scores > KEYPOINT_SNAP_THRESHOLD
    peak_xy = torch.where(strong.unsqueeze(-1), peak_xy, torch.full_like(peak_xy, _FAR_AWAY))
    peak_scores = torch.where(strong, peak_scores, torch.full_like(peak_scores, -1.0))

    # Nearest peak (over all k peaks of the joint) for every candidate's regressed keypoint.
    reg_kps = kps.permute(0, 2, 1, 3)  # (B, J, K, 2)
    dist = torch.cdist(reg_kps, peak_xy, compute_mode="donot_use_mm_for_euclid_dist")  # (B, J, K, K)
    min_dist, min_ind = dist.min(dim=3)  # (B, J, K)
    near_score = peak_scores.gather(2, min_ind)
    near_xy = peak_xy.gather(2, min_ind.unsqueeze(-1).expand(batch, j, k, 2))

    x1, y1, x2, y2 = (boxes[..., i].unsqueeze(1) for i in range(4))  # (B, 1, K)
    longer_side = torch.maximum(y2 - y1, x2 - x1)
    keep_regressed = (
        (near_xy[..., 0] < x1)
        | (near_xy[..., 0] > x2)
        | (near_xy[..., 1] < y1)
        | (near_xy[..., 1] > y2)
        | (near_score < KEYPOINT_SNAP_THRESHOLD)
        | (min_dist > longer_side * KEYPOINT_SNAP_MAX_DISTANCE)
    )
    final = torch.where(keep_regressed.unsqueeze(-1), reg_kps, near_xy)
    kp_scores = torch.where(keep_regressed, torch.zeros_like(near_score), near_score)
    return {
        "boxes": boxes,
        "scores": scores,
        "keypoints": final.permute(0, 2, 1, 3),
        "keypoint_scores": kp_scores.permute(0, 2, 1),
        "inds": inds,
    }
