"""Depth decoding (16UC1 millimetres, 32FC1 metres), invalid pixels and robust window medians."""

from __future__ import annotations

import math

import numpy as np
import pytest

from centerpose_core.geometry import DepthImage, decode_depth, window_depths
from centerpose_core.geometry.depth import nan_median, region_depth

NAN = math.nan


def test_16uc1_is_millimetres_with_zero_and_range_invalid() -> None:
    raw = np.array([[0, 1500, 65535], [250, 10000, 99]], dtype=np.uint16)
    metres = decode_depth(raw, "16UC1", min_range=0.1, max_range=10.0)
    assert metres.dtype == np.float32
    # 0 = no return; 65.535 m > max_range; 0.099 m < min_range; 10.0 m is on the limit (kept)
    np.testing.assert_array_equal(metres, np.array([[NAN, 1.5, NAN], [0.25, 10.0, NAN]], dtype=np.float32))


def test_32fc1_is_metres_with_nan_inf_negative_invalid() -> None:
    raw = np.array([[0.0, NAN, math.inf], [-1.0, 2.5, 10.5]], dtype=np.float32)
    metres = decode_depth(raw, "32FC1", min_range=0.1, max_range=10.0)
    np.testing.assert_array_equal(metres, np.array([[NAN, NAN, NAN], [NAN, 2.5, NAN]], dtype=np.float32))


