"""Persons with hand-placed boxes and poses for the tracker tests."""

from __future__ import annotations

import numpy as np

from centerpose_core.types import Person

# A standing person in box units (x right, y down, box [0, 1] x [0, 1]), COCO order.
NEUTRAL = np.array(
    [
        [0.50, 0.08],  # nose
        [0.54, 0.06],
        [0.46, 0.06],
        [0.58, 0.08],
        [0.42, 0.08],
        [0.68, 0.22],  # left shoulder
        [0.32, 0.22],
        [0.74, 0.38],  # left elbow
        [0.26, 0.38],
        [0.76, 0.52],  # left wrist
        [0.24, 0.52],
        [0.62, 0.55],  # left hip
        [0.38, 0.55],
        [0.63, 0.76],  # left knee
        [0.37, 0.76],
        [0.64, 0.97],  # left ankle
        [0.36, 0.97],
    ]
)


def arms_up_legs_apart() -> np.ndarray:
    pose = NEUTRAL.copy()
    pose[[7, 8], 1] = 0.10  # elbows beside the head
    pose[[9, 10], 1] = 0.01  # wrists above it
    pose[[7, 9], 0] = (0.80, 0.90)
    pose[[8, 10], 0] = (0.20, 0.10)
    pose[[13, 15], 0] = (0.78, 0.95)
    pose[[14, 16], 0] = (0.22, 0.05)
    return pose


def person(box: tuple[float, float, float, float], pose: np.ndarray = NEUTRAL, score: float = 0.9) -> Person:
    """A Person whose keypoints are `pose` placed in `box`, every joint visible (score 0.9)."""
    x1, y1, x2, y2 = box
    kps = np.empty((17, 3), np.float32)
    kps[:, 0] = x1 + pose[:, 0] * (x2 - x1)
    kps[:, 1] = y1 + pose[:, 1] * (y2 - y1)
    kps[:, 2] = 0.9
    return Person(score=score, bbox=np.array(box, np.float32), keypoints=kps)


def at(cx: float, cy: float = 300.0, w: float = 60.0, h: float = 150.0, **kwargs) -> Person:
    """A person whose box is centred on (cx, cy)."""
    return person((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), **kwargs)
