"""Image -> network input, as CenterNet's fixed-resolution test pre-processing.

The image is warped (bilinear, black border) so that a square of side max(h, w) around its
center fills the `input_size` square, then scaled to [0, 1] and normalised with the COCO
keypoint mean/std in BGR order.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from centerpose_core.constants import DOWN_RATIO, MEAN_BGR, STD_BGR
from centerpose_core.transforms import get_affine_transform, image_center_scale


@dataclass(frozen=True)
class WarpMeta:
    """What post-processing needs to map output-map pixels back to the source image."""

    center: np.ndarray
    scale: float
    output_size: int  # side of the output map (input_size / 4)

    def output_to_image(self) -> np.ndarray:
        """2x3 matrix from output-map pixels to source-image pixels."""
        return get_affine_transform(
            self.center, self.scale, 0, (self.output_size, self.output_size), inverse=True
        )


def as_bgr(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an image array and return it as 3-channel uint8 BGR.

    Accepts (H, W), (H, W, 1), (H, W, 3) BGR and (H, W, 4) BGRA, uint8 only; anything else raises
    a ValueError that names `name` and the problem.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name}: expected dtype uint8 (8-bit BGR), got {image.dtype}")
    if image.ndim not in (2, 3) or image.size == 0 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty HxW or HxWxC image, got shape {image.shape}")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[0], image.shape[1]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] != 3:
        raise ValueError(f"{name}: expected 1, 3 or 4 channels, got {image.shape[2]}")
    return image


def preprocess(
    image_bgr: np.ndarray, input_size: int, out: np.ndarray | None = None
) -> tuple[np.ndarray, WarpMeta]:
    """Warp and normalise one BGR uint8 image into a (3, S, S) float32 array.

    `out`, when given, is a (3, S, S) float32 buffer written in place (lets batch callers and
    the ROS node reuse memory).
    """
    height, width = image_bgr.shape[:2]
    center, scale = image_center_scale(height, width)
    matrix = get_affine_transform(center, scale, 0, (input_size, input_size))
    warped = cv2.warpAffine(image_bgr, matrix, (input_size, input_size), flags=cv2.INTER_LINEAR)
    normalised = (warped.astype(np.float32) * np.float32(1.0 / 255.0) - MEAN_BGR) / STD_BGR
    if out is None:
        out = np.empty((3, input_size, input_size), dtype=np.float32)
    out[...] = normalised.transpose(2, 0, 1)
    return out, WarpMeta(center=center, scale=scale, output_size=input_size // DOWN_RATIO)
