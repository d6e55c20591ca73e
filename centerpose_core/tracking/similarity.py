"""Pairwise similarities between tracks and detections: box IoU and keypoint OKS.

IoU is an (N, M) matrix of N reference objects (tracks) against M candidates (detections); OKS
is computed for given pairs only, since a tracker needs it only where boxes overlap.
"""

from __future__ import annotations

import numpy as np

from centerpose_core.constants import KEYPOINT_OKS_SIGMAS


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of (N, 4) `x_min, y_min, x_max, y_max` boxes (0 for degenerate ones)."""
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of (N, 4) and (M, 4) boxes; 0 where the union is empty."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def keypoint_similarity(
    reference: np.ndarray,
    candidates: np.ndarray,
    areas: np.ndarray,
    score_threshold: float,
    sigmas: np.ndarray = KEYPOINT_OKS_SIGMAS,
    score_weighted: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """COCO's object keypoint similarity of P pairs over the joints visible in both, and their count.

    reference: (P, K, 3) `x, y, score` keypoints playing COCO's ground-truth role, with `areas`
        (P,) their scale (COCO uses the segment area; a tracker only has a box area).
    candidates: (P, K, 3) keypoints, pair p compared with `reference[p]`.
    A joint counts as visible where its score is above `score_threshold`. Per pair,
    `OKS = mean over shared visible joints of exp(-d^2 / (2 * area * (2 sigma)^2))`, the
    formula of pycocotools' `computeOks`; pairs without shared visible joints get 0.
    score_weighted: the mean is weighted by the product of the two joints' scores instead (still
        over the shared visible joints): a hidden joint that a detector snapped onto an occluder's
        joint with a moderate score counts less than a clearly seen one.
    Returns `(oks, shared)`, both (P,); `shared` counts the joints the mean is over.
    """
    delta = reference[:, :, :2] - candidates[:, :, :2]
    dist2 = delta[:, :, 0] ** 2 + delta[:, :, 1] ** 2
    scale = 2.0 * (areas[:, None] + np.spacing(1)) * ((2.0 * sigmas) ** 2)[None, :]
    visible = (reference[:, :, 2] > score_threshold) & (candidates[:, :, 2] > score_threshold)
    shared = visible.sum(axis=1)
    weights = visible * reference[:, :, 2] * candidates[:, :, 2] if score_weighted else visible
    total = (np.exp(-dist2 / scale) * weights).sum(axis=1)
    weight_sum = weights.sum(axis=1)
    oks = np.divide(total, weight_sum, out=np.zeros(total.shape), where=weight_sum > 0)
    return oks, shared
