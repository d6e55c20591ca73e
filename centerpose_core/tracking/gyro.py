"""A gyro's angular velocity integrated into the camera's rotation between two image stamps.

The node's `tracking_imu_topic` source (centerpose_ros/steps/imu_motion.py) feeds it; it is plain
numpy so it can be tested by hand values. Axes: the camera optical frame (x right, y down, z
forward); `imu_to_camera_rotation` says how the IMU's axes sit in it (REP 103 conventions).
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Any

import numpy as np

from centerpose_core.tracking.camera_motion import rotation_from_angular_velocity

MAX_GAP_S = 0.1  # longest interval without a sample that is still integrated (a 10 Hz IMU at worst)
BUFFER_S = 2.0  # samples older than this (behind the newest) are dropped
# Optical axes (x right, y down, z forward) expressed in REP-103 body axes (x forward, y left, z up):
# the columns of the rotation taking optical-frame vectors into the body frame.
_OPTICAL_IN_BODY = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
IMU_TO_CAMERA_PRESETS = {"rep103": _OPTICAL_IN_BODY.T, "optical": np.eye(3)}


def imu_to_camera_rotation(text: str) -> np.ndarray:
    """(3, 3) rotation taking IMU-frame vectors into the camera optical frame (module docstring).

    text: `rep103`, `optical`, or four numbers `x y z w` (spaces or commas) of a quaternion of
    length 1 (within 1 %; normalised). ValueError names the problem.
    """
    key = text.strip().lower()
    if key in IMU_TO_CAMERA_PRESETS:
        return IMU_TO_CAMERA_PRESETS[key].copy()
    try:
        values = [float(v) for v in key.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"must be rep103, optical or a quaternion 'x y z w' (the camera optical frame in the IMU "
            f"frame), got {text!r}"
        )
    norm = math.sqrt(sum(v * v for v in values))
    if abs(norm - 1.0) > 0.01:
        raise ValueError(f"quaternion {text!r} has length {norm:.4f}; a rotation needs length 1")
    x, y, z, w = (v / norm for v in values)
    optical_in_imu = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    return optical_in_imu.T


class AngularVelocityBuffer:
    """Recent gyro samples, turned into the camera's rotation between two stamps.

    imu_to_camera: (3, 3) rotation taking IMU-frame vectors into the camera optical frame.
    Thread-safe: samples arrive on the executor thread, rotations are asked for on the worker.
    """

    def __init__(
        self, imu_to_camera: np.ndarray, max_gap_s: float = MAX_GAP_S, keep_s: float = BUFFER_S
    ) -> None:
        self._to_camera = np.asarray(imu_to_camera, dtype=np.float64)
        self._max_gap, self._keep = max_gap_s, keep_s
        self._lock = threading.Lock()
        self._stamps: list[float] = []
        self._rates: list[np.ndarray] = []

    def clear(self) -> None:
        with self._lock:
            self._stamps, self._rates = [], []

    def add(self, stamp_s: float, angular_velocity: Any) -> bool:
        """Insert one sample (rad/s in IMU axes) in stamp order; False (ignored) if not finite."""
        rate = np.asarray(angular_velocity, dtype=np.float64).reshape(3)
        if not (math.isfinite(stamp_s) and np.isfinite(rate).all()):
            return False
        with self._lock:
            at = bisect.bisect_left(self._stamps, stamp_s)
            if at < len(self._stamps) and self._stamps[at] == stamp_s:
                self._rates[at] = self._to_camera @ rate  # a repeated stamp: the newer sample wins
            else:
                self._stamps.insert(at, stamp_s)
                self._rates.insert(at, self._to_camera @ rate)
            drop = bisect.bisect_left(self._stamps, self._stamps[-1] - self._keep)
            del self._stamps[:drop], self._rates[:drop]
        return True

    def rotation(self, start_s: float, end_s: float) -> np.ndarray | None:
        """(3, 3) orientation of the camera at `end_s` in its axes at `start_s`; None if not covered.

        Piecewise: between consecutive stamps the rate is the linear interpolation of the samples
        at the piece's middle (exact for a rate that changes linearly); before the first / after
        the last sample inside the interval, the nearest sample's rate. Covered means a sample at
        most `max_gap_s` from each end and no gap longer than that between samples.
        """
        if end_s < start_s:
            return None
        with self._lock:
            stamps, rates = list(self._stamps), list(self._rates)
        if not stamps:
            return None
        # from the last sample at or before the start to the first at or after the end
        first = max(bisect.bisect_right(stamps, start_s) - 1, 0)
        last = min(bisect.bisect_left(stamps, end_s), len(stamps) - 1)
        times, values = np.array(stamps[first : last + 1]), np.array(rates[first : last + 1]).reshape(-1, 3)
        gap = self._max_gap
        if not (len(times) and abs(times[0] - start_s) <= gap and abs(times[-1] - end_s) <= gap):
            return None
        if np.diff(times).max(initial=0.0) > gap:
            return None
        inside = times[(times > start_s) & (times < end_s)]
        edges = np.concatenate([[start_s], inside, [end_s]])
        result = np.eye(3)
        for a, b in zip(edges[:-1], edges[1:]):
            if b <= a:
                continue
            middle = 0.5 * (a + b)
            rate = np.array([np.interp(middle, times, values[:, axis]) for axis in range(3)])
            result = result @ rotation_from_angular_velocity(rate, b - a)
        return result
