"""The cheap mask path (issue 21, node cost): warping each person only inside `source_box` and
convolving only `map_region` gives the masks and the label image of the plain rule, warping every
person's whole map to the whole image (written here with one cv2.warpAffine per person), then
thresholding.

Both go through OpenCV's bilinear warp, which rounds each landing point to 1/32 map pixel in fixed
point; shifting the warp's origin to a box can move a landing point by one such step (two roundings
of at most 1/2048 pixel each). A warped value then moves by at most (1/32) x (the map's largest
step between neighbours) per axis. Pixels whose reference value lies within twice that of the
threshold (`_band`) may therefore go either way on any CPU and are left out of the exact
comparison; the fixtures keep them a small share (checked), so the comparison covers the masks.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from centerpose_core.affine import WarpMeta, image_center_scale
from centerpose_core.masks import full_mask, label_image, map_region, mask_patches, source_box
from centerpose_core.types import Person


def _blobs(rng: np.random.Generator, map_hw: tuple[int, int], centers: np.ndarray) -> np.ndarray:
    """Person-like probability maps: a smooth ellipse per center (probability 0.5 on its rim)."""
    v, u = np.mgrid[0 : map_hw[0], 0 : map_hw[1]].astype(np.float32)
    maps = []
    for cu, cv in centers:
        a, b = rng.uniform(3, 8), rng.uniform(6, 14)
        logits = 4.0 * (1.0 - ((u - cu) / a) ** 2 - ((v - cv) / b) ** 2)
        maps.append(1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30))))
    return np.stack(maps).astype(np.float32)


def _reference(prob: np.ndarray, to_image: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """The plain rule's probabilities: the whole map warped to the whole image (0 outside the map)."""
    height, width = image_hw
    return cv2.warpAffine(
        prob, to_image, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def _band(prob: np.ndarray) -> float:
    """How far from the threshold a pixel may go either way (see the module docstring)."""
    step = max(np.abs(np.diff(prob, axis=0)).max(), np.abs(np.diff(prob, axis=1)).max())
    return 2 * 2 * float(step) / 32 + 1e-6


def _cases():
    """(to_image, image_hw, map_hw, centers): the Predictor's letterbox affines and rotated / sheared
    ones, persons cut by the image border, overlapping persons."""
    rng = np.random.default_rng(21)
    for height, width, side in ((120, 160, 32), (100, 60, 32), (90, 90, 24)):
        center, scale = image_center_scale(height, width)
        meta = WarpMeta(center=center, scale=scale, output_size=(side, side))
        centers = rng.uniform(0, side, (5, 2))
        centers[1] = centers[0] + (2.0, 3.0)  # overlapping
        centers[2] = (0.5, side / 2)  # cut by the left border / the map's edge
        yield meta.output_to_image(), (height, width), (side, side), centers
    for _ in range(4):
        angle = rng.uniform(-0.5, 0.5)
        scale = rng.uniform(2.0, 5.0)
        linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        linear[0, 1] += rng.uniform(-0.5, 0.5)  # shear
        to_image = np.hstack([linear, rng.uniform(-30, 30, (2, 1))])
        centers = rng.uniform(2, 28, (6, 2))
        centers[1] = centers[0] + (1.0, -2.0)
        yield to_image, (110, 130), (32, 32), centers


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_box_warps_give_the_whole_image_warp_masks_and_labels(threshold):
    rng = np.random.default_rng(0)
    cut = overlapping = banded = total = 0
    for to_image, image_hw, map_hw, centers in _cases():
        probs = _blobs(rng, map_hw, centers)
        patches = mask_patches(probs, to_image, image_hw, threshold)
        scores = rng.permutation(len(probs)) / len(probs)
        persons, certain = [], np.ones(image_hw, bool)
        references = []
        for prob, patch, score in zip(probs, patches, scores):
            reference = _reference(prob, to_image, image_hw)
            sure = np.abs(reference - threshold) > _band(prob)
            mask = full_mask(patch, image_hw)
            np.testing.assert_array_equal(mask[sure], (reference > threshold)[sure])
            if patch is not None:  # the box holds the whole mask
                (x0, y0, x1, y1), pixels = patch
                assert pixels.shape == (y1 - y0, x1 - x0)
                assert not (reference > threshold)[~_inside((x0, y0, x1, y1), image_hw)].any()
            truth = reference > threshold
            banded += (~sure & truth).sum()
            total += truth.sum()
            cut += bool(truth[:, 0].any() or truth[:, -1].any() or truth[0].any() or truth[-1].any())
            references.append(truth)
            certain &= sure
            box = patch[0] if patch is not None else (0, 0, 0, 0)
            blank = Person(float(score), np.zeros(4, np.float32), np.zeros((17, 3), np.float32))
            persons.append(replace(blank, mask=mask, mask_box=box))
        overlapping += (np.sum(references, axis=0) > 1).any()
        # The label image, painted here from the reference masks: the higher score last (wins).
        expected = np.zeros(image_hw, np.uint8)
        for i in np.argsort(scores, kind="stable"):
            expected[references[i]] = i + 1
        labels = label_image(persons, *image_hw)
        np.testing.assert_array_equal(labels[certain], expected[certain])
    assert cut >= 3 and overlapping >= 5, "fixture: persons cut by the border and overlapping persons"
    assert banded <= 0.15 * total, "fixture: most mask pixels are compared exactly"


def _inside(box: tuple[int, int, int, int], image_hw: tuple[int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    inside = np.zeros(image_hw, bool)
    inside[y0:y1, x0:x1] = True
    return inside


def test_a_person_below_the_threshold_everywhere_has_no_box_and_an_empty_mask():
    probs = np.full((1, 16, 16), 0.49, np.float32)
    to_image = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    assert source_box(probs[0], to_image, (64, 64), 0.5) is None
    (patch,) = mask_patches(probs, to_image, (64, 64), 0.5)
    assert patch is None and not full_mask(patch, (64, 64)).any()
    # A map wholly off the image: no box either.
    probs[0] = 0.9
    off = np.array([[4.0, 0.0, 100.0], [0.0, 4.0, 0.0]])
    assert source_box(probs[0], off, (64, 64), 0.5) is None


def test_box_of_one_map_pixel_by_hand():
    # Map pixel (5, 3) alone above 0.5, map -> image x4: source pixels reading it land within one
    # map pixel of it, (4..6, 2..4) open -> x in (16, 24), y in (8, 16), grown by 1/16 map pixel.
    prob = np.zeros((16, 16), np.float32)
    prob[3, 5] = 0.9
    to_image = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    assert source_box(prob, to_image, (64, 64), 0.5) == (16, 8, 25, 17)
    assert source_box(prob, to_image, (12, 20), 0.5) == (16, 8, 20, 12)  # clipped to the image


def test_map_region_covers_every_map_pixel_the_image_reads():
    """Map pixels outside `map_region` never reach the image: setting them to 1 or to 0 warps to the
    same image, bit for bit (the reference warp reads them with weight 0 or not at all)."""
    rng = np.random.default_rng(5)
    for height, width in ((120, 160), (160, 120), (64, 64), (48, 200)):
        center, scale = image_center_scale(height, width)
        meta = WarpMeta(center=center, scale=scale, output_size=(32, 32))
        to_image = meta.output_to_image()
        r0, r1, c0, c1 = map_region(to_image, (height, width), (32, 32))
        prob = rng.uniform(0, 1, (32, 32)).astype(np.float32)
        ones, zeros = np.ones_like(prob), np.zeros_like(prob)
        ones[r0:r1, c0:c1] = zeros[r0:r1, c0:c1] = prob[r0:r1, c0:c1]
        np.testing.assert_array_equal(
            _reference(ones, to_image, (height, width)), _reference(zeros, to_image, (height, width))
        )
        if height != width:  # letterboxed: the padding's rows (or columns) are left out
            assert (r1 - r0) * (c1 - c0) < 32 * 32 * 0.9


def test_region_logits_are_the_whole_map_logits_there():
    import torch

    from centerpose_core.masks import mask_logits

    gen = torch.Generator().manual_seed(2)
    seg_feat, seg = torch.randn(48, 12, 10, generator=gen), torch.randn(432, 12, 10, generator=gen)
    inds = torch.tensor([0, 57, 119])
    whole = mask_logits(seg_feat, seg, inds)
    for region in ((0, 12, 0, 10), (2, 9, 0, 10), (0, 5, 3, 10), (4, 5, 4, 5)):
        r0, r1, c0, c1 = region
        torch.testing.assert_close(mask_logits(seg_feat, seg, inds, region), whole[:, r0:r1, c0:c1])


def test_drawing_blends_the_mask_pixels_only_with_or_without_a_box():
    from centerpose_core.viz import MASK_ALPHA, draw_masks, id_colour

    canvas = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    mask = np.zeros((20, 30), bool)
    mask[4:9, 10:17] = True
    mask[12, 20] = True
    blank = Person(0.9, np.zeros(4, np.float32), np.zeros((17, 3), np.float32))
    colour = np.array(id_colour(0), np.float32)
    expected = canvas.copy()
    blended = canvas[mask].astype(np.float32) * (1 - MASK_ALPHA) + colour * MASK_ALPHA
    expected[mask] = blended.astype(np.uint8)
    for box in (None, (10, 4, 21, 13)):
        drawn = draw_masks(canvas.copy(), [replace(blank, mask=mask, mask_box=box)])
        np.testing.assert_array_equal(drawn, expected)


# --- Masks cut to each person's box (`masks_in_box`, the Predictor's default) -----------------


def test_box_pixels_by_hand():
    from centerpose_core.masks import box_pixels

    assert box_pixels((1.2, 3.0, 5.5, 7.9), (10, 10)) == (1, 3, 6, 8)  # every pixel the box touches
    assert box_pixels((5.5, 7.9, 1.2, 3.0), (10, 10)) == (1, 3, 6, 8)  # an inverted box: its corners
    assert box_pixels((-4.0, 8.5, 30.0, 12.0), (10, 20)) == (0, 8, 20, 10)  # clipped to the image
    assert box_pixels((21.0, 2.0, 25.0, 6.0), (10, 20)) is None  # off the image
    assert box_pixels((3.0, 3.0, 3.0, 6.0), (10, 20)) is None  # no width


def test_box_map_region_covers_every_map_pixel_the_box_reads():
    """Map pixels outside `pixels_map_region` never reach the box's pixels (as for `map_region`)."""
    from centerpose_core.masks import pixels_map_region

    rng = np.random.default_rng(8)
    for to_image, image_hw, map_hw, _ in _cases():
        for _ in range(5):
            x0, x1 = sorted(rng.integers(0, image_hw[1], 2))
            y0, y1 = sorted(rng.integers(0, image_hw[0], 2))
            pixels = (int(x0), int(y0), int(x1) + 1, int(y1) + 1)
            r0, r1, c0, c1 = pixels_map_region(to_image, pixels, map_hw)
            prob = rng.uniform(0, 1, map_hw).astype(np.float32)
            ones, zeros = np.ones_like(prob), np.zeros_like(prob)
            ones[r0:r1, c0:c1] = zeros[r0:r1, c0:c1] = prob[r0:r1, c0:c1]
            inside = _inside(pixels, image_hw)
            np.testing.assert_array_equal(
                _reference(ones, to_image, image_hw)[inside], _reference(zeros, to_image, image_hw)[inside]
            )


def _ellipse_heads(rng: np.random.Generator, map_hw: tuple[int, int], centers: np.ndarray):
    """seg_feat / seg whose dynamic convolution gives person n the logits of one ellipse: its
    kernel is 1 at the centre tap of feature n, so its logits are feature n itself."""
    import torch

    probs = _blobs(rng, map_hw, centers)
    logits = np.log(probs / (1 - probs)).astype(np.float32)
    seg_feat = np.zeros((48, *map_hw), np.float32)
    seg_feat[: len(centers)] = logits
    seg = np.zeros((432, *map_hw), np.float32)
    inds = []
    for n, (cu, cv) in enumerate(centers):
        row, col = min(int(cv), map_hw[0] - 1), min(int(cu), map_hw[1] - 1)
        seg[n * 9 + 4, row, col] = 1.0  # channel n, kernel row 1, column 1
        inds.append(row * map_hw[1] + col)
    return torch.from_numpy(seg_feat), torch.from_numpy(seg), torch.tensor(inds), probs


def _boxes(rng: np.random.Generator, image_hw: tuple[int, int], count: int, small: bool) -> list[tuple]:
    """Random boxes in source pixels: large ones (up to 1.4 image sides, sticking out) or small ones
    (at most a fifth of the image); every third inverted, the last one off the image."""
    height, width = image_hw
    boxes = []
    for n in range(count):
        if small:
            x0, y0 = rng.uniform(-0.1 * width, width), rng.uniform(-0.1 * height, height)
            x1, y1 = x0 + rng.uniform(1, 0.2 * width), y0 + rng.uniform(1, 0.2 * height)
        else:
            x0, x1 = sorted(rng.uniform(-0.2 * width, 1.2 * width, 2))
            y0, y1 = sorted(rng.uniform(-0.2 * height, 1.2 * height, 2))
        boxes.append((x1, y1, x0, y0) if n % 3 == 0 else (x0, y0, x1, y1))
    boxes[-1] = (width + 5.0, 0.0, width + 50.0, height)
    return boxes


@pytest.mark.parametrize("small", [False, True], ids=["whole-region", "windows"])
def test_boxed_masks_are_the_whole_map_masks_cut_to_the_box(small):
    """The box-cut rule equals the whole-map rule's mask AND the box's pixels, for boxes that cut
    the mask, hold it whole, are inverted, stick out of the image or miss it. Small boxes take the
    per-person windows (`window_logits`), large ones one convolution of the image's map region."""
    import centerpose_core.masks as masks

    rng = np.random.default_rng(11)
    compared = cut = windowed = 0
    for to_image, image_hw, map_hw, centers in _cases():
        seg_feat, seg, inds, probs = _ellipse_heads(rng, map_hw, centers)
        boxes = _boxes(rng, image_hw, len(centers), small)
        if small:  # boxes around the persons' own masks, so that they cut them
            for n, prob in enumerate(probs[:-1]):
                landed = np.argwhere(_reference(prob, to_image, image_hw) > 0.5)
                if len(landed):
                    (y0, x0), (y1, x1) = landed.min(0), landed.max(0)
                    boxes[n] = (x0 + 0.3 * (x1 - x0), y0 - 2.5, x1 + 3.2, y1 - 0.4 * (y1 - y0))
        patches = masks.boxed_mask_patches(seg_feat, seg, inds, boxes, to_image, image_hw, 0.5)
        for prob, box, patch in zip(probs, boxes, patches):
            reference = _reference(prob, to_image, image_hw)
            pixels = masks.box_pixels(box, image_hw)
            truth = (reference > 0.5) & (_inside(pixels, image_hw) if pixels else False)
            sure = np.abs(reference - 0.5) > _band(prob)
            mask = full_mask(patch, image_hw)
            np.testing.assert_array_equal(mask[sure], truth[sure])
            if patch is not None:
                assert pixels is not None and _inside(pixels, image_hw)[_inside(patch[0], image_hw)].all()
            compared += int(truth[sure].sum())
            cut += bool((reference > 0.5).sum() > truth.sum() > 0)
        regions = [
            masks.pixels_map_region(to_image, r, map_hw)
            for r in map(masks.box_pixels, boxes, [image_hw] * 9)
            if r
        ]
        r0, r1, c0, c1 = masks.map_region(to_image, image_hw, map_hw)
        tallest, widest = max(b - a for a, b, _, _ in regions), max(d - c for _, _, c, d in regions)
        windowed += len(regions) * tallest * widest < (r1 - r0) * (c1 - c0)
    assert compared > 500 and cut >= 5, "fixture: non-empty masks, several cut by their box"
    assert windowed >= 4 if small else windowed == 0, "fixture: the intended path"


def test_window_logits_are_the_whole_map_logits_there():
    """Windows at the map's corners and edges read the map's zero padding as the whole-map rule."""
    import torch

    from centerpose_core.masks import mask_logits, window_logits

    gen = torch.Generator().manual_seed(4)
    seg_feat, seg = torch.randn(48, 12, 10, generator=gen), torch.randn(432, 12, 10, generator=gen)
    inds = torch.tensor([0, 57, 119, 64])
    whole = mask_logits(seg_feat, seg, inds)
    origins = torch.tensor([[0, 0], [7, 6], [3, 0], [0, 5]])
    got = window_logits(seg_feat, seg, inds, origins, (5, 4))
    for n, (row, col) in enumerate(origins.tolist()):
        torch.testing.assert_close(got[n], whole[n, row : row + 5, col : col + 4])
