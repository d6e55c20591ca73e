"""Per-person instance masks from the seed repo's dynamic-convolution branch (`whole_body_decode`).

At each kept person's integer center peak, the 432 values of `seg` are the weights of one 3x3
convolution 48 -> 1 (viewed as (1, 48, 3, 3): channel-major, then kernel row, then column); run
over the 48 `seg_feat` maps (padding 1) it gives that person's mask logits at the output
resolution. Probabilities (sigmoid) go back to source-image pixels through the inverse of the
affine that maps boxes and keypoints back (bilinear, `cv2.warpAffine`), then a threshold.

Only the persons a caller keeps are convolved (not all K candidates): the cost grows with kept
persons, not with K. This runs in torch on the backend's device, after every backend, so all
backends give the same masks for the same head maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from centerpose_core.affine import WarpMeta
from centerpose_core.constants import DEFAULT_MASK_THRESHOLD, MASK_FEATURES, MASK_HEAD_NAMES, MASK_KERNEL


def has_mask_maps(maps: dict[str, torch.Tensor]) -> bool:
    """True when head maps carry the mask branch (`seg_feat` and `seg`)."""
    return all(name in maps for name in MASK_HEAD_NAMES)


def mask_logits(seg_feat: torch.Tensor, seg: torch.Tensor, inds: torch.Tensor) -> torch.Tensor:
    """One image's mask logits for the persons whose integer centers are at flat indices `inds`.

    seg_feat: (48, H, W); seg: (432, H, W); inds: (N,) flat index y * W + x. Returns (N, H, W).
    """
    n = int(inds.numel())
    height, width = seg_feat.shape[-2:]
    if n == 0:
        return seg_feat.new_zeros((0, height, width))
    kernels = seg.reshape(seg.shape[0], -1)[:, inds.long()].t()  # (N, 432)
    kernels = kernels.reshape(n, MASK_FEATURES, MASK_KERNEL, MASK_KERNEL)
    return F.conv2d(seg_feat.unsqueeze(0), kernels, padding=MASK_KERNEL // 2)[0]


def mask_probabilities(
    maps: dict[str, torch.Tensor], inds: torch.Tensor, counts: Sequence[int]
) -> list[torch.Tensor]:
    """Sigmoid mask probabilities (N_i, H, W) of the first `counts[i]` candidates of each image.

    `inds` (B, K) are the candidates' integer center indices (decode's `inds`, sorted by score
    as the candidates, so the kept persons are a prefix).
    """
    seg_feat, seg = maps["seg_feat"], maps["seg"]
    return [
        mask_logits(seg_feat[i], seg[i], inds[i, :count]).float().sigmoid() for i, count in enumerate(counts)
    ]


def masks_to_image(
    probabilities: np.ndarray,
    meta: WarpMeta,
    image_hw: tuple[int, int],
    threshold: float = DEFAULT_MASK_THRESHOLD,
) -> np.ndarray:
    """(N, H', W') probabilities on the output map -> (N, h, w) bool masks in source pixels.

    Bilinear through `meta.output_to_image()`, the matrix that maps boxes and keypoints back;
    pixels outside the output map read 0 (background).
    """
    height, width = image_hw
    matrix = meta.output_to_image()
    out = np.zeros((len(probabilities), height, width), dtype=bool)
    for n, prob in enumerate(probabilities):
        warped = cv2.warpAffine(
            np.ascontiguousarray(prob, dtype=np.float32),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
        np.greater(warped, threshold, out=out[n])
    return out


def label_image(persons: Sequence, height: int, width: int) -> np.ndarray:
    """(height, width) uint8: 0 background, 1 + i where person i's mask is (the ROS `/pose/masks`
    encoding). Where masks overlap, the higher-scoring person wins (ties: the earlier index).

    At most 255 persons are labelled (a ValueError beyond: uint8 values); persons without a mask
    or with a mask of another size label nothing.
    """
    if len(persons) > 255:
        raise ValueError(f"a mono8 label image holds at most 255 persons, got {len(persons)}")
    labels = np.zeros((height, width), dtype=np.uint8)
    # Paint the lowest score first so that higher scores overwrite it.
    order = sorted(range(len(persons)), key=lambda i: (persons[i].score, -i))
    for i in order:
        mask = persons[i].mask
        if mask is not None and mask.shape == (height, width):
            np.copyto(labels, np.uint8(i + 1), where=mask)
    return labels
