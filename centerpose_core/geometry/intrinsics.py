"""Pinhole intrinsics of a depth camera, and where a colour-image pixel lands in its depth image.

Pixel convention (ROS / OpenCV, as depth_image_proc and image_geometry use it): the integer pixel
index (u, v) = (column, row) is the *centre* of that pixel, and K maps a point (X, Y, Z) of the
camera's optical frame (x right, y down, z forward, metres) to those coordinates:
u = fx * X / Z + cx, v = fy * Y / Z + cy. The image's outer edge therefore lies at -0.5 and
width - 0.5. Distortion coefficients are not modelled. A rectified image is read with the camera
matrix of its projection P (`from_p`), an unrectified one with K (`from_k`), as image_geometry does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeIntrinsics:
    """fx, fy, cx, cy in pixels of an image of `width` x `height` pixels (the depth image)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"intrinsics {name} is not finite ({getattr(self, name)})")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"intrinsics focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"intrinsics image size must be positive, got {self.width}x{self.height}")

    @classmethod
    def from_k(cls, k: Sequence[float] | np.ndarray, width: int, height: int) -> PinholeIntrinsics:
        """From CameraInfo's row-major 3x3 K (9 numbers) and the image size it was calibrated for.

        Rejects what cannot be a pinhole camera matrix, with the reason: K all zero (the camera
        publishes no calibration), non-finite entries, non-positive focal lengths, a bottom row
        other than (0, 0, 1), and skew (which X = (u - cx) Z / fx would silently drop).
        """
        matrix = np.asarray(k, dtype=np.float64).reshape(-1)
        if matrix.size != 9:
            raise ValueError(f"K must have 9 elements (row-major 3x3), got {matrix.size}")
        if not np.all(np.isfinite(matrix)):
            raise ValueError(f"K has non-finite entries: {matrix.tolist()}")
        if not np.any(matrix):
            raise ValueError("K is all zeros: the camera publishes no calibration (CameraInfo.k)")
        if matrix[0] <= 0 or matrix[4] <= 0:
            raise ValueError(
                f"K focal lengths must be positive, got fx=K[0]={matrix[0]}, fy=K[4]={matrix[4]}"
            )
        if matrix[1] != 0 or matrix[3] != 0 or matrix[6] != 0 or matrix[7] != 0 or matrix[8] != 1:
            raise ValueError(
                f"K is not a zero-skew pinhole matrix [fx 0 cx; 0 fy cy; 0 0 1]: {matrix.tolist()}"
            )
        return cls(
            fx=float(matrix[0]),
            fy=float(matrix[4]),
            cx=float(matrix[2]),
            cy=float(matrix[5]),
            width=int(width),
            height=int(height),
        )

    @classmethod
    def from_p(cls, p: Sequence[float] | np.ndarray, width: int, height: int) -> PinholeIntrinsics:
        """From CameraInfo's row-major 3x4 projection P (12 numbers): fx' = P[0], fy' = P[5],
        cx' = P[2], cy' = P[6], the camera matrix of the *rectified* image (image_geometry's
        PinholeCameraModel and depth_image_proc read a rectified image with these). Tx, Ty (P[3],
        P[7]: a stereo pair's baseline) do not move the camera's own rays and are ignored.
        """
        matrix = np.asarray(p, dtype=np.float64).reshape(-1)
        if matrix.size != 12:
            raise ValueError(f"P must have 12 elements (row-major 3x4), got {matrix.size}")
        if not np.all(np.isfinite(matrix)):
            raise ValueError(f"P has non-finite entries: {matrix.tolist()}")
        if not np.any(matrix):
            raise ValueError("P is all zeros: the camera publishes no projection (CameraInfo.p)")
        if matrix[0] <= 0 or matrix[5] <= 0:
            raise ValueError(
                f"P focal lengths must be positive, got fx'=P[0]={matrix[0]}, fy'=P[5]={matrix[5]}"
            )
        if matrix[1] != 0 or matrix[4] != 0 or tuple(matrix[8:]) != (0.0, 0.0, 1.0, 0.0):
            raise ValueError(
                f"P is not a zero-skew projection [fx' 0 cx' Tx; 0 fy' cy' Ty; 0 0 1 0]: {matrix.tolist()}"
            )
        return cls(
            fx=float(matrix[0]),
            fy=float(matrix[5]),
            cx=float(matrix[2]),
            cy=float(matrix[6]),
            width=int(width),
            height=int(height),
        )

    def back_project(self, u: np.ndarray, v: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Pixels (u, v) of this image at depth z (metres) -> (..., 3) points X, Y, Z in metres.

        NaN depth gives NaN points, so invalid samples stay invalid without a mask.
        """
        z = np.asarray(z, dtype=np.float64)
        x = (np.asarray(u, dtype=np.float64) - self.cx) * z / self.fx
        y = (np.asarray(v, dtype=np.float64) - self.cy) * z / self.fy
        return np.stack(np.broadcast_arrays(x, y, z), axis=-1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) points in the optical frame -> (..., 2) pixels (u, v); the inverse of back_project."""
        points = np.asarray(points, dtype=np.float64)
        z = points[..., 2]
        u = self.fx * points[..., 0] / z + self.cx
        v = self.fy * points[..., 1] / z + self.cy
        return np.stack((u, v), axis=-1)


def colour_to_depth_pixels(
    uv: np.ndarray, colour_size: tuple[int, int], depth_size: tuple[int, int]
) -> np.ndarray:
    """(..., 2) colour-image pixels -> the same scene point's pixels in the aligned depth image.

    Sizes are (width, height). The two images see the same field of view (depth aligned to
    colour), so their outer edges coincide: with pixel centres at integer indices that gives
    u_d = (u_c + 0.5) * W_d / W_c - 0.5 (the same for v), which is also where cv2.resize samples.
    Equal sizes map every pixel to itself.
    """
    colour_w, colour_h = (int(s) for s in colour_size)
    depth_w, depth_h = (int(s) for s in depth_size)
    if colour_w <= 0 or colour_h <= 0:
        raise ValueError(f"colour image size must be positive, got {colour_w}x{colour_h}")
    uv = np.asarray(uv, dtype=np.float64)
    if (colour_w, colour_h) == (depth_w, depth_h):
        return uv.copy()
    scale = np.array([depth_w / colour_w, depth_h / colour_h])
    return (uv + 0.5) * scale - 0.5
