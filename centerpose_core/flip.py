"""Horizontal flip, in one place: COCO's left/right keypoint pairs, the mirrored annotations of a
flipped training sample, the mirrored half of a flip-test batch, and CenterNet's rule for merging
the two passes (`--flip_test`).

Mirroring swaps every left joint with its right twin; `FLIP_PERMUTATION[j]` is the joint that j
becomes. The ONNX export writes `FLIP_PAIRS` into its metadata for other runtimes.
"""

from __future__ import annotations

import numpy as np
import torch

from centerpose_core.constants import MASK_HEAD_NAMES, NUM_KEYPOINTS

# Left/right pairs swapped by a horizontal flip (COCO order), as CenterNet's `flip_idx`.
FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
)


def _flip_permutation(pairs: tuple[tuple[int, int], ...], n: int) -> tuple[int, ...]:
    perm = list(range(n))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


# FLIP_PERMUTATION[j] is the keypoint that j becomes after a horizontal flip.
FLIP_PERMUTATION: tuple[int, ...] = _flip_permutation(FLIP_PAIRS, NUM_KEYPOINTS)


def mirror_annotations(boxes: np.ndarray, keypoints: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) x1 y1 x2 y2 and keypoints (N, 17, 3) of an image of `width` pixels, mirrored
    as the original's training flip: x -> width - x - 1, left and right joints swapped."""
    boxes = boxes.copy()
    boxes[:, [0, 2]] = width - boxes[:, [2, 0]] - 1
    keypoints = keypoints[:, list(FLIP_PERMUTATION)].copy()
    keypoints[:, :, 0] = width - keypoints[:, :, 0] - 1
    return boxes, keypoints


def fill_mirrored_half(batch: np.ndarray) -> None:
    """In a (2N, 3, S, S) flip-test batch, write the mirror of image i into slot N + i."""
    n = len(batch) // 2
    batch[n:] = batch[:n, :, :, ::-1]


def merge_flip(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Average a batch [images, mirrored images] into one set of activated maps (flip test).

    As the original: `hm`, `wh`, `hps` and `hm_hp` are averaged with their mirrored twins
    (left/right joint channels swapped, x offsets negated for `hps`); `reg` and `hp_offset` come
    from the unmirrored pass only. Expects `hm`/`hm_hp` already passed through the sigmoid.
    The mask heads (`seg_feat`, `seg`), when present, come from the unmirrored pass only too: a
    mirrored dynamic kernel would need its 3x3 taps mirrored and its features re-paired, and the
    seed repo defines no flip rule for them.
    """
    n = outputs["hm"].shape[0] // 2
    perm = list(FLIP_PERMUTATION)
    merged = {
        "hm": (outputs["hm"][:n] + outputs["hm"][n:].flip(3)) / 2,
        "wh": (outputs["wh"][:n] + outputs["wh"][n:].flip(3)) / 2,
        "reg": outputs["reg"][:n],
        "hp_offset": outputs["hp_offset"][:n],
    }
    hps_flipped = outputs["hps"][n:].flip(3)
    b, _, h, w = hps_flipped.shape
    hps_flipped = hps_flipped.reshape(b, NUM_KEYPOINTS, 2, h, w)[:, perm]
    hps_flipped = hps_flipped * torch.tensor(
        [-1.0, 1.0], dtype=hps_flipped.dtype, device=hps_flipped.device
    ).view(1, 1, 2, 1, 1)
    merged["hps"] = (outputs["hps"][:n] + hps_flipped.reshape(b, 2 * NUM_KEYPOINTS, h, w)) / 2
    merged["hm_hp"] = (outputs["hm_hp"][:n] + outputs["hm_hp"][n:].flip(3)[:, perm]) / 2
    for name in MASK_HEAD_NAMES:
        if name in outputs:
            merged[name] = outputs[name][:n]
    return merged
