"""The project's own Image/CompressedImage converter against independently built expectations."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest
from ros_helpers import require_ros

require_ros()

from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from centerpose_ros.conversions.image import (  # noqa: E402
    ImageConversionError,
    bgr_to_image_msg,
    compressed_to_bgr,
    image_to_bgr,
)

RNG = np.random.default_rng(0)
BGR = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0, **fields: object) -> Image:
    height, width = pixels.shape[:2]
    row_bytes = pixels.reshape(height, -1).shape[1] * pixels.itemsize
    rows = np.zeros((height, row_bytes + pad), np.uint8)
    rows[:, :row_bytes] = pixels.reshape(height, -1).view(np.uint8)
    msg = Image(height=height, width=width, encoding=encoding, step=row_bytes + pad)
    data = array.array("B")
    data.frombytes(rows.tobytes())
    msg.data = data
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize(
    ("encoding", "pixels"),
    [
        ("bgr8", BGR),
        ("rgb8", BGR[:, :, ::-1]),
        ("bgra8", np.dstack([BGR, np.full(BGR.shape[:2], 9, np.uint8)])),
        ("rgba8", np.dstack([BGR[:, :, ::-1], np.full(BGR.shape[:2], 9, np.uint8)])),
    ],
)
def test_colour_encodings_give_the_bgr_pixels(encoding: str, pixels: np.ndarray, pad: int) -> None:
    out = image_to_bgr(make_image(np.ascontiguousarray(pixels), encoding, pad), use_cv_bridge=False)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, BGR)


def test_mono8_replicates_the_gray_value_and_honours_padding() -> None:
    gray = RNG.integers(0, 256, (4, 6), dtype=np.uint8)
    out = image_to_bgr(make_image(gray, "mono8", pad=2), use_cv_bridge=False)
    np.testing.assert_array_equal(out, np.repeat(gray[:, :, None], 3, axis=2))


def test_byte_order_flag_does_not_change_8_bit_pixels() -> None:
    out = image_to_bgr(make_image(BGR, "bgr8", is_bigendian=1), use_cv_bridge=False)
    np.testing.assert_array_equal(out, BGR)


def test_extra_trailing_bytes_are_ignored() -> None:
    msg = make_image(BGR, "bgr8")
    msg.data.extend([1, 2, 3])
    np.testing.assert_array_equal(image_to_bgr(msg, use_cv_bridge=False), BGR)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (dict(encoding="yuv422"), "unsupported encoding 'yuv422'"),
        (dict(encoding="mono16"), "16-bit encoding 'mono16' is not supported"),
        (dict(encoding="16UC1"), "16-bit encoding '16UC1'"),
        (dict(height=0), "zero-size image"),
        (dict(step=10), "step 10 is smaller than width*channels = 5*3"),
        (dict(height=8), "expected height*step = 8*15"),
    ],
)
def test_bad_images_raise_a_clear_error(change: dict[str, object], needle: str) -> None:
    msg = make_image(BGR, "bgr8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageConversionError) as info:
        image_to_bgr(msg, use_cv_bridge=False)
    assert needle in str(info.value)


def test_compressed_png_is_lossless_and_jpeg_matches_opencv() -> None:
    for ext in (".png", ".jpg"):
        ok, encoded = cv2.imencode(ext, BGR)
        msg = CompressedImage(format=ext[1:])
        msg.data = array.array("B", encoded.tobytes())
        out = compressed_to_bgr(msg, use_cv_bridge=False)
        expected = BGR if ext == ".png" else cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8garbage" * 20])
def test_corrupt_compressed_image_raises(data: bytes) -> None:
    msg = CompressedImage(format="jpeg")
    msg.data = array.array("B", data)
    with pytest.raises(ImageConversionError, match="compressed image"):
        compressed_to_bgr(msg, use_cv_bridge=False)


def test_bgr_round_trip_through_an_image_message() -> None:
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 12, 34
    msg = bgr_to_image_msg(BGR, header)
    assert (msg.encoding, msg.step, msg.height, msg.width) == ("bgr8", 15, 7, 5)
    assert msg.header.frame_id == "cam" and msg.header.stamp.nanosec == 34
    np.testing.assert_array_equal(image_to_bgr(msg, use_cv_bridge=False), BGR)


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8", "bgra8", "rgba8"])
def test_cv_bridge_and_own_converter_agree(encoding: str) -> None:
    from centerpose_ros.conversions.image import cv_bridge_available

    if not cv_bridge_available():
        pytest.skip("ROS 2 cv_bridge is not importable here (not on PyPI); the own converter is used")
    channels = {"mono8": 1, "bgra8": 4, "rgba8": 4}.get(encoding, 3)
    pixels = RNG.integers(0, 256, (6, 9, channels), dtype=np.uint8).squeeze()
    msg = make_image(np.ascontiguousarray(pixels), encoding, pad=4)
    np.testing.assert_array_equal(
        image_to_bgr(msg, use_cv_bridge=True), image_to_bgr(msg, use_cv_bridge=False)
    )
