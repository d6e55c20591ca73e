"""Affine warps between source-image pixels and the network's square input (CenterNet semantics).

CenterNet maps an image with a center `c` and a scale `s` (the side of the source square) onto
an output square through three corresponding points; the same construction inverted brings
predictions back. Keeping the construction identical keeps coordinates identical to the original.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


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
