"""Affine warps between source-image pixels and the network's square input (CenterNet semantics),
and the test-time pre-processing built on them.

CenterNet maps an image with a center `c` and a scale `s` (the side of the source square) onto
an output square through three corresponding points; the same construction inverted brings
predictions back. Keeping the construction identical keeps coordinates identical to the original.

Pre-processing (inference, INT8 calibration, the dataset's validation samples): the image is
warped (bilinear, black border) so that a square of side max(h, w) around its center fills the
`input_size` square, then scaled to [0, 1] and normalised with the COCO keypoint mean/std in BGR
order. Training and inference share this module, so they cannot drift apart.

A rectangular input (W, H) (camera-shaped, see `input_shape`) uses the same construction with the
scale that fits the whole image: s = max(w, h * W / H), which is max(h, w) when W == H. As in the
original's fixed-resolution mode with input_w != input_h, only s's width sets the factor W / s;
the center stays the image center, so a 640x480 image fills 512x384 exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from centerpose_core.constants import DOWN_RATIO, MEAN_BGR, STD_BGR


def _rotate(point: Sequence[float], angle_rad: float) -> np.ndarray:
    sn, cs = np.sin(angle_rad), np.cos(angle_rad)
    return np.array([point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs], dtype=np.float32)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point that makes (a, b, result) a right angle at b, as CenterNet's get_3rd_point."""
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def get_affine_transform(
    center: Sequence[float],
    scale: float | Sequence[float],
    rotation_deg: float,
    output_size: Sequence[int],
    shift: Sequence[float] = (0.0, 0.0),
    inverse: bool = False,
) -> np.ndarray:
    """2x3 matrix taking a `scale`-wide square around `center` onto `output_size` (w, h).

    With `inverse=True` the matrix maps output pixels back to source pixels. `scale` may be a
    scalar or (sx, sy); only its first component sets the width, exactly as the original.
    """
    scale_arr = np.asarray(scale, dtype=np.float32)
    if scale_arr.ndim == 0:
        scale_arr = np.array([scale_arr, scale_arr], dtype=np.float32)
    center_arr = np.asarray(center, dtype=np.float32)
    shift_arr = np.asarray(shift, dtype=np.float32)
    src_w = scale_arr[0]
    dst_w, dst_h = float(output_size[0]), float(output_size[1])

    src_dir = _rotate([0.0, src_w * -0.5], np.pi * rotation_deg / 180.0)
    dst_dir = np.array([0.0, dst_w * -0.5], dtype=np.float32)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center_arr + scale_arr * shift_arr
    src[1] = center_arr + src_dir + scale_arr * shift_arr
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5], dtype=np.float32) + dst_dir
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inverse:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points of shape (..., 2); returns float32 of the same shape.

    As CenterNet's `affine_transform`: float32 points times the float64 matrix in float64, then
    rounded to float32 (bit-identical to the original, so training targets land on the same pixels).
    """
    pts = np.asarray(points, dtype=np.float32)
    flat = pts.reshape(-1, 2)
    homogeneous = np.concatenate([flat, np.ones((flat.shape[0], 1), np.float32)], axis=1)
    out = homogeneous.astype(np.float64) @ np.asarray(matrix, dtype=np.float64).T
    return out.reshape(pts.shape).astype(np.float32)


def image_center_scale(height: int, width: int) -> tuple[np.ndarray, float]:
    """CenterNet's fixed-resolution test-time center and scale: image center, longer side."""
    return np.array([width / 2.0, height / 2.0], dtype=np.float32), float(max(height, width))


def input_center_scale(
    height: int, width: int, input_width: int, input_height: int
) -> tuple[np.ndarray, float]:
    """Center and scale that fit a `width` x `height` image into an input_width x input_height input.

    A square input gives exactly `image_center_scale` (the original's semantics, bit for bit):
    height * W / W is height exactly, so the scale is max(height, width).
    """
    center, _ = image_center_scale(height, width)
    return center, float(max(width, height * input_width / input_height))


def input_width_height(input_size: int | Sequence[int]) -> tuple[int, int]:
    """(width, height) of an input size: a square side or a (width, height) pair."""
    if isinstance(input_size, (int, np.integer)):
        return int(input_size), int(input_size)
    width, height = input_size
    return int(width), int(height)


def normalize(image_01: np.ndarray) -> np.ndarray:
    """(H, W, 3) BGR in [0, 1] -> `(x - mean) / std` with the COCO keypoint statistics, float32 HWC."""
    return (image_01 - MEAN_BGR) / STD_BGR


@dataclass(frozen=True)
class WarpMeta:
    """What post-processing needs to map output-map pixels back to the source image."""

    center: np.ndarray
    scale: float
    output_size: tuple[int, int]  # (width, height) of the output map (input / 4)

    def output_to_image(self) -> np.ndarray:
        """2x3 matrix from output-map pixels to source-image pixels."""
        return get_affine_transform(self.center, self.scale, 0, self.output_size, inverse=True)


def preprocess(
    image_bgr: np.ndarray, input_size: int | Sequence[int], out: np.ndarray | None = None
) -> tuple[np.ndarray, WarpMeta]:
    """Warp and normalise one BGR uint8 image into a (3, H, W) float32 array.

    `input_size`: the square side S, or (W, H) for a rectangular input. `out`, when given, is a
    (3, H, W) float32 buffer written in place (lets batch callers and the ROS node reuse memory).
    """
    height, width = image_bgr.shape[:2]
    in_w, in_h = input_width_height(input_size)
    center, scale = input_center_scale(height, width, in_w, in_h)
    matrix = get_affine_transform(center, scale, 0, (in_w, in_h))
    warped = cv2.warpAffine(image_bgr, matrix, (in_w, in_h), flags=cv2.INTER_LINEAR)
    normalised = normalize(warped.astype(np.float32) * np.float32(1.0 / 255.0))
    if out is None:
        out = np.empty((3, in_h, in_w), dtype=np.float32)
    out[...] = normalised.transpose(2, 0, 1)
    output_size = (in_w // DOWN_RATIO, in_h // DOWN_RATIO)
    return out, WarpMeta(center=center, scale=scale, output_size=output_size)
