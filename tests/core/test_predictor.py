"""Predictor end to end with seeded weights, on real images and on bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from centerpose_core.model import build_pose_net
from centerpose_core.runtime import Predictor

SIZE = 128


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = build_pose_net()
    with torch.no_grad():  # wake the regression heads up so boxes and keypoints have extent
        for head, bias in (("hm", -1.0), ("wh", 3.0), ("hps", 0.0), ("hm_hp", -1.0)):
            getattr(net, head)[2].weight.normal_(0, 0.05)
            getattr(net, head)[2].bias.fill_(bias)
    return net.eval()


@pytest.fixture(scope="module")
def predictor(model):
    return Predictor(model, input_size=SIZE)


@pytest.fixture(scope="module")
def coco_images(shared_data):
    paths = sorted((shared_data / "coco_mini" / "images").glob("*.jpg"))
    return [cv2.imread(str(p)) for p in paths]


def test_real_images_give_sane_sorted_persons(predictor, coco_images):
    for image in coco_images:
        height, width = image.shape[:2]
        persons = predictor.predict(image, threshold=0.0, max_persons=100)
        assert len(persons) == 100  # K candidates, no NMS between persons
        scores = [p.score for p in persons]
        assert scores == sorted(scores, reverse=True) and min(scores) >= 0.0 and max(scores) <= 1.0
        for p in persons:
            assert p.bbox.shape == (4,) and p.keypoints.shape == (17, 3)
            assert np.isfinite(p.bbox).all() and np.isfinite(p.keypoints).all()
            assert p.bbox[0] <= p.bbox[2] and p.bbox[1] <= p.bbox[3]
            # Not clipped to the image, but a center decoded from the output map lies inside
            # the warped square around the image; boxes/keypoints stay within a few sizes of it.
            cx, cy = (p.bbox[0] + p.bbox[2]) / 2, (p.bbox[1] + p.bbox[3]) / 2
            side = max(height, width)
            assert (width - side) / 2 - 1 <= cx <= (width + side) / 2 + 1
            assert (height - side) / 2 - 1 <= cy <= (height + side) / 2 + 1
            assert np.all(np.abs(p.keypoints[:, :2] - [cx, cy]) < 2 * side)
            assert ((p.keypoints[:, 2] >= 0) & (p.keypoints[:, 2] <= 1)).all()


def test_threshold_and_max_persons(predictor, coco_images):
    everything = predictor.predict(coco_images[0], threshold=0.0)
    cut = everything[10].score
    above = predictor.predict(coco_images[0], threshold=cut)
    assert all(p.score >= cut for p in above) and len(above) >= 11
    assert len(predictor.predict(coco_images[0], threshold=0.0, max_persons=3)) == 3


def test_batch_equals_single_images(predictor, coco_images):
    batch = predictor.predict_batch(coco_images[:2], threshold=0.0, max_persons=5)
    for image, persons in zip(coco_images[:2], batch):
        single = predictor.predict(image, threshold=0.0, max_persons=5)
        np.testing.assert_allclose([p.score for p in single], [p.score for p in persons], rtol=1e-4)
        for a in single:  # order may differ between (near-)tied scores: match each person by box
            b = min(persons, key=lambda q: float(np.abs(q.bbox - a.bbox).sum()))  # noqa: B023
            np.testing.assert_allclose(a.bbox, b.bbox, atol=1e-2)
            np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-2)


def test_gray_and_bgra_inputs_equal_their_bgr_equivalent(predictor):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 255, size=(90, 120), dtype=np.uint8)
    expected = predictor.predict(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), max_persons=5)
    for variant in (gray, gray[:, :, None]):
        got = predictor.predict(variant, max_persons=5)
        assert [p.score for p in got] == [p.score for p in expected]
    bgr = rng.integers(0, 255, size=(70, 50, 3), dtype=np.uint8)
    bgra = np.dstack([bgr, np.full((70, 50), 255, np.uint8)])
    a, b = predictor.predict(bgr, max_persons=5), predictor.predict(bgra, max_persons=5)
    np.testing.assert_array_equal(np.stack([p.bbox for p in a]), np.stack([p.bbox for p in b]))


def test_flip_test_is_mirror_symmetric_in_scores_and_sizes(model):
    # With the image exactly as wide as the input, mirroring the image mirrors the network input,
    # so flip-merged center and size maps are exact mirrors: same scores, same box sizes.
    predictor = Predictor(model, input_size=SIZE, flip_test=True)
    image = np.random.default_rng(1).integers(0, 255, size=(96, SIZE, 3), dtype=np.uint8)
    plain = predictor.predict(image, max_persons=10)
    mirrored = predictor.predict(image[:, ::-1].copy(), max_persons=10)
    np.testing.assert_allclose([p.score for p in plain], [p.score for p in mirrored], rtol=1e-5)
    sizes = lambda persons: sorted(  # noqa: E731
        (round(float(p.bbox[2] - p.bbox[0]), 3), round(float(p.bbox[3] - p.bbox[1]), 3)) for p in persons
    )
    np.testing.assert_allclose(sizes(plain), sizes(mirrored), atol=1e-3)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 10, 3), np.uint8), "non-empty"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((10, 10, 5), np.uint8), "1, 3 or 4 channels"),
        (np.zeros((2, 10, 10, 3), np.uint8), "HxW"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_bad_images_are_named(predictor, image, message):
    with pytest.raises(ValueError, match=f"image 0: .*{message}"):
        predictor.predict(image)


def test_bad_settings(model):
    with pytest.raises(ValueError, match="multiple of 32"):
        Predictor(model, input_size=100)
    with pytest.raises(ValueError, match="unknown backend"):
        Predictor(model, backend="tflite")
