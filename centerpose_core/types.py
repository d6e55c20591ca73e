"""Result types shared by every backend, the CLI and the ROS node."""

from __future__ import annotations

from dataclasses import dataclass
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
    """

    score: float
    bbox: np.ndarray
    keypoints: np.ndarray
    id: int = -1

    def to_json(self, with_id: bool = False) -> dict[str, Any]:
        """The `persons` entry of DESIGN.md's predict JSON; `with_id` adds `"id"` (tracking output)."""
        entry: dict[str, Any] = {"id": int(self.id)} if with_id else {}
        entry.update(
            bbox=[float(v) for v in self.bbox],
            score=float(self.score),
            keypoints=[[float(x), float(y), float(s)] for x, y, s in self.keypoints],
        )
        return entry