def test_16uc1_and_32fc1_of_the_same_scene_agree() -> None:
    millimetres = np.random.default_rng(0).integers(0, 12000, (30, 40)).astype(np.uint16)
    metres = (millimetres / 1000.0).astype(np.float32)
    from_mm = decode_depth(millimetres, "16UC1", 0.3, 8.0)
    from_m = decode_depth(metres, "32FC1", 0.3, 8.0)
    np.testing.assert_array_equal(np.isnan(from_mm), np.isnan(from_m))
    np.testing.assert_allclose(from_mm, from_m, rtol=0, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize(
    ("values", "encoding", "message"),
    [
        (np.zeros((4, 4), np.uint8), "mono8", "unsupported depth encoding 'mono8'"),
        (np.zeros((4, 4), np.float32), "16UC1", "needs uint16"),
        (np.zeros((4, 4), np.uint16), "32FC1", "needs float32"),
        (np.zeros((4, 4, 1), np.uint16), "16UC1", "must be 2-D"),
        (np.zeros((0, 4), np.uint16), "16UC1", "empty"),
    ],
)
def test_bad_depth_arrays_are_clear_errors(values: np.ndarray, encoding: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DepthImage.from_array(values, encoding)


def test_nan_median_ignores_nan_and_averages_even_counts() -> None:
    samples = np.array(
        [
            [1.0, 2.0, 3.0, NAN],  # 2
            [NAN, NAN, NAN, NAN],  # no valid value
            [4.0, 1.0, NAN, 2.0],  # 2
            [4.0, 1.0, 3.0, 2.0],  # (2 + 3) / 2
            [7.0, NAN, NAN, NAN],  # 7
        ]
    )
    np.testing.assert_array_equal(nan_median(samples), [2.0, NAN, 2.0, 2.5, 7.0])


def _ramp() -> DepthImage:
    # pixel (row r, column c) holds 1000 + 10 r + c millimetres
    rows, cols = np.mgrid[0:10, 0:12]
    return DepthImage.from_array((1000 + 10 * rows + cols).astype(np.uint16), "16UC1")


def test_window_median_of_a_3x3_window() -> None:
    # around (u=4, v=4): rows 3-5, cols 3-5 -> 1033..1055, median 1044 mm
    z = window_depths(_ramp(), np.array([4.0]), np.array([4.0]), window=3, min_range=0.1, max_range=10.0)
    np.testing.assert_allclose(z, [1.044], atol=1e-12)


def test_window_median_skips_zero_pixels() -> None:
    depth = _ramp()
    values = depth.values.copy()
    values[4, 4] = values[3, 3] = 0  # left: 1034 1035 1043 1045 1053 1054 1055 -> median 1045
    z = window_depths(DepthImage(values, 1000.0), np.array([4.0]), np.array([4.0]), 3, 0.1, 10.0)
    np.testing.assert_allclose(z, [1.045], atol=1e-12)


def test_window_partially_outside_the_image_uses_the_inside_pixels() -> None:
    # corner (0, 0), 3x3 window: inside are 1000, 1001, 1010, 1011 -> median 1005.5 mm
    # corner (11, 9): inside are cols 10-11, rows 8-9 -> 1090, 1091, 1100, 1101 -> median 1095.5 mm
    z = window_depths(_ramp(), np.array([0.0, 11.0]), np.array([0.0, 9.0]), 3, 0.1, 10.0)
    np.testing.assert_allclose(z, [1.0055, 1.0955], atol=1e-12)


def test_points_round_to_the_pixel_that_contains_them() -> None:
    # u=4.4 -> column 4, u=4.6 -> column 5; window 1 reads the single pixel
    z = window_depths(_ramp(), np.array([4.4, 4.6, 0.0]), np.array([2.0, 2.0, 3.4]), 1, 0.1, 10.0)
    np.testing.assert_allclose(z, [1.024, 1.025, 1.030], atol=1e-12)


def test_points_outside_the_image_or_without_valid_pixels_are_nan() -> None:
    depth = DepthImage.from_array(np.zeros((10, 12), np.uint16), "16UC1")
    assert np.isnan(window_depths(depth, np.array([5.0]), np.array([5.0]), 5, 0.1, 10.0)).all()
    ramp = _ramp()
    # -0.6 rounds to column -1 (outside) even though a 5x5 window would reach into the image
    z = window_depths(ramp, np.array([-0.6, 12.5, 3.0, NAN]), np.array([3.0, 3.0, 1e30, 3.0]), 5, 0.1, 10.0)
    assert np.isnan(z).all()
    assert not np.isnan(window_depths(ramp, np.array([-0.4]), np.array([3.0]), 5, 0.1, 10.0)).any()


def test_even_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="odd"):
        window_depths(_ramp(), np.array([1.0]), np.array([1.0]), 4, 0.1, 10.0)


def test_region_depth_is_the_median_of_a_clipped_rectangle() -> None:
    # centre (1, 1), 5x3 region -> cols 0-3 (clipped at -1), rows 0-2 -> 1000..1023, median of
    # {1000 1001 1002 1003 1010 1011 1012 1013 1020 1021 1022 1023} = (1011 + 1012) / 2
    assert region_depth(_ramp(), (1.0, 1.0), (5.0, 3.0), 0.1, 10.0) == pytest.approx(1.0115, abs=1e-12)
    assert math.isnan(region_depth(_ramp(), (-1.0, 1.0), (5.0, 3.0), 0.1, 10.0))
    assert math.isnan(region_depth(_ramp(), (NAN, 1.0), (5.0, 3.0), 0.1, 10.0))


def test_non_finite_depth_is_never_valid_even_without_an_upper_range() -> None:
    """max_range inf (no upper limit) must not make +Inf valid (issue 17, item 4)."""
    raw = np.array([[math.inf, -math.inf, NAN, 3.0]], dtype=np.float32)
    metres = decode_depth(raw, "32FC1", min_range=0.0, max_range=math.inf)
    np.testing.assert_array_equal(metres, np.array([[NAN, NAN, NAN, 3.0]], dtype=np.float32))
    depth = DepthImage.from_array(np.full((3, 3), math.inf, np.float32), "32FC1")
    assert np.isnan(window_depths(depth, np.array([1.0]), np.array([1.0]), 3, 0.0, math.inf)).all()
    assert math.isnan(region_depth(depth, (1.0, 1.0), (3.0, 3.0), 0.0, math.inf))


def test_16uc1_saturated_65535_is_invalid_whatever_the_range() -> None:
    """65535 mm is the encoding's saturated value (16UC1's +Inf), not 65.535 m."""
    raw = np.array([[65535, 65534, 0]], dtype=np.uint16)
    metres = decode_depth(raw, "16UC1", min_range=0.0, max_range=math.inf)
    np.testing.assert_array_equal(metres, np.array([[NAN, 65.534, NAN]], dtype=np.float32))
