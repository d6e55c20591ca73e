"""sensor_msgs/Image and CompressedImage <-> BGR uint8 arrays.

ROS 2's cv_bridge is used when it can be imported; otherwise (e.g. ROS from the PyPI wheels,
where it does not exist) the converter here, which gives the same arrays: every supported
input becomes a contiguous (H, W, 3) uint8 BGR array. Raw images honour `step` (row padding)
and `is_bigendian`; the supported encodings all have 8-bit channels, for which byte order does
not apply, and 16-bit encodings are rejected with a message saying so rather than silently
truncated. Problems raise ImageConversionError with a one-line message naming the problem.
"""

from __future__ import annotations

import array
from typing import Any

import cv2
import numpy as np

# encoding -> (channels, OpenCV conversion to BGR or None when already BGR)
RAW_ENCODINGS: dict[str, tuple[int, int | None]] = {
    "bgr8": (3, None),
    "rgb8": (3, cv2.COLOR_RGB2BGR),
    "mono8": (1, cv2.COLOR_GRAY2BGR),
    "bgra8": (4, cv2.COLOR_BGRA2BGR),
    "rgba8": (4, cv2.COLOR_RGBA2BGR),
}
SIXTEEN_BIT_ENCODINGS = frozenset(
    {"mono16", "bgr16", "rgb16", "bgra16", "rgba16", "16UC1", "16UC2", "16UC3", "16UC4", "16SC1", "16SC3"}
)


class ImageConversionError(ValueError):
    """An image message that cannot be turned into a BGR array (the frame is skipped)."""


try:  # ROS 2 cv_bridge, when the ROS install provides it
    from cv_bridge import CvBridge as _CvBridge  # type: ignore[import-not-found]

    _BRIDGE: Any = _CvBridge()
except Exception:  # not installed (PyPI wheels) or a broken/ROS 1 build: use our converter
    _BRIDGE = None


def cv_bridge_available() -> bool:
    return _BRIDGE is not None


def image_to_bgr(msg: Any, use_cv_bridge: bool = True) -> np.ndarray:
    """sensor_msgs/Image -> (H, W, 3) uint8 BGR.

    Validation happens here in both paths, so a bad frame gives the same clear error whether
    cv_bridge is present or not.
    """
    channels, conversion = _check_raw(msg)
    if use_cv_bridge and _BRIDGE is not None:
        return np.ascontiguousarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="bgr8"))
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    flat = np.frombuffer(msg.data, dtype=np.uint8, count=height * step)
    rows = flat.reshape(height, step)[:, : width * channels]
    pixels = rows.reshape(height, width, channels) if channels > 1 else rows.reshape(height, width)
    if conversion is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(np.ascontiguousarray(pixels), conversion)


def compressed_to_bgr(msg: Any, use_cv_bridge: bool = True) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg, png) -> (H, W, 3) uint8 BGR."""
    fmt = str(msg.format)
    if "compresseddepth" in fmt.lower():
        raise ImageConversionError(f"compressed depth images are not supported (format {fmt!r})")
    if len(msg.data) == 0:
        raise ImageConversionError(f"empty compressed image (format {fmt!r})")
    if use_cv_bridge and _BRIDGE is not None:
        try:
            image = _BRIDGE.compressed_imgmsg_to_cv2(msg, desired_encoding="bgr8")
        except Exception as exc:  # cv_bridge raises its own error types on corrupt data
            raise ImageConversionError(
                f"could not decode the compressed image (format {fmt!r}): {exc}"
            ) from None
        return np.ascontiguousarray(image)
    image = cv2.imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageConversionError(
            f"could not decode the compressed image (format {fmt!r}, {len(msg.data)} bytes): "
            "corrupt or not jpeg/png"
        )
    return image


def bgr_to_image_msg(image_bgr: np.ndarray, header: Any) -> Any:
    """(H, W, 3) uint8 BGR -> sensor_msgs/Image (bgr8, unpadded) with the given header.

    Fills `data` from one bytes copy: assigning a bytes object to the field would make the
    generated setter check every byte in Python (tens of ms for a camera frame).
    """
    from sensor_msgs.msg import Image

    image_bgr = np.ascontiguousarray(image_bgr, dtype=np.uint8)
    height, width = image_bgr.shape[:2]
    msg = Image()
    msg.header = header
    msg.height, msg.width = int(height), int(width)
    msg.encoding = "bgr8"
    msg.is_bigendian = 0
    msg.step = int(width * 3)
    data = array.array("B")
    data.frombytes(image_bgr.tobytes())
    msg.data = data
    return msg


def mono8_to_image_msg(image: np.ndarray, header: Any) -> Any:
    """(H, W) uint8 -> sensor_msgs/Image (mono8, unpadded) with the given header (one bytes copy,
    as `bgr_to_image_msg`)."""
    from sensor_msgs.msg import Image

    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape
    msg = Image()
    msg.header = header
    msg.height, msg.width = int(height), int(width)
    msg.encoding = "mono8"
    msg.is_bigendian = 0
    msg.step = int(width)
    data = array.array("B")
    data.frombytes(image.tobytes())
    msg.data = data
    return msg


def _check_raw(msg: Any) -> tuple[int, int | None]:
    encoding = str(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if encoding in SIXTEEN_BIT_ENCODINGS:
        raise ImageConversionError(
            f"16-bit encoding {encoding!r} is not supported: publish 8-bit images "
            f"({', '.join(RAW_ENCODINGS)})"
        )
    if encoding not in RAW_ENCODINGS:
        raise ImageConversionError(
            f"unsupported encoding {encoding!r}: use one of {', '.join(RAW_ENCODINGS)}"
        )
    if height == 0 or width == 0:
        raise ImageConversionError(f"zero-size image ({width}x{height}, encoding {encoding})")
    channels, conversion = RAW_ENCODINGS[encoding]
    if step < width * channels:
        raise ImageConversionError(
            f"step {step} is smaller than width*channels = {width}*{channels} for encoding {encoding}"
        )
    if len(msg.data) < height * step:
        raise ImageConversionError(
            f"image data has {len(msg.data)} bytes, expected height*step = {height}*{step} = {height * step}"
        )
    return channels, conversion
