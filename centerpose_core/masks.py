"""Per-person instance masks from the seed repo's dynamic-convolution branch (`whole_body_decode`).

At each kept person's integer center peak, the 432 values of `seg` are the weights of one 3x3
convolution 48 -> 1 (viewed as (1, 48, 3, 3): channel-major, then kernel row, then column); run
over the 48 `seg_feat` maps (padding 1) it gives that person's mask logits at the output
resolution. Probabilities (sigmoid) go back to source-image pixels through the inverse of the
affine that maps boxes and keypoints back (bilinear, `cv2.warpAffine`), then a threshold.

Only the persons a caller keeps are convolved (not all K candidates): the cost grows with kept
persons, not with K. This runs in torch on the backend's device, after every backend, so all
backends give the same masks for the same head maps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from centerpose_core.affine import WarpMeta
from centerpose_core.constants import DEFAULT_MASK_THRESHOLD, MASK_FEATURES, MASK_HEAD_NAMES, MASK_KERNEL
from centerpose_core.types import Person


def has_mask_maps(maps: dict[str, torch.Tensor]) -> bool:
    """True when head maps carry the mask branch (`seg_feat` and `seg`)."""
    return all(name in maps for name in MASK_HEAD_NAMES)


MapRegion = tuple[int, int, int, int]  # row0, row1, col0, col1 of the output map, end-exclusive
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in source pixels, end-exclusive


# Up to this many persons, `mask_logits` runs the persons' convolutions as one matrix product
# (`_tap_sum_logits`), beyond it as `conv2d` with one output channel per person. On the CPU,
# oneDNN's conv2d computes output channels in blocks of 16 (AVX-512), so 3 or 10 persons cost
# as much as 16, while the product's cost grows with the persons. Measured on 98 x 128 map
# pixels, one thread, Zen 4, p50 under shared load, product vs conv2d: 3 persons 0.85 vs 1.9 ms,
# 10: 1.97 vs 2.06, 12: 2.8 vs 2.5, 16: 3.0 vs 2.2. Both equal the convolution up to rounding.
_PRODUCT_MAX_PERSONS = 10


def mask_logits(
    seg_feat: torch.Tensor, seg: torch.Tensor, inds: torch.Tensor, region: MapRegion | None = None
) -> torch.Tensor:
    """One image's mask logits for the persons whose integer centers are at flat indices `inds`.

    seg_feat: (48, H, W); seg: (432, H, W); inds: (N,) flat index y * W + x. Returns (N, H, W).
    With `region` (`map_region`: the map pixels the source image can read), only those are
    convolved, exactly as over the whole map, and returned: (N, row1 - row0, col1 - col0).
    """
    n = int(inds.numel())
    height, width = seg_feat.shape[-2:]
    r0, r1, c0, c1 = region if region is not None else (0, height, 0, width)
    if n == 0 or r1 <= r0 or c1 <= c0:
        return seg_feat.new_zeros((n, max(r1 - r0, 0), max(c1 - c0, 0)))
    kernels = seg.reshape(seg.shape[0], -1)[:, inds.long()]  # (432, N): channel, kernel row, column
    if n <= _PRODUCT_MAX_PERSONS:
        return _tap_sum_logits(_with_halo(seg_feat, (r0, r1, c0, c1)), kernels)
    # One more row / column of features each side of the region where the map has them; conv2d's
    # own padding supplies the zeros past the map's edges.
    pad = MASK_KERNEL // 2
    ra, rb, ca, cb = max(r0 - pad, 0), min(r1 + pad, height), max(c0 - pad, 0), min(c1 + pad, width)
    weights = kernels.t().reshape(n, MASK_FEATURES, MASK_KERNEL, MASK_KERNEL)
    part = F.conv2d(seg_feat[None, :, ra:rb, ca:cb], weights, padding=pad)[0]
    return part[:, r0 - ra : r1 - ra, c0 - ca : c1 - ca]


def _tap_sum_logits(padded: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """The valid 3x3 convolutions of `padded` (48, rows + 2, cols + 2) with `kernels` (432, N):
    all persons' nine taps (9N, 48) times the features (48, pixels) in one matrix product, then
    the nine tap planes added at their pixel offsets. Returns (N, rows, cols) (a strided view)."""
    n = kernels.shape[1]
    taps = kernels.reshape(MASK_FEATURES, MASK_KERNEL * MASK_KERNEL, n).permute(1, 2, 0)  # (9, N, 48)
    per_tap = (taps.reshape(-1, MASK_FEATURES) @ padded.reshape(MASK_FEATURES, -1)).reshape(len(taps), n, -1)
    return _shifted_tap_sum(per_tap, padded.shape[1] - MASK_KERNEL + 1, padded.shape[2])


def _shifted_tap_sum(per_tap: torch.Tensor, rows: int, stride: int) -> torch.Tensor:
    """(9, N, (rows + 2) * stride) tap planes over padded inputs whose rows are `stride` long ->
    (N, rows, stride - 2) valid convolution outputs (a strided view).

    Output pixel (y, x) sits at flat y * stride + x; its tap (dy, dx) reads flat pixel
    y * stride + x + dy * stride + dx of the input. The last 2 columns of each output row
    collect sums that wrap into the next row, and are dropped."""
    n = per_tap.shape[1]
    cols = stride - MASK_KERNEL + 1
    length = (rows - 1) * stride + cols
    offsets = [dy * stride + dx for dy in range(MASK_KERNEL) for dx in range(MASK_KERNEL)]
    out = per_tap.new_empty((n, rows * stride))
    total = out[:, :length]
    torch.add(per_tap[0, :, :length], per_tap[1, :, offsets[1] : offsets[1] + length], out=total)
    for tap, offset in enumerate(offsets[2:], start=2):
        total.add_(per_tap[tap, :, offset : offset + length])
    return out.view(n, rows, stride)[:, :, :cols]


def window_logits(
    seg_feat: torch.Tensor,
    seg: torch.Tensor,
    inds: torch.Tensor,
    origins: torch.Tensor,
    size: tuple[int, int],
) -> torch.Tensor:
    """Each person's mask logits over its own window of the map, all persons in one batched product.

    seg_feat: (48, H, W); seg: (432, H, W); inds: (N,) flat center indices; origins: (N, 2) long,
    each window's first (row, column); size: (rows, cols) of every window, inside the map. Returns
    (N, rows, cols), equal to `mask_logits` over the whole map at those pixels (zeros past the map's
    edges, as its padding)."""
    n = int(inds.numel())
    rows, cols = size
    kernels = seg.reshape(seg.shape[0], -1)[:, inds.long()]  # (432, N)
    # Slices, not one gather: torch's advanced indexing costs ~10x more here.
    pieces = [_with_halo(seg_feat, (row, row + rows, col, col + cols)) for row, col in origins.tolist()]
    windows = torch.stack(pieces).reshape(n, MASK_FEATURES, -1)  # (N, 48, pixels)
    taps = kernels.reshape(MASK_FEATURES, MASK_KERNEL * MASK_KERNEL, n).permute(2, 1, 0)  # (N, 9, 48)
    per_tap = torch.bmm(taps, windows).transpose(0, 1)  # (9, N, pixels)
    return _shifted_tap_sum(per_tap, rows, cols + MASK_KERNEL - 1)


def _with_halo(seg_feat: torch.Tensor, region: MapRegion) -> torch.Tensor:
    """The features of `region` with one more row / column each side: the map's own where it has
    them (so the region's edge pixels see their real neighbours), zeros past its edges (its padding)."""
    height, width = seg_feat.shape[-2:]
    r0, r1, c0, c1 = region
    pad = MASK_KERNEL // 2
    ra, rb, ca, cb = max(r0 - pad, 0), min(r1 + pad, height), max(c0 - pad, 0), min(c1 + pad, width)
    return F.pad(seg_feat[:, ra:rb, ca:cb], (ca - c0 + pad, c1 + pad - cb, ra - r0 + pad, r1 + pad - rb))


def map_region(to_image: np.ndarray, image_hw: tuple[int, int], map_hw: tuple[int, int]) -> MapRegion:
    """The output-map pixels that warping to the image's pixels can read (bilinear: the two
    pixels around each landing point, landing points rounded to 1/32 by OpenCV; a letterboxed
    image reads only its own rows): the rest of the map need not be convolved."""
    height, width = image_hw
    return pixels_map_region(to_image, (0, 0, width, height), map_hw)


def pixels_map_region(to_image: np.ndarray, pixels: Box, map_hw: tuple[int, int]) -> MapRegion:
    """The output-map pixels that warping to the source pixels `pixels` (x0, y0, x1, y1,
    end-exclusive) can read (see `map_region`)."""
    x0, y0, x1, y1 = pixels
    corners = np.array([[x0, y0, 1], [x1 - 1, y0, 1], [x0, y1 - 1, 1], [x1 - 1, y1 - 1, 1]], float)
    uv = corners @ cv2.invertAffineTransform(np.asarray(to_image, np.float64)).T
    slack = 1.0 / 16
    rows, cols = map_hw
    r0, c0 = (max(0, math.floor(uv[:, i].min() - slack)) for i in (1, 0))
    r1, c1 = (min(limit, math.floor(uv[:, i].max() + slack) + 2) for i, limit in ((1, rows), (0, cols)))
    return (r0, max(r0, r1), c0, max(c0, c1))


def mask_probabilities(
    maps: dict[str, torch.Tensor],
    inds: torch.Tensor,
    counts: Sequence[int],
    regions: Sequence[MapRegion | None] | None = None,
) -> list[torch.Tensor]:
    """Sigmoid mask probabilities (N_i, H, W) of the first `counts[i]` candidates of each image.

    `inds` (B, K) are the candidates' integer center indices (decode's `inds`, sorted by score
    as the candidates, so the kept persons are a prefix). `regions`: per image, the map pixels
    worth computing (`map_region`; default all): then (N_i, rows, cols) of that region.
    """
    seg_feat, seg = maps["seg_feat"], maps["seg"]
    regions = regions or [None] * len(counts)
    return [
        mask_logits(seg_feat[i], seg[i], inds[i, :count], region).float().sigmoid()
        for i, (count, region) in enumerate(zip(counts, regions))
    ]


# Where to warp (`source_box`): a warped pixel is a bilinear mix of at most four map pixels with
# non-negative weights summing to 1 (pixels outside the map read 0), so it can pass the threshold
# only if one of them does. Map pixels this little below the threshold still count, for the float
# rounding of that weighted sum (weights sum to 1 within ~1e-7).
_SELECT_MARGIN = 1e-5
# A map pixel is read by source pixels that land less than one map pixel from it; OpenCV rounds
# the landing point to 1/32 map pixel (and its fixed-point sum adds ~1/1000), so grow a little more.
_BOX_GROWTH = 1.0 + 1.0 / 16


def source_box(
    probability: np.ndarray, to_image: np.ndarray, image_hw: tuple[int, int], threshold: float
) -> Box | None:
    """The source-pixel rectangle outside which a person's warped mask is surely empty (None: empty).

    It covers the map pixels with probability above the threshold, grown by one map pixel (the
    bilinear reach), mapped to source pixels through `to_image` and clipped to the image. Only
    this rectangle needs warping: every other pixel mixes values at or below the threshold.
    """
    above = probability > threshold - _SELECT_MARGIN
    cols = np.flatnonzero(above.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(above.any(axis=1))
    u0, u1 = cols[0] - _BOX_GROWTH, cols[-1] + _BOX_GROWTH
    v0, v1 = rows[0] - _BOX_GROWTH, rows[-1] + _BOX_GROWTH
    corners = np.array([[u0, v0, 1.0], [u1, v0, 1.0], [u0, v1, 1.0], [u1, v1, 1.0]]) @ to_image.T
    height, width = image_hw
    x0, y0 = max(0, math.ceil(corners[:, 0].min())), max(0, math.ceil(corners[:, 1].min()))
    x1 = min(width, math.floor(corners[:, 0].max()) + 1)
    y1 = min(height, math.floor(corners[:, 1].max()) + 1)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def mask_patches(
    probabilities: np.ndarray,
    to_image: np.ndarray,
    image_hw: tuple[int, int],
    threshold: float = DEFAULT_MASK_THRESHOLD,
    origin: tuple[int, int] = (0, 0),
    within: Sequence[Box | None] | None = None,
) -> list[tuple[Box, np.ndarray] | None]:
    """(N, H', W') map probabilities -> per person (box, bool pixels of that box) or None (empty).

    The same masks as warping each whole map to the whole image (bilinear through `to_image`,
    pixels outside the map read 0) and thresholding, but only inside `source_box`: the warp
    costs the person's area, not the image's. `origin`: the map pixel (column, row) where the
    probabilities start, when they are a `map_region` of the map. `within`: per person, source
    pixels outside which its mask is cut (None: not cut).
    """
    to_image = np.array(to_image, np.float64)
    to_image[:, 2] += to_image[:, :2] @ np.array(origin, np.float64)
    inverse = cv2.invertAffineTransform(to_image)  # as warpAffine inverts a forward matrix
    out: list[tuple[Box, np.ndarray] | None] = []
    for n, prob in enumerate(probabilities):
        box = source_box(prob, to_image, image_hw, threshold)
        if box is not None and within is not None and within[n] is not None:
            box = _intersection(box, within[n])
        if box is None:
            out.append(None)
            continue
        x0, y0, x1, y1 = box
        shifted = inverse.copy()
        shifted[:, 2] += inverse[:, :2] @ np.array([x0, y0], np.float64)  # box pixel (0, 0) is (x0, y0)
        warped = cv2.warpAffine(
            np.ascontiguousarray(prob, dtype=np.float32),
            shifted,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
        out.append((box, warped > threshold))
    return out


def _intersection(a: Box, b: Box) -> Box | None:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def box_pixels(bbox: Sequence[float], image_hw: tuple[int, int]) -> Box | None:
    """The image pixels that a person's box (x0, y0, x1, y1 in source pixels, float) touches, as
    an end-exclusive rectangle clipped to the image (None: the box misses the image). Decode keeps
    CenterNet's boxes as regressed, so a box may come with x1 < x0 or y1 < y0: its corners span it."""
    height, width = image_hw
    (left, right), (top, bottom) = sorted(bbox[0::2][:2]), sorted(bbox[1::2][:2])
    x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
    x1, y1 = min(width, math.ceil(right)), min(height, math.ceil(bottom))
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def boxed_mask_patches(
    seg_feat: torch.Tensor,
    seg: torch.Tensor,
    inds: torch.Tensor,
    boxes: Sequence[Sequence[float]],
    to_image: np.ndarray,
    image_hw: tuple[int, int],
    threshold: float = DEFAULT_MASK_THRESHOLD,
) -> list[tuple[Box, np.ndarray] | None]:
    """Each person's mask cut to its own box (`box_pixels`), as `mask_patches` entries.

    Equal to the whole-map rule's mask AND the box, but only the map pixels that the box's pixels
    read are convolved (`pixels_map_region`): a person costs its box's area, not the image's. Why
    cut: on our trained model the whole-map masks leak far outside the person (segm AP 0.240 whole
    map vs 0.281 cut to the box on 605 held-out persons), and the cut is what makes 10 persons'
    masks cheap enough for the node (README, "Person masks").
    """
    map_hw = (int(seg_feat.shape[-2]), int(seg_feat.shape[-1]))
    pixels = [box_pixels(bbox, image_hw) for bbox in boxes]
    wanted = [n for n, rect in enumerate(pixels) if rect is not None]
    out: list[tuple[Box, np.ndarray] | None] = [None] * len(pixels)
    if not wanted:
        return out
    regions = np.array([pixels_map_region(to_image, pixels[n], map_hw) for n in wanted])  # r0, r1, c0, c1
    rows, cols = int((regions[:, 1] - regions[:, 0]).max()), int((regions[:, 3] - regions[:, 2]).max())
    r0, r1, c0, c1 = map_region(to_image, image_hw, map_hw)
    picked = inds.reshape(-1)[wanted]
    if len(wanted) * rows * cols < (r1 - r0) * (c1 - c0):  # one window per person, all of one size
        starts = np.stack(
            [np.minimum(regions[:, 0], map_hw[0] - rows), np.minimum(regions[:, 2], map_hw[1] - cols)], 1
        )
        logits = window_logits(seg_feat, seg, picked, torch.from_numpy(starts).long(), (rows, cols))
    else:  # windows would cover more than the image's part of the map: convolve that part once
        starts = np.tile([r0, c0], (len(wanted), 1))
        logits = mask_logits(seg_feat, seg, picked, (r0, r1, c0, c1))
    probabilities = logits.float().sigmoid().cpu().numpy()
    for n, prob, (row, col) in zip(wanted, probabilities, starts):
        out[n] = mask_patches(prob[None], to_image, image_hw, threshold, (int(col), int(row)), [pixels[n]])[0]
    return out


def full_mask(patch: tuple[Box, np.ndarray] | None, image_hw: tuple[int, int]) -> np.ndarray:
    """One person's (h, w) bool mask from its `mask_patches` entry."""
    return _pasted(np.zeros(image_hw, dtype=bool), patch)


def _pasted(mask: np.ndarray, patch: tuple[Box, np.ndarray] | None) -> np.ndarray:
    if patch is not None:
        (x0, y0, x1, y1), pixels = patch
        mask[y0:y1, x0:x1] = pixels
    return mask


def with_masks(
    persons: Sequence[Person], patches: Sequence[tuple[Box, np.ndarray] | None], image_hw: tuple[int, int]
) -> list[Person]:
    """The persons with their `mask_patches` as full-image `mask` and its `mask_box`."""
    return [
        replace(
            person, mask=full_mask(patch, image_hw), mask_box=patch[0] if patch is not None else (0, 0, 0, 0)
        )
        for person, patch in zip(persons, patches)
    ]


def masks_to_image(
    probabilities: np.ndarray,
    meta: WarpMeta,
    image_hw: tuple[int, int],
    threshold: float = DEFAULT_MASK_THRESHOLD,
) -> np.ndarray:
    """(N, H', W') probabilities on the output map -> (N, h, w) bool masks in source pixels.

    Bilinear through `meta.output_to_image()`, the matrix that maps boxes and keypoints back;
    pixels outside the output map read 0 (background).
    """
    patches = mask_patches(probabilities, meta.output_to_image(), image_hw, threshold)
    out = np.zeros((len(patches), *image_hw), dtype=bool)
    for mask, patch in zip(out, patches):
        _pasted(mask, patch)
    return out


def label_image(persons: Sequence, height: int, width: int) -> np.ndarray:
    """(height, width) uint8: 0 background, 1 + i where person i's mask is (the ROS `/pose/masks`
    encoding). Where masks overlap, the higher-scoring person wins (ties: the earlier index).

    At most 255 persons are labelled (a ValueError beyond: uint8 values); persons without a mask
    or with a mask of another size label nothing.
    """
    if len(persons) > 255:
        raise ValueError(f"a mono8 label image holds at most 255 persons, got {len(persons)}")
    labels = np.zeros((height, width), dtype=np.uint8)
    # Paint the lowest score first so that higher scores overwrite it.
    order = sorted(range(len(persons)), key=lambda i: (persons[i].score, -i))
    for i in order:
        mask = persons[i].mask
        if mask is not None and mask.shape == (height, width):
            region = persons[i].mask_region()  # only where the mask can be True
            np.copyto(labels[region], np.uint8(i + 1), where=mask[region])
    return labels
