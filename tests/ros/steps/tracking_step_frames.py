"""Frames for the tracking step's tests: a person standing upright and a ProcessedFrame at a stamp."""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from centerpose_core.types import Person
from centerpose_ros.params import NodeParameters
from centerpose_ros.steps.frame_step import ProcessedFrame


def standing_person(cx: float) -> Person:
    """A 60x150 px person centred on column `cx` (rows 230-380), joints spread inside its box."""
    kps = np.zeros((17, 3), np.float32)
    kps[:, 0] = cx + np.linspace(-20, 20, 17)
    kps[:, 1] = np.linspace(240, 370, 17)
    kps[:, 2] = 0.9
    return Person(score=0.9, bbox=np.array([cx - 30, 230, cx + 30, 380], np.float32), keypoints=kps)


def frame_at(
    stamp_s: float, image: np.ndarray, persons: list[Person], params: NodeParameters
) -> ProcessedFrame:
    """The frame the tracking step gets: `image` and `persons` under a header stamped `stamp_s`."""
    header = Header()
    header.stamp.sec, header.stamp.nanosec = divmod(round(stamp_s * 1e9), 1_000_000_000)
    return ProcessedFrame(header, image, persons, params, received=0.0, inference_ms=0.0)
