"""The mask branch's decode (issue 21): the dynamic 3x3 convolution at a person's center, the
inverse warp to source pixels, and the Predictor's masks for kept persons only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from centerpose_core.affine import WarpMeta, apply_affine, image_center_scale
from centerpose_core.flip import merge_flip
from centerpose_core.masks import mask_logits, masks_to_image
from centerpose_core.model.random_weights import build_random_model
from centerpose_core.runtime.predictor import Predictor


def _known_features() -> torch.Tensor:
    feat = torch.zeros(48, 4, 4)
    feat[0] = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    feat[5] = 1.0
    return feat


def _known_seg(y: int, x: int) -> torch.Tensor:
    """432 x 4 x 4 map, random everywhere except a chosen kernel at (y, x)."""
    seg = torch.randn(432, 4, 4, generator=torch.Generator().manual_seed(3)) * 100
    kernel = torch.zeros(48, 3, 3)
    kernel[0, 1, 1] = 2.0  # feature 0, center tap
    kernel[0, 0, 0] = 1.0  # feature 0, top-left tap (reads the pixel up-left)
    kernel[5] = 0.5  # feature 5 (all ones), every tap: 0.5 x in-image neighbours
    seg[:, y, x] = kernel.reshape(432)  # channel-major, then kernel row, then column
    return seg


def test_known_kernel_over_known_features_gives_the_hand_computed_logits():
    logits = mask_logits(_known_features(), _known_seg(1, 2), torch.tensor([1 * 4 + 2]))
    assert logits.shape == (1, 4, 4)
    # out[y, x] = 2 f0[y, x] + f0[y-1, x-1] (0 outside) + 0.5 x (neighbours inside the 4x4 map)
    assert logits[0, 0, 0].item() == pytest.approx(2 * 0 + 0 + 0.5 * 4)
    assert logits[0, 1, 1].item() == pytest.approx(2 * 5 + 0 + 0.5 * 9)
    assert logits[0, 2, 3].item() == pytest.approx(2 * 11 + 6 + 0.5 * 6)
    assert logits[0, 3, 3].item() == pytest.approx(2 * 15 + 10 + 0.5 * 4)
    assert logits[0, 0, 3].item() == pytest.approx(2 * 3 + 0 + 0.5 * 4)


def test_each_person_reads_its_own_center_and_none_is_empty():
    seg = _known_seg(1, 2)
    seg[:, 3, 0] = 0.0
    seg[45 + 4, 3, 0] = -1.0  # feature 5, center tap: -1 everywhere
    logits = mask_logits(_known_features(), seg, torch.tensor([6, 12]))
    assert logits[1].eq(-1.0).all()
    assert logits[0, 1, 1].item() == pytest.approx(14.5)
    assert mask_logits(_known_features(), seg, torch.tensor([], dtype=torch.long)).shape == (0, 4, 4)


@pytest.mark.parametrize("persons", [1, 3, 10, 13])
def test_logits_equal_each_persons_conv2d_over_the_map_and_any_region(persons):
    # Reference semantics: torch's conv2d (padding 1) of the whole map with the (1, 48, 3, 3)
    # kernel read at each person's center, one person at a time; regions cut from that.
    gen = torch.Generator().manual_seed(persons)
    height, width = 11, 14
    seg_feat = torch.randn(48, height, width, generator=gen)
    seg = torch.randn(432, height, width, generator=gen) * 0.1
    inds = torch.randperm(height * width, generator=gen)[:persons]
    reference = torch.cat(
        [
            torch.nn.functional.conv2d(
                seg_feat[None], seg[:, i // width, i % width].reshape(1, 48, 3, 3), padding=1
            )[0]
            for i in inds.tolist()
        ]
    )
    torch.testing.assert_close(mask_logits(seg_feat, seg, inds), reference, rtol=1e-5, atol=1e-5)
    # interior, touching one edge, touching two opposite edges, a corner, one pixel, empty
    for r0, r1, c0, c1 in (
        (2, 9, 3, 12),
        (0, 6, 4, 9),
        (3, 8, 0, 14),
        (0, 11, 0, 14),
        (7, 11, 10, 14),
        (5, 6, 13, 14),
    ):
        logits = mask_logits(seg_feat, seg, inds, (r0, r1, c0, c1))
        torch.testing.assert_close(logits, reference[:, r0:r1, c0:c1], rtol=1e-5, atol=1e-5)
    assert mask_logits(seg_feat, seg, inds, (4, 4, 0, 14)).shape == (persons, 0, 14)


def test_masks_go_back_through_the_inverse_affine_and_threshold():
    # A 64 x 32 image on a 16 x 16 output map: 4 source pixels per map pixel, centered vertically.
    center, scale = image_center_scale(32, 64)
    meta = WarpMeta(center=center, scale=scale, output_size=(16, 16))
    prob = np.zeros((1, 16, 16), np.float32)
    prob[0, 6:10, 4:8] = 0.9  # map block x 4..7, y 6..9
    mask = masks_to_image(prob, meta, (32, 64), threshold=0.5)[0]
    assert mask.shape == (32, 64) and mask.dtype == bool
    # Map pixel (x, y) lands on source (4x, 4y - 16): the block's interior is in, the rest out.
    (x0, y0), (x1, y1) = apply_affine(np.array([[4.0, 6.0], [7.0, 9.0]]), meta.output_to_image())
    assert (x0, y0, x1, y1) == (16.0, 8.0, 28.0, 20.0)
    assert mask[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1].all()
    assert not mask[:, :12].any() and not mask[:, 33:].any() and not mask[:4].any() and not mask[25:].any()
    assert not masks_to_image(prob, meta, (32, 64), threshold=0.95).any()


def test_flip_test_masks_come_from_the_unflipped_pass():
    outputs = {
        name: torch.rand(2, c, 4, 4)
        for name, c in {
            "hm": 1,
            "wh": 2,
            "hps": 34,
            "reg": 2,
            "hm_hp": 17,
            "hp_offset": 2,
            "seg_feat": 48,
            "seg": 432,
        }.items()
    }
    merged = merge_flip(outputs)
    assert torch.equal(merged["seg_feat"], outputs["seg_feat"][:1])
    assert torch.equal(merged["seg"], outputs["seg"][:1])


@pytest.fixture(scope="module")
def mask_model():
    return build_random_model(seed=0, masks=True)


@pytest.fixture(scope="module")
def mask_predictor(mask_model):
    """The seed's whole-map rule: random weights' boxes mostly miss the image, cut masks would be empty."""
    return Predictor(mask_model, input_size=128, masks_in_box=False)


def test_default_masks_are_the_whole_map_masks_cut_to_each_box(mask_model, mask_predictor):
    """`masks_in_box` (default): each mask is the whole-map rule's mask inside the person's box.
    The two compute a pixel's probability over different map regions, so float rounding may flip
    a pixel lying exactly at the threshold: a handful of pixels may differ, never more."""
    from centerpose_core.masks import box_pixels

    image = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
    boxed = Predictor(mask_model, input_size=128).predict(image, max_persons=20)
    whole = mask_predictor.predict(image, max_persons=20)
    assert [p.bbox.tolist() for p in boxed] == [p.bbox.tolist() for p in whole]
    differing = kept = cut = 0
    for cut_person, whole_person in zip(boxed, whole):
        inside = np.zeros(image.shape[:2], bool)
        pixels = box_pixels(whole_person.bbox, image.shape[:2])
        if pixels is not None:
            x0, y0, x1, y1 = pixels
            inside[y0:y1, x0:x1] = True
        expected = whole_person.mask & inside
        differing += int((cut_person.mask != expected).sum())
        kept += int(expected.sum())
        cut += int(whole_person.mask.sum() > expected.sum() > 0)
        assert not cut_person.mask[~inside].any()
    assert kept > 1000 and cut >= 3, "fixture: several persons' masks cut by their boxes"
    assert differing <= 0.002 * kept


def test_predictor_gives_masks_for_kept_persons_only(mask_predictor):
    image = np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8)
    persons = mask_predictor.predict(image, max_persons=3)
    assert len(persons) == 3
    for person in persons:
        assert person.mask is not None and person.mask.shape == (96, 160) and person.mask.dtype == bool
        entry = person.to_json()
        rle = entry["segmentation"]
        assert isinstance(rle["counts"], str) and rle["size"] == [96, 160]
        decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
        assert np.array_equal(decoded.astype(bool), person.mask)
    assert "masks" in mask_predictor.last_timings
    assert any(p.mask.any() for p in persons) and not all(p.mask.all() for p in persons)


def test_label_image_higher_score_wins_and_index_is_detection_order():
    from centerpose_core.masks import label_image
    from centerpose_core.types import Person

    def person(score, rows, cols):
        mask = np.zeros((4, 5), bool)
        mask[rows, cols] = True
        return Person(
            score=score, bbox=np.zeros(4, np.float32), keypoints=np.zeros((17, 3), np.float32), mask=mask
        )

    persons = [
        person(0.9, slice(0, 2), slice(0, 3)),
        person(0.5, slice(1, 4), slice(2, 5)),
        person(0.7, 3, 0),
    ]
    labels = label_image(persons, 4, 5)
    expected = np.array(
        [
            [1, 1, 1, 0, 0],
            [1, 1, 1, 2, 2],  # (1, 2) overlaps: person 0 (0.9) beats person 1 (0.5)
            [0, 0, 2, 2, 2],
            [3, 0, 2, 2, 2],
        ],
        np.uint8,
    )
    np.testing.assert_array_equal(labels, expected)


def test_masks_false_skips_the_stage_for_that_call_only(mask_predictor):
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    persons = mask_predictor.predict(image, max_persons=2, masks=False)
    assert all(p.mask is None for p in persons) and "masks" not in mask_predictor.last_timings
    assert mask_predictor.has_masks
    persons = mask_predictor.predict(image, max_persons=2)  # default: the model has masks
    assert all(p.mask is not None for p in persons) and "masks" in mask_predictor.last_timings


def test_masks_true_without_the_mask_branch_is_one_clear_error():
    predictor = Predictor(build_random_model(seed=0), input_size=64)
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="no mask branch"):
        predictor.predict(image, masks=True)
    assert all(p.mask is None for p in predictor.predict(image, max_persons=2))


def test_mask_boxes_hold_the_whole_mask(mask_predictor):
    """`Person.mask_box` (what label_image and the drawing work on) holds all of `Person.mask`."""
    image = np.random.default_rng(2).integers(0, 255, (72, 128, 3), dtype=np.uint8)
    for person in mask_predictor.predict(image, max_persons=4):
        x0, y0, x1, y1 = person.mask_box
        outside = person.mask.copy()
        outside[y0:y1, x0:x1] = False
        assert not outside.any()
