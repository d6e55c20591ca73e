"""IoU and OKS against hand-computed values and against pycocotools' own OKS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from centerpose_core.tracking.similarity import box_iou, keypoint_similarity

COCO_SIGMAS = [
    0.26,
    0.25,
    0.25,
    0.35,
    0.35,
    0.79,
    0.79,
    0.72,
    0.72,
    0.62,
    0.62,
    1.07,
    1.07,
    0.87,
    0.87,
    0.89,
    0.89,
]


def test_iou_by_hand():
    a = np.array([[0, 0, 2, 2], [0, 0, 4, 4]], float)
    b = np.array([[1, 1, 3, 3], [10, 10, 12, 12], [0, 0, 2, 2]], float)
    # [0,0,2,2] vs [1,1,3,3]: intersection 1, union 4 + 4 - 1 = 7. [0,0,4,4] contains both 2x2 boxes.
    expected = [[1 / 7, 0.0, 1.0], [4 / 16, 0.0, 4 / 16]]
    np.testing.assert_allclose(box_iou(a, b), expected, rtol=1e-12)


def test_iou_of_point_boxes_and_empty_sets():
    points = np.array([[5, 5, 5, 5]], float)
    assert box_iou(points, points).tolist() == [[0.0]]  # empty union: 0, never NaN
    assert box_iou(np.zeros((0, 4)), points).shape == (0, 1)
    assert box_iou(points, np.zeros((0, 4))).shape == (1, 0)


def test_oks_by_hand_over_joints_visible_in_both():
    reference = np.zeros((1, 17, 3))
    candidate = np.zeros((1, 17, 3))
    reference[0, :, 2] = 0.9  # every reference joint visible
    candidate[0, :, :2] = 500.0  # far away ...
    candidate[0, :, 2] = 0.05  # ... but below the visibility threshold: must not count
    candidate[0, 0] = (1.0, 0.0, 0.8)  # nose 1 px from the reference's
    candidate[0, 11] = (0.0, 2.0, 0.8)  # left hip 2 px away
    reference[0, 16, 2] = 0.0  # a reference joint below threshold: ignored as well
    candidate[0, 16] = (0.0, 0.0, 0.9)
    oks, shared = keypoint_similarity(reference, candidate, np.array([100.0]), score_threshold=0.1)
    # COCO: exp(-d^2 / (2 * area * (2 sigma)^2)), averaged over the joints visible in both.
    nose = math.exp(-1.0 / (2 * 100 * (2 * 0.026) ** 2))
    hip = math.exp(-4.0 / (2 * 100 * (2 * 0.107) ** 2))
    assert shared.tolist() == [2]
    assert oks[0] == pytest.approx((nose + hip) / 2, rel=1e-9)


def test_oks_without_shared_joints_is_zero():
    a = np.zeros((1, 17, 3))
    b = np.zeros((1, 17, 3))
    a[0, :8, 2] = 1.0
    b[0, 8:, 2] = 1.0
    oks, shared = keypoint_similarity(a, b, np.array([50.0]), 0.1)
    assert oks.tolist() == [0.0] and shared.tolist() == [0]


def test_oks_equals_pycocotools_compute_oks():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(3)
    gt_kps = rng.uniform(50, 150, (2, 17, 2))
    areas = np.array([4000.0, 2500.0])
    dt_kps = [gt_kps[0] + rng.normal(0, 4, (17, 2)), gt_kps[1] + rng.normal(0, 9, (17, 2)), gt_kps[0] + 30]
    coco = COCO()
    coco.dataset = {
        "images": [{"id": 1, "width": 200, "height": 200}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "area": float(areas[i]),
                "bbox": [40.0, 40.0, 120.0, 120.0],
                "num_keypoints": 17,
                "keypoints": np.concatenate([gt_kps[i], np.full((17, 1), 2.0)], 1).ravel().tolist(),
            }
            for i in range(2)
        ],
    }
    coco.createIndex()
    results = coco.loadRes(
        [
            {
                "image_id": 1,
                "category_id": 1,
                "score": 0.9 - 0.1 * d,  # distinct scores: pycocotools orders detections by score
                "keypoints": np.concatenate([kps, np.ones((17, 1))], 1).ravel().tolist(),
            }
            for d, kps in enumerate(dt_kps)
        ]
    )
    evaluator = COCOeval(coco, results, "keypoints")
    evaluator.params.imgIds = [1]
    evaluator._prepare()
    expected = evaluator.computeOks(1, 1)  # (detections, ground truths)

    reference = np.concatenate([gt_kps, np.ones((2, 17, 1))], 2)
    candidates = np.concatenate([np.array(dt_kps), np.ones((3, 17, 1))], 2)
    rows, cols = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
    oks, shared = keypoint_similarity(
        reference[rows.ravel()], candidates[cols.ravel()], areas[rows.ravel()], score_threshold=0.5
    )
    assert (shared == 17).all()
    np.testing.assert_allclose(oks.reshape(2, 3).T, expected, rtol=1e-9)


def test_default_sigmas_are_cocos():
    from centerpose_core.constants import KEYPOINT_OKS_SIGMAS

    np.testing.assert_allclose(KEYPOINT_OKS_SIGMAS, np.array(COCO_SIGMAS) / 10.0)


def test_score_weighted_oks_by_hand():
    """Two shared joints: the nose exactly in place (both scores 0.9), the left eye far off (both
    0.2, a snapped hidden joint). Plain mean: (1 + 0) / 2; weighted: 0.81 * 1 / (0.81 + 0.04)."""
    reference = np.zeros((1, 17, 3))
    candidate = np.zeros((1, 17, 3))
    reference[0, 0] = candidate[0, 0] = (50.0, 50.0, 0.9)
    reference[0, 1] = (60.0, 50.0, 0.2)
    candidate[0, 1] = (600.0, 50.0, 0.2)  # exp(-540^2 / ...) underflows to 0 for this area
    area = np.array([100.0])
    plain, shared = keypoint_similarity(reference, candidate, area, 0.1)
    weighted, shared_w = keypoint_similarity(reference, candidate, area, 0.1, score_weighted=True)
    assert shared[0] == shared_w[0] == 2
    assert plain[0] == pytest.approx(0.5, abs=1e-12)
    assert weighted[0] == pytest.approx(0.81 / 0.85, abs=1e-12)
