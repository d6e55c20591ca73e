"""Person mask targets: a COCO `segmentation` (polygons or RLE) as a pixel mask, and that mask
warped to the output map as the seed repo's whole-body sample does.

The rasterisation is pycocotools' `COCO.annToMask` rule (polygons merged into one RLE, an
uncompressed RLE compressed, then decoded) at the image's real size. An annotation without a
usable `segmentation` (missing, empty list) gives None: its slot is ignored in the mask loss.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

# Target value of pixels (whole slots) the mask loss ignores: slots without a person or without
# a segmentation.
MASK_IGNORE = 255


def annotation_mask(segmentation: Any, height: int, width: int) -> np.ndarray | None:
    """(height, width) uint8 0/1 mask of a COCO segmentation, or None when there is none."""
    from pycocotools import mask as mask_utils

    if segmentation is None or (isinstance(segmentation, list) and not segmentation):
        return None
    if isinstance(segmentation, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)  # uncompressed RLE
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        rle = dict(segmentation)
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
    else:
        raise ValueError(f"'segmentation' must be polygons or RLE, got {type(segmentation).__name__}")
    mask = mask_utils.decode(rle)
    if mask.shape != (height, width):
        raise ValueError(f"'segmentation' is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}")
    return mask


def warp_mask(mask: np.ndarray, trans_output: np.ndarray, output_size: int) -> np.ndarray:
    """A source-pixel 0/1 mask on the S x S output map: bilinear warp, then 1 where >= 0.5."""
    warped = cv2.warpAffine(
        mask.astype(np.float32), trans_output, (output_size, output_size), flags=cv2.INTER_LINEAR
    )
    return (warped >= 0.5).astype(np.uint8)
