"""Result types shared by every backend, the CLI and the ROS node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Person:
    """One detected person, in source-image pixels (not clipped to the image, as CenterNet).

    bbox: (4,) float32 `x_min, y_min, x_max, y_max`.
    keypoints: (17, 3) float32 `x, y, score` in COCO order. A keypoint's score is the score of
    the joint-heatmap peak it was snapped to, or 0 where no peak qualified and the location
    regressed from the person center was kept (such a keypoint is a guess, not a detection).
    score: the person-center heatmap peak in [0, 1].
    id: track id from `centerpose_core.tracking`; -1 when not tracked or the track is not yet
        confirmed (as `PersonPose.id`).
    mask: (h, w) bool instance mask in source-image pixels when the model has the mask branch,
        else None.
    mask_box: (x0, y0, x1, y1), end-exclusive source pixels, outside which `mask` is all False
        (the Predictor sets it with the mask), so that consumers can work on that rectangle only;
        None: anywhere.
    """

    score: float
    bbox: np.ndarray
    keypoints: np.ndarray
    id: int = -1
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    mask_box: tuple[int, int, int, int] | None = field(default=None, repr=False, compare=False)

    def mask_region(self) -> tuple[slice, slice]:
        """The (rows, columns) slices of `mask` that hold all its True pixels (`mask_box`, or the
        whole image without one)."""
        if self.mask_box is None:
            return slice(None), slice(None)
        x0, y0, x1, y1 = self.mask_box
        return slice(y0, y1), slice(x0, x1)

    def to_json(self, with_id: bool = False) -> dict[str, Any]:
        """The `persons` entry of DESIGN.md's predict JSON; `with_id` adds `"id"` (tracking output)."""
        entry: dict[str, Any] = {"id": int(self.id)} if with_id else {}
        entry.update(
            bbox=[float(v) for v in self.bbox],
            score=float(self.score),
            keypoints=[[float(x), float(y), float(s)] for x, y, s in self.keypoints],
        )
        if self.mask is not None:
            entry["segmentation"] = mask_to_rle(self.mask)
        return entry


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE of a bool (h, w) mask (`pycocotools.mask.encode`), counts as a str (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
