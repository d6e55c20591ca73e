"""Gyro integration (`centerpose_core.tracking.gyro`) against hand-computed rotations and pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from centerpose_core.tracking.camera_motion import rotation_homography
from centerpose_core.tracking.gyro import AngularVelocityBuffer, imu_to_camera_rotation

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])


def _pixel(h: np.ndarray, x: float, y: float) -> np.ndarray:
    p = h @ np.array([x, y, 1.0])
    return p[:2] / p[2]


def test_rep103_yaw_left_moves_the_scene_right_by_f_tan_angle() -> None:
    # A REP-103 IMU (z up) turning left at 1 rad/s for 0.1 s: the camera turns 0.1 rad about its
    # up axis, so the point ahead (the image centre) moves right by f * tan(0.1) = 50.167 px.
    buffer = AngularVelocityBuffer(imu_to_camera_rotation("rep103"))
    for k in range(41):  # 200 Hz from 9.95 s to 10.15 s
        buffer.add(9.95 + k * 0.005, (0.0, 0.0, 1.0))
    h = rotation_homography(K, buffer.rotation(10.0, 10.1))
    np.testing.assert_allclose(_pixel(h, 320.0, 240.0), [320.0 + 500.0 * math.tan(0.1), 240.0], atol=1e-6)


def test_a_linearly_growing_rate_integrates_exactly_in_any_arrival_order() -> None:
    # optical axes, pitch rate w_x(t) = 2 t rad/s over [0, 0.1] s: angle = t^2 = 0.01 rad about x.
    stamps = np.arange(-0.02, 0.13, 0.007)
    ordered = AngularVelocityBuffer(np.eye(3))
    shuffled = AngularVelocityBuffer(np.eye(3))
    for t in stamps:
        ordered.add(float(t), (2.0 * t, 0.0, 0.0))
    for t in np.random.default_rng(0).permutation(stamps):
        shuffled.add(float(t), (2.0 * t, 0.0, 0.0))
    c, s = math.cos(0.01), math.sin(0.01)
    expected = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    np.testing.assert_allclose(ordered.rotation(0.0, 0.1), expected, atol=1e-12)
    np.testing.assert_allclose(shuffled.rotation(0.0, 0.1), expected, atol=1e-12)


def test_uncovered_intervals_give_no_rotation() -> None:
    buffer = AngularVelocityBuffer(np.eye(3), max_gap_s=0.1)
    for t in (0.0, 0.05, 0.1, 0.35, 0.4):  # a 0.25 s hole between 0.1 and 0.35
        buffer.add(t, (0.0, 1.0, 0.0))
    assert buffer.rotation(0.0, 0.1) is not None
    assert buffer.rotation(0.05, 0.4) is None, "a gap over max_gap_s"
    assert buffer.rotation(0.4, 0.55) is None, "the IMU stopped more than max_gap_s before the frame"
    assert buffer.rotation(0.4, 0.45) is not None, "the last rate held for up to max_gap_s"
    assert buffer.rotation(0.2, 0.1) is None
    assert not buffer.add(0.5, (math.nan, 0.0, 0.0))


def test_samples_older_than_the_buffer_are_dropped() -> None:
    buffer = AngularVelocityBuffer(np.eye(3), keep_s=1.0)
    for k in range(300):
        buffer.add(k * 0.01, (0.0, 0.0, 0.5))
    assert buffer.rotation(0.5, 0.6) is None
    assert buffer.rotation(2.0, 2.5) is not None


def test_imu_to_camera_presets_and_quaternions() -> None:
    # REP-103 body axes -> optical axes: forward (x) is optical z, left (y) is optical -x, up (z) -y.
    body_to_optical = imu_to_camera_rotation("rep103")
    np.testing.assert_allclose(body_to_optical @ [1, 0, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(body_to_optical @ [0, 1, 0], [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(body_to_optical @ [0, 0, 1], [0, -1, 0], atol=1e-12)
    # The usual camera_link -> camera_optical_frame static transform (rpy -pi/2, 0, -pi/2).
    np.testing.assert_allclose(imu_to_camera_rotation("-0.5, 0.5, -0.5, 0.5"), body_to_optical, atol=1e-12)
    np.testing.assert_allclose(imu_to_camera_rotation("optical"), np.eye(3))
    np.testing.assert_allclose(imu_to_camera_rotation("0 0 0 1"), np.eye(3))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1 0 0", "quaternion 'x y z w'"),
        ("0 0 0 2", "length 2.0000"),
        ("up", "rep103, optical"),
        ("nan 0 0 1", "x y z w"),
    ],
)
def test_a_bad_imu_to_camera_is_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="quaternion|rep103") as excinfo:
        imu_to_camera_rotation(text)
    assert problem in str(excinfo.value)
