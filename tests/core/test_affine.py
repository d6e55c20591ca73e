"""CenterNet's affine warp and test-time pre-processing: hand values, round trips, non-square images."""

from __future__ import annotations

import numpy as np
import pytest

from centerpose_core.affine import apply_affine, get_affine_transform, image_center_scale, preprocess


def test_hand_computed_mapping_of_a_landscape_image():
    # 640x480 into 512: scale s = 640, factor 0.8, centre (320, 240) -> (256, 256).
    center, scale = image_center_scale(480, 640)
    m = get_affine_transform(center, scale, 0, (512, 512))
    pts = np.array([[0, 0], [640, 480], [320, 240], [100, 50]], np.float32)
    expected = np.array([[0, 64], [512, 448], [256, 256], [80, 104]], np.float32)
    np.testing.assert_allclose(apply_affine(pts, m), expected, atol=1e-4)


def test_hand_computed_mapping_of_a_portrait_image_to_the_output_map():
    # 300 wide x 600 high into a 128 output map: s = 600, factor 128/600, padding left and right.
    center, scale = image_center_scale(600, 300)
    m = get_affine_transform(center, scale, 0, (128, 128))
    f = 128 / 600
    np.testing.assert_allclose(
        apply_affine(np.array([[0, 0], [300, 600]], np.float32), m),
        np.array([[64 - 150 * f, 0], [64 + 150 * f, 128]], np.float32),
        atol=1e-4,
    )


@pytest.mark.parametrize(
    ("height", "width", "rot"), [(480, 640, 0), (600, 300, 0), (333, 500, 30), (512, 512, -15)]
)
def test_forward_then_inverse_returns_the_points(height, width, rot):
    center, scale = image_center_scale(height, width)
    forward = get_affine_transform(center, scale, rot, (128, 96))
    inverse = get_affine_transform(center, scale, rot, (128, 96), inverse=True)
    pts = np.random.default_rng(0).uniform(-50, 700, size=(20, 2)).astype(np.float32)
    np.testing.assert_allclose(apply_affine(apply_affine(pts, forward), inverse), pts, atol=2e-3)


def test_preprocess_normalises_with_coco_mean_std_in_bgr():
    image = np.zeros((64, 64, 3), np.uint8)
    image[...] = (255, 0, 128)  # B, G, R
    tensor, meta = preprocess(image, 64)
    expected = [
        (1.0 - 0.40789654) / 0.28863828,
        (0.0 - 0.44719302) / 0.27408164,
        (128 / 255 - 0.47026115) / 0.27809835,
    ]
    np.testing.assert_allclose(tensor[:, 32, 32], expected, rtol=1e-5)
    assert meta.output_size == (16, 16) and meta.scale == 64.0


def test_preprocess_pads_the_short_side_with_black():
    image = np.full((32, 64, 3), 200, np.uint8)  # landscape: rows 0..15 and 48..63 are padding
    tensor, _ = preprocess(image, 64)
    black = (0 - np.array([0.40789654, 0.44719302, 0.47026115])) / np.array(
        [0.28863828, 0.27408164, 0.27809835]
    )
    np.testing.assert_allclose(tensor[:, 2, 10], black, rtol=1e-5)
    np.testing.assert_allclose(
        tensor[:, 32, 10],
        (200 / 255 - np.array([0.40789654, 0.44719302, 0.47026115]))
        / np.array([0.28863828, 0.27408164, 0.27809835]),
        rtol=1e-5,
    )
