"""Track-to-detection similarity (keypoints + boxes) and thresholded optimal assignment."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from centerpose_core.tracking.config import TrackerConfig
from centerpose_core.tracking.similarity import box_area, box_iou, keypoint_similarity


def pose_similarity(
    track_boxes: np.ndarray,
    track_keypoints: np.ndarray,
    det_boxes: np.ndarray,
    det_keypoints: np.ndarray,
    config: TrackerConfig,
    score_weighted: bool = True,
) -> np.ndarray:
    """(N, M) similarity in [0, 1] of N (predicted) tracks to M detections.

    `w * OKS + (1 - w) * IoU` where the boxes overlap and share at least
    `min_shared_keypoints` visible joints, plain IoU elsewhere (0 without overlap: keypoints
    of disjoint boxes are so far apart that their OKS is ~0). IoU tells where a person is;
    OKS also tells which pose is there, which is what separates two persons whose boxes
    overlap. OKS is scaled by the track's predicted box area, and its joints are weighted by
    their scores in track and detection (`score_weighted`; False: COCO's plain mean).
    """
    iou = box_iou(track_boxes, det_boxes)
    if config.keypoint_weight == 0.0:
        return iou
    rows, cols = np.nonzero(iou > 0.0)
    oks, shared = keypoint_similarity(
        track_keypoints[rows],
        det_keypoints[cols],
        box_area(track_boxes)[rows],
        config.keypoint_score_threshold,
        score_weighted=score_weighted,
    )
    use = shared >= config.min_shared_keypoints
    rows, cols, oks = rows[use], cols[use], oks[use]
    weight = config.keypoint_weight
    similarity = iou.copy()
    similarity[rows, cols] = weight * oks + (1.0 - weight) * iou[rows, cols]
    return similarity


def best_explained(overlap: np.ndarray) -> np.ndarray:
    """(N, M) mask: where track n overlaps detection m at least as much as any other track does.

    For low-score detections, with `overlap` the box IoU: a half-hidden person's joints may have
    been snapped onto the occluder's, so the keypoints can make it look like the occluder's
    track; its box still says where it is. Such a detection may only continue the track whose box
    explains it best, never take a track whose own person stands elsewhere.
    """
    if overlap.size == 0:
        return np.ones(overlap.shape, dtype=bool)
    return overlap >= overlap.max(axis=0, keepdims=True)


def match(similarity: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the assignment maximising total similarity over pairs >= `threshold`.

    Pairs below the threshold count as 0 (the same as leaving both unmatched), so the solver
    never trades two valid pairs for one; they are dropped from the result afterwards.
    """
    if similarity.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    allowed = np.where(similarity >= threshold, similarity, 0.0)
    rows, cols = linear_sum_assignment(allowed, maximize=True)
    keep = similarity[rows, cols] >= threshold
    return rows[keep], cols[keep]
