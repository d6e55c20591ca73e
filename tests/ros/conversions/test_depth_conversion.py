"""Depth Image / CameraInfo messages <-> core arrays: padding, byte order, bad input (no DDS needed)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from ros_helpers import require_ros

require_ros()

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from centerpose_core.geometry import PinholeIntrinsics  # noqa: E402
from centerpose_ros.conversions.depth import (  # noqa: E402
    DepthConversionError,
    depth_image_from_msg,
    depth_image_to_msg,
    intrinsics_from_camera_info,
    intrinsics_to_camera_info,
)


def _image(encoding: str, width: int, height: int, step: int, data: bytes, bigendian: bool = False) -> Image:
    msg = Image(encoding=encoding, width=width, height=height, step=step, is_bigendian=int(bigendian))
    msg.header.frame_id = "depth_optical"
    msg.data = data
    return msg


def test_16uc1_little_endian_with_row_padding() -> None:
    # 3x2 image, values 1..6 mm, each row padded by 4 junk bytes: step = 3*2 + 4 = 10
    row0 = struct.pack("<3H", 1, 2, 3) + b"\xab" * 4
    row1 = struct.pack("<3H", 4, 500, 65535) + b"\xcd" * 4
    depth = depth_image_from_msg(_image("16UC1", 3, 2, 10, row0 + row1))
    assert depth.values.dtype == np.uint16 and depth.units_per_metre == 1000.0
    np.testing.assert_array_equal(depth.values, [[1, 2, 3], [4, 500, 65535]])


def test_16uc1_big_endian_bytes_are_swapped() -> None:
    # bytes 0x12 0x34 are 4660 big-endian (13330 if misread as little-endian)
    depth = depth_image_from_msg(_image("16UC1", 2, 1, 4, b"\x12\x34\x00\x01", bigendian=True))
    np.testing.assert_array_equal(depth.values, [[0x1234, 1]])
    assert depth.values.dtype.isnative


def test_32fc1_big_endian_and_padding() -> None:
    data = struct.pack(">2f", 1.5, math.nan) + b"\x00" * 3 + struct.pack(">2f", 0.25, 7.0) + b"\x00" * 3
    depth = depth_image_from_msg(_image("32FC1", 2, 2, 11, data, bigendian=True))
    assert depth.values.dtype == np.float32 and depth.units_per_metre == 1.0
    np.testing.assert_array_equal(depth.values, [[1.5, math.nan], [0.25, 7.0]])


def test_round_trip_through_cdr_serialization() -> None:
    millimetres = np.random.default_rng(1).integers(0, 9000, (48, 64)).astype(np.uint16)
    header = Header(frame_id="camera_depth_optical_frame")
    wire = serialize_message(depth_image_to_msg(millimetres, "16UC1", header))
    received = deserialize_message(wire, Image)
    assert received.step == 128 and received.is_bigendian == 0
    np.testing.assert_array_equal(depth_image_from_msg(received).values, millimetres)
    metres = (millimetres / 1000.0).astype(np.float32)
    received = deserialize_message(serialize_message(depth_image_to_msg(metres, "32FC1", header)), Image)
    np.testing.assert_array_equal(depth_image_from_msg(received).values, metres)


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (_image("mono8", 2, 2, 2, b"\x00" * 4), "unsupported depth encoding 'mono8'"),
        (_image("16SC1", 2, 2, 4, b"\x00" * 8), "unsupported depth encoding '16SC1'"),
        (_image("16UC1", 0, 2, 0, b""), "zero-size depth image"),
        (_image("16UC1", 4, 2, 6, b"\x00" * 12), "step 6 is smaller than width\\*2 = 8"),
        (_image("32FC1", 4, 3, 16, b"\x00" * 40), "40 bytes, expected height\\*step = 3\\*16 = 48"),
    ],
)
def test_bad_depth_images_are_clear_errors(msg: Image, message: str) -> None:
    with pytest.raises(DepthConversionError, match=message):
        depth_image_from_msg(msg)


def _camera_info(k: list[float], width: int = 640, height: int = 480) -> CameraInfo:
    msg = CameraInfo(width=width, height=height, k=k)
    msg.header.frame_id = "depth_optical"
    return msg


def test_camera_info_k_gives_the_intrinsics() -> None:
    intr = intrinsics_from_camera_info(_camera_info([615.5, 0.0, 320.25, 0.0, 616.0, 240.75, 0.0, 0.0, 1.0]))
    assert intr == PinholeIntrinsics(fx=615.5, fy=616.0, cx=320.25, cy=240.75, width=640, height=480)
    # and back: the CameraInfo written for publishers reads as the same intrinsics
    assert intrinsics_from_camera_info(intrinsics_to_camera_info(intr, Header())) == intr


def test_camera_info_with_all_zero_k_is_a_clear_error() -> None:
    with pytest.raises(DepthConversionError, match=r"camera_info \(frame 'depth_optical'\): K is all zeros"):
        intrinsics_from_camera_info(_camera_info([0.0] * 9))


def test_camera_info_with_binning_or_roi_is_rejected() -> None:
    k = [600.0, 0.0, 320.0, 0.0, 600.0, 240.0, 0.0, 0.0, 1.0]
    binned = _camera_info(k)
    binned.binning_x = 2
    with pytest.raises(DepthConversionError, match="binning 2x0"):
        intrinsics_from_camera_info(binned)
    cropped = _camera_info(k)
    cropped.roi.x_offset, cropped.roi.width, cropped.roi.height = 10, 100, 100
    with pytest.raises(DepthConversionError, match="region of interest"):
        intrinsics_from_camera_info(cropped)
    full = _camera_info(k)
    full.roi.width, full.roi.height = 640, 480
    assert intrinsics_from_camera_info(full).width == 640
