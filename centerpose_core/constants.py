"""The one source of truth for COCO keypoint constants and the network's input normalisation.

Everything that needs keypoint names, skeleton edges or mean/std imports them from here, so the
model, the data pipeline, decode, drawing and the ROS node can never disagree. (The left/right
flip pairs live with the flip rules in `flip.py`.)
"""

from __future__ import annotations

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

# Skeleton edges as 0-based keypoint indices (COCO's `skeleton` field is 1-based).
SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
)

# Full-precision mean/std of CenterNet's COCO keypoint dataset class, BGR channel order,
# applied to pixel values scaled to [0, 1].
MEAN_BGR = np.array([0.40789654, 0.44719302, 0.47026115], dtype=np.float32)
STD_BGR = np.array([0.28863828, 0.27408164, 0.27809835], dtype=np.float32)

# Output heads of the multi-pose network, in CenterNet's order, with their channel counts.
HEADS: dict[str, int] = {
    "hm": 1,
    "wh": 2,
    "hps": 2 * NUM_KEYPOINTS,
    "reg": 2,
    "hm_hp": NUM_KEYPOINTS,
    "hp_offset": 2,
}
HEAD_NAMES: tuple[str, ...] = tuple(HEADS)

# The seed repo's optional mask branch (tensorboy/centerpose `WholeBodyHead`): `seg_feat` holds
# 48 mask features per output pixel, `seg` at each person center the weights of one 3x3
# convolution 48 -> 1 (48 x 3 x 3 = 432) that turns those features into that person's mask logits.
MASK_FEATURES = 48
MASK_KERNEL = 3
MASK_HEADS: dict[str, int] = {
    "seg_feat": MASK_FEATURES,
    "seg": MASK_FEATURES * MASK_KERNEL * MASK_KERNEL,
}
MASK_HEAD_NAMES: tuple[str, ...] = tuple(MASK_HEADS)
ALL_HEADS: dict[str, int] = {**HEADS, **MASK_HEADS}


def output_head_names(masks: bool) -> tuple[str, ...]:
    """The network's outputs in order (the ONNX output names): the six heads, then the two mask
    heads for a model with masks."""
    return HEAD_NAMES + (MASK_HEAD_NAMES if masks else ())
DEFAULT_MASK_THRESHOLD = 0.5

DOWN_RATIO = 4
DEFAULT_INPUT_SIZE = 512
DEFAULT_TOP_K = 100
# A joint-heatmap peak must score above this to replace a regressed keypoint (CenterNet's 0.1).
KEYPOINT_SNAP_THRESHOLD = 0.1
# ...and lie closer than this fraction of the person box's longer side (CenterNet's 0.3).
KEYPOINT_SNAP_MAX_DISTANCE = 0.3

# Per-keypoint standard deviations of COCO's object keypoint similarity (OKS), as pycocotools'
# COCOeval: how far annotators scatter each joint, relative to the person's scale.
KEYPOINT_OKS_SIGMAS = np.array(
    [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087]
    + [0.089, 0.089]
)
