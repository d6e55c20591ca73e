"""Reading image files the way CenterNet does, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


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
