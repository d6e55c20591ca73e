"""Images in: files read the way CenterNet does, and in-memory arrays checked, with errors that
name the file or the array."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# Image files a folder source (calibration images, `centerpose track`) is read from.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_image(path: str | Path, context: str = "") -> np.ndarray:
    """Read an image as 3-channel BGR uint8 with OpenCV's default colour loading (as the original).

    A grayscale file becomes three equal channels. `context` (e.g. "image id 42") is appended to
    error messages. Raises FileNotFoundError for a missing file, ValueError for one that does not
    decode.
    """
    path = Path(path)
    suffix = f" ({context})" if context else ""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image file not found{suffix}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: image could not be decoded{suffix}: unsupported format or corrupt file")
    return image


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
