"""Multi-person tracking over `Person` lists with timestamps (pure numpy/scipy, no ROS).

tracker = PoseTracker(TrackerConfig(lost_timeout_s=1.0))
persons = tracker.update(persons, stamp_s)   # same persons, `id` set (-1: not confirmed)
"""

from centerpose_core.tracking.config import TrackerConfig
from centerpose_core.tracking.tracker import PoseTracker, TrackInfo, TrackState

__all__ = ["PoseTracker", "TrackInfo", "TrackState", "TrackerConfig"]
