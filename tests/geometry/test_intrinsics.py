"""Pinhole intrinsics from CameraInfo's K, back-projection and colour -> depth pixel scaling.

Expected values are worked out by hand from X = (u - cx) Z / fx, Y = (v - cy) Z / fy and the
pixel-centre convention (pixel i spans [i - 0.5, i + 0.5]).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from centerpose_core.geometry import PinholeIntrinsics, colour_to_depth_pixels

K = [100.0, 0.0, 40.0, 0.0, 80.0, 30.0, 0.0, 0.0, 1.0]


def test_from_k_reads_row_major_k() -> None:
    intr = PinholeIntrinsics.from_k(K, width=80, height=60)
    assert (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height) == (100.0, 80.0, 40.0, 30.0, 80, 60)


def test_back_project_hand_computed() -> None:
    intr = PinholeIntrinsics.from_k(K, 80, 60)
    # u=60, v=10, Z=2: X = 20*2/100 = 0.4, Y = -20*2/80 = -0.5
    # u=40, v=30, Z=3: the principal point lies on the optical axis
    # u=15.5, v=42.25, Z=1.6: X = -24.5*1.6/100 = -0.392, Y = 12.25*1.6/80 = 0.245
    u, v, z = np.array([60.0, 40.0, 15.5]), np.array([10.0, 30.0, 42.25]), np.array([2.0, 3.0, 1.6])
    points = intr.back_project(u, v, z)
    np.testing.assert_allclose(
        points, [[0.4, -0.5, 2.0], [0.0, 0.0, 3.0], [-0.392, 0.245, 1.6]], rtol=0, atol=1e-12
    )


def test_project_inverts_back_project() -> None:
    intr = PinholeIntrinsics.from_k(K, 80, 60)
    u, v = np.meshgrid(np.linspace(-0.5, 79.5, 9), np.linspace(-0.5, 59.5, 7))
    z = 0.5 + (u + v) / 50.0
    uv = intr.project(intr.back_project(u, v, z))
    np.testing.assert_allclose(uv[..., 0], u, atol=1e-9)
    np.testing.assert_allclose(uv[..., 1], v, atol=1e-9)


def test_nan_depth_gives_nan_point() -> None:
    point = PinholeIntrinsics.from_k(K, 80, 60).back_project(10.0, 10.0, math.nan)
    assert np.isnan(point).all()


@pytest.mark.parametrize(
    ("k", "message"),
    [
        ([0.0] * 9, "all zeros"),
        ([100.0, 0, 40, 0, -80.0, 30, 0, 0, 1], "focal lengths must be positive"),
        ([0.0, 0, 40, 0, 80.0, 30, 0, 0, 1], "focal lengths must be positive"),
        ([100.0, 0, math.nan, 0, 80.0, 30, 0, 0, 1], "non-finite"),
        ([100.0, 0, 40, 0, 80.0, math.inf, 0, 0, 1], "non-finite"),
        ([100.0, 0.5, 40, 0, 80.0, 30, 0, 0, 1], "zero-skew"),
        ([100.0, 0, 40, 0, 80.0, 30, 0, 0, 0], "zero-skew"),
        ([100.0, 0, 40, 0, 80.0, 30, 0, 0], "9 elements"),
    ],
)
def test_bad_k_is_a_clear_error(k: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PinholeIntrinsics.from_k(k, 80, 60)


def test_zero_image_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="image size must be positive"):
        PinholeIntrinsics.from_k(K, 0, 0)


def test_same_size_maps_pixels_to_themselves() -> None:
    uv = np.array([[0.0, 0.0], [12.3, 45.6], [-3.0, 700.0]])
    np.testing.assert_array_equal(colour_to_depth_pixels(uv, (640, 480), (640, 480)), uv)


def test_half_resolution_depth_maps_pixel_centres_and_edges() -> None:
    # colour 160x120 -> depth 80x60: u_d = (u_c + 0.5) / 2 - 0.5
    uv = np.array([[-0.5, -0.5], [159.5, 119.5], [0.0, 0.0], [101.0, 61.0], [100.5, 3.5]])
    expected = [[-0.5, -0.5], [79.5, 59.5], [-0.25, -0.25], [50.25, 30.25], [50.0, 1.5]]
    np.testing.assert_allclose(colour_to_depth_pixels(uv, (160, 120), (80, 60)), expected, atol=1e-12)


def test_each_axis_scales_by_its_own_ratio() -> None:
    # colour 100x50 -> depth 200x200: x doubles, y quadruples (edges at -0.5 stay put)
    mapped = colour_to_depth_pixels(np.array([10.0, 10.0]), (100, 50), (200, 200))
    np.testing.assert_allclose(mapped, [(10.5 * 2) - 0.5, (10.5 * 4) - 0.5])


def test_from_p_reads_the_rectified_camera_matrix_of_p() -> None:
    """fx' = P[0], fy' = P[5], cx' = P[2], cy' = P[6] (image_geometry's PinholeCameraModel); Tx is no
    part of a camera's own rays."""
    p = [610.0, 0.0, 318.0, -33.5, 0.0, 612.0, 242.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert PinholeIntrinsics.from_p(p, 640, 480) == PinholeIntrinsics(610.0, 612.0, 318.0, 242.0, 640, 480)


@pytest.mark.parametrize(
    ("p", "message"),
    [
        ([0.0] * 12, "P is all zeros"),
        ([600.0, 0.0, 320.0, 0.0, 0.0, 600.0, 240.0, 0.0, 0.0, 0.0, 1.0], "12 elements"),
        ([600.0, 1.0, 320.0, 0.0, 0.0, 600.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0], "zero-skew projection"),
        ([600.0, 0.0, 320.0, 0.0, 0.0, -600.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0], "focal lengths"),
        ([600.0, 0.0, 320.0, 0.0, 0.0, 600.0, 240.0, 0.0, 0.0, 0.0, 1.0, 5.0], "zero-skew projection"),
    ],
)
def test_bad_p_is_a_clear_error(p: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PinholeIntrinsics.from_p(p, 640, 480)
