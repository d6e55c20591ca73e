"""Predictor end to end with seeded weights, on real images and on bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from decode_margins import assert_same_persons, clear_decisions
from seeded_nets import seeded_pose_net

from centerpose_core.model.checkpoint import save_checkpoint
from centerpose_core.runtime import Predictor

SIZE = 128


@pytest.fixture(scope="module")
def model():
    return seeded_pose_net()  # distinct peaks: tests compare two computations (see decode_margins)


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
        # Not clipped to the image, but a center (an output-map cell plus its sub-pixel offset `reg`)
        # lies in the warped square around the image, widened by the largest offset; boxes and
        # keypoints stay within a few sizes of it.
        side = max(height, width)
        reach = (float(predictor.head_maps([image])["reg"].abs().max()) + 1) * side / predictor.output_size
        for p in persons:
            assert p.bbox.shape == (4,) and p.keypoints.shape == (17, 3)
            assert np.isfinite(p.bbox).all() and np.isfinite(p.keypoints).all()
            # (x1 <= x2 is not checked: CenterNet does not clamp `wh`, and random weights regress
            # some negative sizes.)
            cx, cy = (p.bbox[0] + p.bbox[2]) / 2, (p.bbox[1] + p.bbox[3]) / 2
            assert (width - side) / 2 - reach <= cx <= (width + side) / 2 + reach
            assert (height - side) / 2 - reach <= cy <= (height + side) / 2 + reach
            assert np.all(np.abs(p.keypoints[:, :2] - [cx, cy]) < 2 * side)
            assert ((p.keypoints[:, 2] >= 0) & (p.keypoints[:, 2] <= 1)).all()


def test_threshold_and_max_persons(predictor, coco_images):
    everything = predictor.predict(coco_images[0], threshold=0.0)
    cut = everything[10].score
    above = predictor.predict(coco_images[0], threshold=cut)
    assert all(p.score >= cut for p in above) and len(above) >= 11
    assert len(predictor.predict(coco_images[0], threshold=0.0, max_persons=3)) == 3


def test_batch_equals_single_images(predictor, coco_images):
    # Batch and single runs differ by float rounding (other conv blocking), so persons are compared
    # where no rounding can change decode's decisions, and at least 5 of them per image.
    images = coco_images[:2]
    for image, persons in zip(images, predictor.predict_batch(images, threshold=0.0)):
        clear = clear_decisions(predictor.head_maps([image]), limit=20)
        assert_same_persons(predictor.predict(image, threshold=0.0), persons, clear, min_ranked=5)


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
    # so flip-merged center and size maps are mirrors (up to rounding): same scores, same box sizes,
    # person by person over the ranking that rounding cannot reorder.
    predictor = Predictor(model, input_size=SIZE, flip_test=True)
    image = np.random.default_rng(1).integers(0, 255, size=(96, SIZE, 3), dtype=np.uint8)
    clear = clear_decisions(predictor.head_maps([image]), limit=10)
    assert clear.ranked >= 5, f"only {clear.ranked} persons clear of rounding"
    plain = predictor.predict(image)[: clear.ranked]
    mirrored = predictor.predict(image[:, ::-1].copy())[: clear.ranked]
    np.testing.assert_allclose([p.score for p in plain], [p.score for p in mirrored], atol=1e-5, rtol=0)
    sizes = lambda persons: [p.bbox[2:] - p.bbox[:2] for p in persons]  # noqa: E731
    np.testing.assert_allclose(sizes(plain), sizes(mirrored), atol=1e-3, rtol=0)
    assert any(abs(p.bbox[0] + q.bbox[2] - SIZE) > 1e-2 for p, q in zip(plain, mirrored)), (
        "box centers should not mirror exactly: reg comes from the unflipped pass only, as the original"
    )


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


def test_unknown_backend_options_are_named_with_the_valid_ones(model, tmp_path):
    with pytest.raises(
        TypeError, match=r"backend 'torch' has no option 'num_thread', 'dtype'; it takes no"
    ):
        Predictor(model, num_thread=3, dtype="int8")  # precision= is the Predictor's own option
    # Refused before the file is even opened: the options belong to the backend, not to the model.
    with pytest.raises(
        TypeError,
        match=r"backend 'onnxruntime' has no option 'num_thread'; its options are dcn, cache_dir, num_thr",
    ):
        Predictor(tmp_path / "never_read.onnx", backend="onnxruntime", num_thread=3)


def test_from_file_picks_the_backend_of_the_format(model, tmp_path):
    path = save_checkpoint(tmp_path / "seeded.pth", model)
    predictor = Predictor.from_file(path)
    assert predictor.backend.name == "torch" and predictor.input_size == 512
    assert predictor.backend.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(FileNotFoundError, match=r"missing\.pth: model file not found"):
        Predictor.from_file(tmp_path / "missing.pth")
