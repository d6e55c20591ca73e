"""Tracker settings: one frozen dataclass whose field names are the ROS parameters / YAML keys.

Each field's `metadata["help"]` is its one-line description, shared by the CLI flags and the
node's parameter descriptors. Defaults follow ByteTrack (times in seconds instead of frames), except
where `benchmarks/tracking_sweep.py` on the tuning seed sets chose otherwise (README, "Tracking"):
the high threshold is ByteTrack's threshold for starting a track (0.6) rather than its first-stage
one (0.5), which cut ID switches by 13 % there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from centerpose_core.settings import Described, setting


@dataclass(frozen=True)
class TrackerConfig(Described):
    """Thresholds of `PoseTracker`; see each field's help (`TrackerConfig.describe()`)."""

    high_score_threshold: float = setting(
        0.6, "detections at or above are matched first and may start new tracks"
    )
    low_score_threshold: float = setting(
        0.1,
        "detections from here up to the high threshold continue tracks (ByteTrack's second "
        "stage: occluded persons score low); lower ones get no id",
    )
    match_threshold: float = setting(0.2, "minimum similarity to match a high-score detection to a track")
    low_match_threshold: float = setting(0.5, "minimum similarity in the low-score stage (stricter)")
    low_score_lost_s: float = setting(
        0.5,
        "a track unseen for at most this long may also be continued by a low-score detection "
        "(0: only tracks seen in the previous frame, as ByteTrack)",
    )
    keypoint_weight: float = setting(
        0.5, "similarity = w * OKS + (1 - w) * box IoU where enough joints are visible (0: boxes only)"
    )
    keypoint_score_threshold: float = setting(0.1, "a joint is visible (used by OKS) above this score")
    min_shared_keypoints: int = setting(3, "fewer joints visible in both track and detection: IoU only")
    confirm_hits: int = setting(2, "detections in a row a new track needs before it gets an id")
    low_birth_threshold: float = setting(
        0.35,
        "detections from here up to the high threshold that continue no track start tentative "
        "tracks too (a person half hidden in a group never scores high); at or above the high "
        "threshold: off",
    )
    low_birth_hits: int = setting(
        4, "detections in a row a track with any such low-score detection needs before it gets an id"
    )
    refind_distance: float = setting(
        0.3,
        "a high-score detection left over re-finds a lost track whose last-seen or predicted box "
        "centre is within this many box heights, at a similar height (0: off)",
    )
    lost_timeout_s: float = setting(
        3.0, "seconds a confirmed track may go unseen before it is removed (its id is never reused)"
    )

    def __post_init__(self) -> None:
        for name in (
            "high_score_threshold",
            "low_score_threshold",
            "keypoint_score_threshold",
            "keypoint_weight",
            "low_birth_threshold",
        ):
            _check_number(name, getattr(self, name), 0.0, 1.0)
        for name in ("match_threshold", "low_match_threshold"):
            value = getattr(self, name)
            _check_number(name, value, 0.0, 1.0)
            if value <= 0.0:
                raise ValueError(f"tracking {name} must be in (0, 1], got {value}")
        if self.low_score_threshold > self.high_score_threshold:
            raise ValueError(
                f"tracking low_score_threshold ({self.low_score_threshold}) must not exceed "
                f"high_score_threshold ({self.high_score_threshold})"
            )
        for name in ("min_shared_keypoints", "confirm_hits", "low_birth_hits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"tracking {name} must be an integer >= 1, got {value!r}")
        _check_number("lost_timeout_s", self.lost_timeout_s, 0.0, math.inf)
        _check_number("low_score_lost_s", self.low_score_lost_s, 0.0, math.inf)
        _check_number("refind_distance", self.refind_distance, 0.0, 2.0)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> TrackerConfig:
        """Build from YAML / ROS parameters, naming any unknown key instead of ignoring it."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown tracking setting(s) {unknown}; known: {known}")
        return cls(**values)


def _check_number(name: str, value: object, low: float, high: float) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and low <= value <= high
    if not ok or not math.isfinite(value):
        upper = "inf)" if high == math.inf else f"{high}]"
        raise ValueError(f"tracking {name} must be a finite number in [{low}, {upper}, got {value!r}")
