"""Camera-motion compensation: the warp estimated from images, the rotation warp, and tracks under a pan."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tracking_helpers import at

from centerpose_core.tracking import PoseTracker, TrackerConfig, kalman
from centerpose_core.tracking.camera_motion import (
    CameraMotionEstimator,
    as_homography,
    rotation_from_angular_velocity,
    rotation_homography,
)


def _texture(seed: int, height: int, width: int) -> np.ndarray:
    """A random blurred texture with corners everywhere (a cluttered background)."""
    noise = np.random.default_rng(seed).integers(0, 256, (height // 8, width // 8), dtype=np.uint8)
    big = cv2.resize(noise, (width, height), interpolation=cv2.INTER_NEAREST)
    return cv2.GaussianBlur(big, (3, 3), 0)


def _view(texture: np.ndarray, x: int, y: int, width: int = 640, height: int = 480) -> np.ndarray:
    """The camera's frame: the texture window whose top-left corner is (x, y)."""
    return np.ascontiguousarray(texture[y : y + height, x : x + width])


def test_a_pan_of_a_textured_scene_is_recovered_as_the_opposite_shift():
    texture = _texture(0, 600, 900)
    estimator = CameraMotionEstimator()
    assert np.allclose(estimator.estimate(_view(texture, 100, 50)), np.eye(2, 3))  # first frame
    # The camera turns right by 24 px and up by 6 px: the scene moves 24 px left and 6 px down.
    warp = estimator.estimate(_view(texture, 124, 44))
    np.testing.assert_allclose(warp[:, :2], np.eye(2), atol=0.01)
    np.testing.assert_allclose(warp[:, 2], (-24.0, 6.0), atol=1.0)


def _walk_past_a_still_camera(masked: bool) -> np.ndarray:
    """A person filling most of the frame walks 40 px right in front of a still camera."""
    background = np.full((480, 640), 128, np.uint8)
    background[:, :120] = _texture(1, 480, 120)  # the background shows only at the left edge
    person = _texture(2, 480, 460)
    first, second = background.copy(), background.copy()
    first[:, 140:600] = person
    second[:, 180:640] = person
    estimator = CameraMotionEstimator()
    estimator.estimate(first, np.array([[140, 0, 600, 480]]) if masked else None)
    return estimator.estimate(second, np.array([[180, 0, 640, 480]]) if masked else None)


def test_a_person_moving_on_their_own_does_not_pull_the_estimate_when_masked():
    np.testing.assert_allclose(_walk_past_a_still_camera(masked=True), np.eye(2, 3), atol=0.5)
    # Unmasked, the person's corners outnumber the background's: the estimate follows the person.
    assert abs(_walk_past_a_still_camera(masked=False)[0, 2] - 40.0) < 2.0


def test_a_blank_frame_gives_the_identity():
    estimator = CameraMotionEstimator()
    estimator.estimate(np.zeros((480, 640), np.uint8))
    np.testing.assert_array_equal(estimator.estimate(np.zeros((480, 640), np.uint8)), np.eye(2, 3))


def test_bad_images_and_warps_are_named():
    with pytest.raises(ValueError, match="uint8"):
        CameraMotionEstimator().estimate(np.zeros((48, 64), np.float32))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) or \(3, 3\)"):
        as_homography(np.eye(2))
    with pytest.raises(ValueError, match="non-finite"):
        as_homography(np.full((2, 3), np.nan))


def test_rotation_warp_moves_the_image_centre_by_focal_length_times_angle():
    k = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    # Turning right (about the optical frame's y axis, pointing down) at 0.5 rad/s for 0.1 s:
    rotation = rotation_from_angular_velocity(np.array([0.0, 0.5, 0.0]), 0.1)
    h = rotation_homography(k, rotation)
    centre = h @ np.array([320.0, 240.0, 1.0])
    # The scene moves left by f * tan(0.05 rad) at the principal point.
    np.testing.assert_allclose(centre[:2] / centre[2], (320 - 500 * np.tan(0.05), 240.0), atol=1e-6)


def test_kalman_warp_by_an_affine_moves_mean_velocity_and_spread():
    means, covs = kalman.initiate(np.array([[100.0, 200.0, 40.0, 80.0]]))
    means[0, 4:6] = (10.0, 0.0)
    # Zoom in by 2 about the origin and shift by (5, -3).
    moved, moved_covs = kalman.warp(means, covs, as_homography([[2.0, 0, 5], [0, 2.0, -3]]))
    np.testing.assert_allclose(moved[0], [205, 397, 80, 160, 20, 0, 0, 0])
    np.testing.assert_allclose(moved_covs[0], 4 * covs[0])


def _pan_run(camera_motion: bool) -> list[list[int]]:
    """Two persons 90 px apart standing still while the camera pans 30 px/frame after a steady
    start (3 frames of 60 px pans): each frame's ids, left person first."""
    tracker = PoseTracker(TrackerConfig())
    shift, out = 0.0, []
    for frame in range(12):
        step = 60.0 if 5 <= frame < 8 else 0.0  # the scene moves 60 px left per frame
        shift += step
        persons = [at(300.0 - shift), at(390.0 - shift)]
        warp = np.array([[1.0, 0, -step], [0, 1.0, 0]]) if camera_motion else None
        out.append([p.id for p in tracker.update(persons, frame / 25.0, warp)])
    return out


def test_tracks_keep_their_ids_through_a_fast_pan_only_with_compensation():
    with_cmc = _pan_run(camera_motion=True)
    assert all(ids == with_cmc[1] for ids in with_cmc[1:]) and min(with_cmc[1]) >= 1
    without = _pan_run(camera_motion=False)
    assert any(ids != without[1] for ids in without[1:])  # the uncompensated tracker loses them
