"""Depth images in metres and robust depth samples: median of the valid pixels in a window.

Two encodings exist in the wild (RealSense `aligned_depth_to_color`, ZED, OpenNI): `16UC1` in
millimetres and `32FC1` in metres. A pixel is invalid when it is 0 (the sensor's "no return"),
NaN or infinite, 65535 in `16UC1` (the integer encoding's saturated value: beyond what it can
hold, as +Inf is in `32FC1`), or outside [min_range, max_range]; invalid pixels become NaN and never
vote. That holds whatever the range is: `max_range = inf` (no upper limit) never makes +Inf valid.
Samples convert only the pixels they read, so a frame's cost does not grow with the image size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# encoding -> (numpy dtype of the values, units per metre). Dividing by 1000 (not multiplying by
# 0.001) gives the float nearest to mm / 1000, so 2000 mm is exactly 2.0 m.
DEPTH_ENCODINGS: dict[str, tuple[np.dtype, float]] = {
    "16UC1": (np.dtype(np.uint16), 1000.0),
    "32FC1": (np.dtype(np.float32), 1.0),
}


@dataclass(frozen=True)
class DepthImage:
    """A (height, width) depth image as the camera sent it: `values` / `units_per_metre` = metres."""

    values: np.ndarray
    units_per_metre: float

    @classmethod
    def from_array(cls, values: np.ndarray, encoding: str) -> DepthImage:
        """Wrap a decoded (H, W) array of a supported encoding; its dtype must match the encoding."""
        if encoding not in DEPTH_ENCODINGS:
            raise ValueError(
                f"unsupported depth encoding {encoding!r}: use one of {', '.join(DEPTH_ENCODINGS)}"
            )
        dtype, scale = DEPTH_ENCODINGS[encoding]
        values = np.asarray(values)
        if values.ndim != 2:
            raise ValueError(f"depth image must be 2-D (height, width), got shape {values.shape}")
        if values.dtype != dtype:
            raise ValueError(f"depth encoding {encoding} needs {dtype} values, got {values.dtype}")
        if values.size == 0:
            raise ValueError(f"depth image is empty (shape {values.shape})")
        return cls(values=values, units_per_metre=scale)

    @property
    def width(self) -> int:
        return int(self.values.shape[1])

    @property
    def height(self) -> int:
        return int(self.values.shape[0])

    def metres(self, min_range: float, max_range: float) -> np.ndarray:
        """The whole image as float32 metres, NaN where invalid (for display and tests)."""
        return to_metres(self.values, self.units_per_metre, min_range, max_range).astype(np.float32)


def decode_depth(values: np.ndarray, encoding: str, min_range: float, max_range: float) -> np.ndarray:
    """(H, W) `16UC1` millimetres or `32FC1` metres -> float32 metres, NaN where invalid."""
    return DepthImage.from_array(values, encoding).metres(min_range, max_range)


def to_metres(values: np.ndarray, units_per_metre: float, min_range: float, max_range: float) -> np.ndarray:
    """Raw depth values -> float64 metres; 0, NaN, +-Inf, an integer encoding's maximum (65535 in
    16UC1) and values outside [min_range, max_range] -> NaN, whatever the range (even max_range inf)."""
    values = np.asarray(values)
    metres = values.astype(np.float64) / units_per_metre
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(metres) & (metres > 0) & (metres >= min_range) & (metres <= max_range)
    if np.issubdtype(values.dtype, np.integer):
        valid &= values < np.iinfo(values.dtype).max
    return np.where(valid, metres, np.nan)


def nan_median(samples: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where a row has no valid value.

    np.nanmedian does the same but warns on all-NaN rows; this sorts once (NaN sorts last) and
    averages the two middle valid values of an even count, as the usual median does.
    """
    ordered = np.sort(samples, axis=-1)
    count = np.sum(~np.isnan(ordered), axis=-1)
    low = np.maximum((count - 1) // 2, 0)[..., None]
    high = (count // 2)[..., None]
    median = 0.5 * (np.take_along_axis(ordered, low, -1) + np.take_along_axis(ordered, high, -1))[..., 0]
    return np.where(count > 0, median, np.nan)


def pixel_index(coordinate: np.ndarray) -> np.ndarray:
    """The index of the pixel whose centre is nearest (x.5 rounds up, on every platform)."""
    return np.floor(np.asarray(coordinate, dtype=np.float64) + 0.5).astype(np.int64)


def window_depths(
    depth: DepthImage,
    u: np.ndarray,
    v: np.ndarray,
    window: int,
    min_range: float,
    max_range: float,
) -> np.ndarray:
    """Robust depth (metres) at each depth-image point (u, v): median of the valid pixels of the
    `window` x `window` pixels centred on the pixel containing it. Window pixels outside the image
    do not vote; a point whose own pixel lies outside the image, or a window without a valid
    pixel, gives NaN. u, v: (N,) float depth-image pixels; returns (N,) float64.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"depth window must be a positive odd number of pixels, got {window}")
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    result = np.full(u.shape, np.nan)
    with np.errstate(invalid="ignore"):  # pixel (c, r) spans [c - 0.5, c + 0.5) x [r - 0.5, r + 0.5)
        inside = (u >= -0.5) & (u < depth.width - 0.5) & (v >= -0.5) & (v < depth.height - 0.5)
    if not np.any(inside):
        return result
    half = window // 2
    offsets = np.arange(-half, half + 1)
    rows = pixel_index(v[inside])[:, None, None] + offsets[None, :, None]  # (n, window, 1)
    cols = pixel_index(u[inside])[:, None, None] + offsets[None, None, :]  # (n, 1, window)
    in_image = (rows >= 0) & (rows < depth.height) & (cols >= 0) & (cols < depth.width)
    raw = depth.values[np.clip(rows, 0, depth.height - 1), np.clip(cols, 0, depth.width - 1)]
    metres = to_metres(raw, depth.units_per_metre, min_range, max_range)
    metres = np.where(in_image, metres, np.nan).reshape(len(metres), -1)
    result[inside] = nan_median(metres)
    return result


def region_depth(
    depth: DepthImage,
    centre: tuple[float, float],
    size: tuple[float, float],
    min_range: float,
    max_range: float,
) -> float:
    """Median of the valid pixels of a (width, height)-sized rectangle centred on `centre`
    (depth-image pixels), clipped to the image; NaN when the centre lies outside the image or
    no pixel is valid. The rectangle always holds at least the centre pixel.
    """
    u, v = (float(c) for c in centre)
    if not (-0.5 <= u < depth.width - 0.5 and -0.5 <= v < depth.height - 0.5):  # also False for NaN
        return math.nan
    col, row = int(pixel_index(u)), int(pixel_index(v))
    half_w = max(int(size[0] // 2), 0)
    half_h = max(int(size[1] // 2), 0)
    patch = depth.values[
        max(row - half_h, 0) : min(row + half_h + 1, depth.height),
        max(col - half_w, 0) : min(col + half_w + 1, depth.width),
    ]
    metres = to_metres(patch, depth.units_per_metre, min_range, max_range).reshape(1, -1)
    return float(nan_median(metres)[0])


def mask_depth(
    depth: DepthImage,
    mask: np.ndarray,
    colour_size: tuple[int, int],
    min_range: float,
    max_range: float,
    region: tuple[slice, slice] = (slice(None), slice(None)),
    erode: int = 0,
) -> tuple[float, float, float]:
    """(u, v, z): the median depth-image column and row of a person's mask pixels and the median of
    their valid depths (metres); NaN where the mask has no pixel (z: no valid pixel).

    mask: (h, w) bool in colour-image pixels (colour_size = (w, h)); each mask pixel reads the
    depth pixel its centre falls in. region: the (rows, cols) slices holding all of the mask
    (`Person.mask_region`), so the cost is the person's, not the image's. erode: first shrink the
    mask by this many pixels (a (2 erode + 1)^2 square), so that pixels on its rim, where a mask
    edge or the sensor's edge pixels meet the background, do not vote; a mask that erodes away
    keeps its own pixels.
    """
    sub = mask[region]
    if erode > 0 and sub.size:
        kernel = np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)
        eroded = cv2.erode(sub.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
        sub = eroded if eroded.any() else sub
    row_counts, col_counts = sub.sum(axis=1), sub.sum(axis=0)
    if not row_counts.any():
        return math.nan, math.nan, math.nan
    rows = np.arange(sub.shape[0]) + (region[0].start or 0)  # colour rows and columns of `sub`
    cols = np.arange(sub.shape[1]) + (region[1].start or 0)
    if (depth.width, depth.height) != tuple(colour_size):  # the depth pixel each one reads
        cols = np.clip(pixel_index((cols + 0.5) * depth.width / colour_size[0] - 0.5), 0, depth.width - 1)
        rows = np.clip(pixel_index((rows + 0.5) * depth.height / colour_size[1] - 0.5), 0, depth.height - 1)
        values = depth.values[np.ix_(rows, cols)][sub]
    else:
        values = depth.values[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1][sub]
    valid = values[~np.isnan(to_metres(values, depth.units_per_metre, min_range, max_range))]
    z = _median(valid) / depth.units_per_metre if valid.size else math.nan
    return _counted_median(cols, col_counts), _counted_median(rows, row_counts), z


def _median(values: np.ndarray) -> float:
    """The usual median (mean of the two middle values of an even count) of raw depth values, in
    their own dtype: partitioning uint16 is 3x faster than np.median of float64 metres."""
    count = values.size
    middle = np.partition(values, [(count - 1) // 2, count // 2])
    return 0.5 * (float(middle[(count - 1) // 2]) + float(middle[count // 2]))


def _counted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """The median of a list holding values[i] counts[i] times (values non-decreasing)."""
    ends = np.cumsum(counts)
    total = int(ends[-1])
    low, high = np.searchsorted(ends, [(total - 1) // 2, total // 2], side="right")
    return 0.5 * (float(values[low]) + float(values[high]))
