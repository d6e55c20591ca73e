"""sensor_msgs/Image (depth) and CameraInfo -> the core's DepthImage and PinholeIntrinsics, and back.

Depth images are `16UC1` (millimetres) or `32FC1` (metres), as RealSense `aligned_depth_to_color`
and ZED publish them. Row padding (`step`) and byte order (`is_bigendian`) are honoured; the result
is a native-endian (H, W) array. Problems raise DepthConversionError with one line naming the
input and the problem, so the node can skip the frame (or fall back to 2D) and keep running.
"""

from __future__ import annotations

import array
from typing import Any

import numpy as np

from centerpose_core.geometry import DEPTH_ENCODINGS, DepthImage, PinholeIntrinsics


class DepthConversionError(ValueError):
    """A depth image or depth camera_info that cannot be used (3D output is skipped for the frame)."""


def depth_image_from_msg(msg: Any) -> DepthImage:
    """sensor_msgs/Image 16UC1 or 32FC1 -> DepthImage (values still in the encoding's unit)."""
    encoding = str(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if encoding not in DEPTH_ENCODINGS:
        raise DepthConversionError(
            f"unsupported depth encoding {encoding!r}: use one of {', '.join(DEPTH_ENCODINGS)}"
        )
    if height == 0 or width == 0:
        raise DepthConversionError(f"zero-size depth image ({width}x{height}, encoding {encoding})")
    dtype = DEPTH_ENCODINGS[encoding][0]
    row_bytes = width * dtype.itemsize
    if step < row_bytes:
        raise DepthConversionError(
            f"depth image step {step} is smaller than width*{dtype.itemsize} = {row_bytes} "
            f"for encoding {encoding}"
        )
    if len(msg.data) < height * step:
        raise DepthConversionError(
            f"depth image data has {len(msg.data)} bytes, expected height*step = "
            f"{height}*{step} = {height * step}"
        )
    rows = np.frombuffer(msg.data, dtype=np.uint8, count=height * step).reshape(height, step)[:, :row_bytes]
    wire = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    values = np.ascontiguousarray(rows).view(wire)  # (height, width); copies only when rows are padded
    if not wire.isnative:
        values = values.astype(dtype)
    return DepthImage.from_array(values, encoding)


def intrinsics_from_camera_info(msg: Any) -> PinholeIntrinsics:
    """sensor_msgs/CameraInfo of the depth image -> PinholeIntrinsics (K, width, height).

    Binning and a region of interest change which pixels K refers to; depth cameras publish
    neither, so both are rejected rather than silently misread. Distortion (D) is ignored: the
    depth image is taken as rectified, as depth_image_proc does.
    """
    frame = str(msg.header.frame_id)
    if int(msg.binning_x) > 1 or int(msg.binning_y) > 1:
        raise DepthConversionError(
            f"depth camera_info (frame {frame!r}) has binning {msg.binning_x}x{msg.binning_y}: not supported"
        )
    roi = msg.roi
    full = (int(roi.x_offset), int(roi.y_offset)) == (0, 0) and (int(roi.width), int(roi.height)) in (
        (0, 0),
        (int(msg.width), int(msg.height)),
    )
    if not full:
        raise DepthConversionError(
            f"depth camera_info (frame {frame!r}) has a region of interest "
            f"({roi.width}x{roi.height} at {roi.x_offset},{roi.y_offset}): not supported"
        )
    try:
        return PinholeIntrinsics.from_k(list(msg.k), int(msg.width), int(msg.height))
    except ValueError as exc:
        raise DepthConversionError(f"depth camera_info (frame {frame!r}): {exc}") from None


def depth_image_to_msg(values: np.ndarray, encoding: str, header: Any) -> Any:
    """(H, W) uint16 millimetres (16UC1) or float32 metres (32FC1) -> sensor_msgs/Image, unpadded,
    little-endian (for publishers in tests and the demo)."""
    from sensor_msgs.msg import Image

    depth = DepthImage.from_array(np.asarray(values), encoding)
    little = depth.values.astype(depth.values.dtype.newbyteorder("<"), copy=False)
    msg = Image()
    msg.header = header
    msg.height, msg.width = depth.height, depth.width
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = depth.width * little.dtype.itemsize
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(little).tobytes())
    msg.data = data
    return msg


def intrinsics_to_camera_info(intrinsics: PinholeIntrinsics, header: Any) -> Any:
    """PinholeIntrinsics -> sensor_msgs/CameraInfo of a rectified image (for tests and the demo)."""
    from sensor_msgs.msg import CameraInfo

    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    msg = CameraInfo()
    msg.header = header
    msg.width, msg.height = intrinsics.width, intrinsics.height
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg
