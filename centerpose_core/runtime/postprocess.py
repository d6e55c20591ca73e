"""Decoded candidates (output-map pixels) -> Person objects in source-image pixels."""

from __future__ import annotations

import numpy as np
import torch

from centerpose_core.affine import WarpMeta, apply_affine
from centerpose_core.types import Person


def to_persons(
    decoded: dict[str, torch.Tensor],
    metas: list[WarpMeta],
    threshold: float = 0.0,
    max_persons: int | None = None,
) -> list[list[Person]]:
    """Map each image's candidates back through the inverse warp (not clipped, as CenterNet).

    Candidates come sorted by score; those scoring below `threshold` are dropped and at most
    `max_persons` are kept per image.
    """
    arrays = {key: value.detach().float().cpu().numpy() for key, value in decoded.items()}
    results: list[list[Person]] = []
    for i, meta in enumerate(metas):
        scores = arrays["scores"][i]
        keep = np.flatnonzero(scores >= threshold)
        if max_persons is not None:
            keep = keep[:max_persons]
        matrix = meta.output_to_image()
        boxes = apply_affine(arrays["boxes"][i][keep].reshape(-1, 2, 2), matrix).reshape(-1, 4)
        points = apply_affine(arrays["keypoints"][i][keep], matrix)
        kp_scores = arrays["keypoint_scores"][i][keep]
        results.append(
            [
                Person(
                    score=float(scores[idx]),
                    bbox=boxes[n],
                    keypoints=np.concatenate([points[n], kp_scores[n][:, None]], axis=1).astype(np.float32),
                )
                for n, idx in enumerate(keep)
            ]
        )
    return results
