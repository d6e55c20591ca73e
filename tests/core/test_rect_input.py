"""Camera-shaped input: the network input fitted to the image's aspect instead of a letterboxed square.

What is equal, exactly, between the rectangular and the square path of one image:
  * the network input: the rectangle is the square input without its black letterbox rows (both
    sample the image at the same points), hand-checked on a 640x480 frame where every input pixel
    samples an integer source pixel;
  * decode and the inverse warp: head maps of the rectangle, placed into the square map's layout
    (letterbox cells scoring 0), decode through the square path's warp to the same persons;
  * everything, for a square image (both paths are one computation).
What is not: the network's outputs near the content's edge, since its convolutions see zero
padding in one path and the letterbox's black pixels in the other (its receptive field spans the
whole input). The trained reference model measures that difference in AP (README).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from decode_margins import assert_same_persons, clear_decisions
from seeded_nets import seeded_pose_net

from centerpose_core.affine import apply_affine, get_affine_transform, normalize, preprocess
from centerpose_core.decode import decode_multi_pose
from centerpose_core.input_shape import InputShape, fitted_input_shape, parse_input_size
from centerpose_core.runtime import Predictor
from centerpose_core.runtime.postprocess import to_persons

SIZE = 128


@pytest.fixture(scope="module")
def model():
    return seeded_pose_net()


@pytest.fixture(scope="module")
def frame(shared_data) -> np.ndarray:
    """A real 640x480 (4:3) camera frame."""
    image = cv2.imread(str(shared_data / "media" / "basketball1.png"))
    assert image.shape == (480, 640, 3)
    return image


@pytest.mark.parametrize(
    ("height", "width", "long_side", "expected"),
    [
        (480, 640, 512, (512, 384)),  # 4:3 fills 512x384 exactly
        (640, 480, 512, (384, 512)),  # portrait: the same, transposed
        (1080, 1920, 512, (512, 288)),  # 16:9
        (427, 640, 512, (512, 352)),  # 341.6 rounded up to a multiple of 32: the image always fits
        (512, 512, 512, (512, 512)),
        (10, 1000, 512, (512, 32)),  # at least one stride
    ],
)
def test_fitted_input_shape_by_hand(height, width, long_side, expected):
    assert fitted_input_shape(height, width, long_side) == expected


def test_input_size_parsing_and_its_errors():
    assert parse_input_size(512) == parse_input_size("512") == 512
    assert parse_input_size("512x384") == parse_input_size((512, 384)) == (512, 384)
    for bad in ("512x", "abc", 500, (512, 100), "0", True, 512.0):
        with pytest.raises(ValueError, match="input size"):
            parse_input_size(bad)
    with pytest.raises(ValueError, match="fit_aspect takes one side"):
        InputShape.of((512, 384), fit_aspect=True)


def test_rectangular_input_is_the_square_input_without_its_letterbox(frame):
    # 640x480 -> factor 0.2: input pixel (x, y) samples the source pixel (5x, 5y) exactly, in both paths.
    rect, rect_meta = preprocess(frame, (SIZE, 96))
    square, _ = preprocess(frame, SIZE)
    by_hand = normalize(frame[::5, ::5].astype(np.float32) / 255).transpose(2, 0, 1)
    assert rect.shape == (3, 96, SIZE) and rect_meta.output_size == (SIZE // 4, 96 // 4)
    np.testing.assert_allclose(rect, by_hand, atol=1e-6)
    np.testing.assert_allclose(square[:, 16:112], by_hand, atol=1e-6)
    black = normalize(np.zeros((1, 1, 3), np.float32)).reshape(3, 1, 1)
    np.testing.assert_allclose(square[:, :16], np.broadcast_to(black, (3, 16, SIZE)), atol=1e-6)
    np.testing.assert_allclose(square[:, 112:], np.broadcast_to(black, (3, 16, SIZE)), atol=1e-6)


def test_portrait_input_is_the_landscape_input_transposed(frame):
    portrait = np.ascontiguousarray(frame.transpose(1, 0, 2))  # 480 wide, 640 high
    shape = InputShape.of(SIZE, fit_aspect=True)
    assert shape.for_image(*portrait.shape[:2]) == (96, SIZE)
    landscape_input, _ = preprocess(frame, shape.for_image(*frame.shape[:2]))
    portrait_input, _ = preprocess(portrait, shape.for_image(*portrait.shape[:2]))
    np.testing.assert_allclose(portrait_input, landscape_input.transpose(0, 2, 1), atol=1e-6)


@pytest.mark.parametrize(("height", "width"), [(480, 640), (640, 480), (427, 640), (100, 700)])
def test_inverse_warp_by_hand_and_round_trip(height, width):
    image = np.zeros((height, width, 3), np.uint8)
    input_wh = fitted_input_shape(height, width, SIZE)
    _, meta = preprocess(image, input_wh)
    to_image = meta.output_to_image()
    # The whole image fits: the longer side spans the output map exactly, the image stays centred.
    factor = max(height, width) / (SIZE / 4)
    out_w, out_h = meta.output_size
    corners = np.array([[0, 0], [out_w, out_h], [out_w / 2, out_h / 2]], np.float32)
    expected = np.array(
        [
            [width / 2 - out_w / 2 * factor, height / 2 - out_h / 2 * factor],
            [width / 2 + out_w / 2 * factor, height / 2 + out_h / 2 * factor],
            [width / 2, height / 2],
        ],
        np.float32,
    )
    np.testing.assert_allclose(apply_affine(corners, to_image), expected, atol=1e-3)

    to_map = get_affine_transform(meta.center, meta.scale, 0, meta.output_size)
    points = np.random.default_rng(0).uniform(-50, max(height, width) + 50, (50, 2)).astype(np.float32)
    np.testing.assert_allclose(apply_affine(apply_affine(points, to_map), to_image), points, atol=2e-3)


def test_rect_decode_equals_the_square_decode_of_the_same_content(model, frame):
    # The rectangle's activated maps, written into the square map's rows 4..27 (letterbox cells
    # score 0 and sit below every snapping threshold), decoded and warped back the square way.
    fitted = Predictor(model, input_size=SIZE, fit_aspect=True)
    maps = fitted.head_maps([frame])
    assert maps["hm"].shape[-2:] == (24, 32)
    padded = {name: torch.zeros(*value.shape[:2], 32, 32) for name, value in maps.items()}
    for name, value in maps.items():
        padded[name][:, :, 4:28] = value
    _, square_meta = preprocess(frame, SIZE)
    expected = to_persons(decode_multi_pose(padded), [square_meta])[0]
    clear = clear_decisions(maps, limit=20)
    assert_same_persons(expected, fitted.predict(frame), clear, min_ranked=5, pixel_tolerance=1e-3)


def test_square_image_gives_the_same_persons_in_every_mode(model, frame):
    square_image = np.ascontiguousarray(frame[:, 80:560])  # 480x480
    reference = Predictor(model, input_size=SIZE).predict(square_image)
    for options in ({"fit_aspect": True}, {"input_size": (SIZE, SIZE)}, {"input_size": f"{SIZE}x{SIZE}"}):
        got = Predictor(model, **{"input_size": SIZE, **options}).predict(square_image)
        assert [p.score for p in got] == [p.score for p in reference]
        np.testing.assert_array_equal(
            np.stack([p.keypoints for p in got]), np.stack([p.keypoints for p in reference])
        )


def test_fixed_rectangle_equals_the_fitted_input_for_its_aspect(model, frame):
    fitted = Predictor(model, input_size=SIZE, fit_aspect=True)
    fixed = Predictor(model, input_size=(SIZE, 96))
    a, b = fitted.predict(frame), fixed.predict(frame)
    np.testing.assert_array_equal(np.stack([p.bbox for p in a]), np.stack([p.bbox for p in b]))


def test_a_batch_of_mixed_aspects_runs_as_groups(model, frame):
    portrait = np.ascontiguousarray(frame.transpose(1, 0, 2))
    square = np.ascontiguousarray(frame[:, 80:560])
    images = [frame, portrait, square, frame[::-1].copy()]
    predictor = Predictor(model, input_size=SIZE, fit_aspect=True)
    batched = predictor.predict_batch(images)
    for image, persons in zip(images, batched):
        clear = clear_decisions(predictor.head_maps([image]), limit=20)
        assert_same_persons(predictor.predict(image), persons, clear, min_ranked=5)
    with pytest.raises(ValueError, match="head_maps needs images of one input shape"):
        predictor.head_maps(images)


def test_fixed_square_backends_refuse_camera_shaped_input(model):
    for backend in ("tensorrt", "torch2trt"):
        with pytest.raises(ValueError, match=f"backend '{backend}' runs a fixed square input only"):
            Predictor(model, backend=backend, input_size=SIZE, fit_aspect=True)
    with pytest.raises(ValueError, match="not a square"):
        _ = Predictor(model, input_size=(SIZE, 96)).output_size
