"""Training targets against independent truth: CornerNet's IoU definition of the gaussian radius,
the closed form of the validation warp (a scale + translation), and the original's masking rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from centerpose_core.constants import FLIP_PERMUTATION, NUM_KEYPOINTS
from centerpose_core.data.augment import Geometry
from centerpose_core.data.codec import PoseTargetCodec
from centerpose_core.data.dataset import CocoKeypointDataset
from centerpose_core.data.heatmap import draw_umich_gaussian, gaussian_radius
from centerpose_core.transforms import get_affine_transform


@pytest.mark.parametrize("h, w", [(10, 10), (37, 5), (3, 80), (128, 96), (1, 1)])
def test_gaussian_radius_is_cornernet_iou_bound(h: float, w: float) -> None:
    """At the radius, the worst of CornerNet's three corner-shift cases has IoU exactly 0.7."""
    r = gaussian_radius((h, w), min_overlap=0.7)
    one_corner = (h - r) * (w - r) / (2 * h * w - (h - r) * (w - r))  # one corner moved r along both axes
    both_inside = (h - 2 * r) * (w - 2 * r) / (h * w)  # both corners moved inward
    both_outside = h * w / ((h + 2 * r) * (w + 2 * r))  # both corners moved outward
    ious = [one_corner, both_inside, both_outside]
    assert min(ious) == pytest.approx(0.7, abs=1e-9)
    assert all(iou >= 0.7 - 1e-9 for iou in ious)


def test_umich_gaussian_values_and_border_clipping() -> None:
    heat = np.zeros((6, 7), np.float32)
    draw_umich_gaussian(heat, (1, 2), 2)
    sigma = 5 / 6
    for y in range(6):
        for x in range(7):
            d2 = (x - 1) ** 2 + (y - 2) ** 2
            inside = abs(x - 1) <= 2 and abs(y - 2) <= 2
            expected = math.exp(-d2 / (2 * sigma**2)) if inside else 0.0
            assert heat[y, x] == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert heat[2, 1] == 1.0
    corner = draw_umich_gaussian(np.zeros((6, 7), np.float32), (6, 5), 3)  # clipped, never wraps
    assert corner[5, 6] == 1.0 and corner[:, :3].max() == 0.0 and corner[:2].max() == 0.0


def _random_persons(rng: np.random.Generator, n: int, size: float) -> tuple[np.ndarray, np.ndarray]:
    boxes, kps = [], []
    for _ in range(n):
        x1, y1 = rng.uniform(0, size * 0.7, 2)
        w, h = rng.uniform(size * 0.1, size * 0.4, 2)
        boxes.append([x1, y1, x1 + w, y1 + h])
        pts = np.stack([rng.uniform(x1, x1 + w, NUM_KEYPOINTS), rng.uniform(y1, y1 + h, NUM_KEYPOINTS)], 1)
        vis = rng.choice([0, 1, 2], NUM_KEYPOINTS, p=[0.2, 0.2, 0.6])
        pts[vis == 0] = 0
        kps.append(np.concatenate([pts, vis[:, None]], 1))
    return np.array(boxes, np.float32), np.array(kps, np.float32)


def test_codec_round_trip() -> None:
    """decode(encode(persons)) gives back the boxes and labelled keypoints in output pixels."""
    rng = np.random.default_rng(3)
    src, out = 400.0, 64
    boxes, kps = _random_persons(rng, 5, src)
    kps[0, 3, :2] = (-50, 20)  # a labelled keypoint outside the map: dropped from the masks
    kps[0, 3, 2] = 2
    codec = PoseTargetCodec(output_size=out)
    trans = get_affine_transform((src / 2, src / 2), src, 0, (out, out))
    targets = codec.encode(boxes, kps, trans)
    decoded = codec.decode(targets)
    k = out / src  # the warp is a pure scale here
    expected_boxes = np.clip(boxes * k, 0, out - 1)
    np.testing.assert_allclose(decoded["boxes"], expected_boxes, atol=1e-4)
    expected_kps = kps[:, :, :2] * k
    labelled = (kps[:, :, 2] > 0) & (expected_kps >= 0).all(-1) & (expected_kps < out).all(-1)
    assert not labelled[0, 3]
    np.testing.assert_allclose(decoded["keypoints"][labelled], expected_kps[labelled], atol=1e-4)
    np.testing.assert_allclose(decoded["joint_keypoints"][labelled], expected_kps[labelled], atol=1e-4)
    assert np.isnan(decoded["keypoints"][~labelled]).all()
    assert np.isnan(decoded["joint_keypoints"][~labelled]).all()


def test_person_without_keypoints_and_max_objects() -> None:
    """As the original: no labelled keypoint -> center gaussian drawn but reg_mask 0; >32 persons ignored."""
    codec = PoseTargetCodec(output_size=32)
    trans = get_affine_transform((64, 64), 128, 0, (32, 32))
    boxes = np.array([[10, 10, 60, 90]], np.float32)
    kps = np.zeros((1, NUM_KEYPOINTS, 3), np.float32)
    t = codec.encode(boxes, kps, trans)
    assert t["reg_mask"][0] == 0 and t["hps_mask"].sum() == 0 and t["hp_mask"].sum() == 0
    cx, cy = int((10 + 60) / 2 / 4), int((10 + 90) / 2 / 4)
    assert t["hm"][0, cy, cx] == 1.0 and t["ind"][0] == cy * 32 + cx
    many = np.repeat(boxes, 40, 0)
    many_kps = np.ones((40, NUM_KEYPOINTS, 3), np.float32) * np.array([30, 40, 2], np.float32)
    t = codec.encode(many, many_kps, trans)
    assert t["reg_mask"].shape == (32,) and t["reg_mask"].sum() == 32


def _coco_mini(shared_data):
    root = shared_data / "coco_mini"
    return root / "annotations" / "person_keypoints_mini.json", root / "images"


def test_targets_on_coco_mini_match_independent_geometry(shared_data) -> None:
    ann_file, images = _coco_mini(shared_data)
    data = json.loads(ann_file.read_text())
    ds = CocoKeypointDataset(ann_file, images, input_size=512, train=False)
    out = 128
    checked = 0
    for index, record in enumerate(ds.records):
        info = next(i for i in data["images"] if i["id"] == record.image_id)
        anns = [a for a in data["annotations"] if a["image_id"] == record.image_id and not a["iscrowd"]]
        sample = ds[index]
        k = out / max(info["height"], info["width"])  # validation warp: scale, center -> map center
        cx, cy = info["width"] / 2, info["height"] / 2

        def to_map(x, y, k=k, cx=cx, cy=cy):
            return (x - cx) * k + out / 2, (y - cy) * k + out / 2

        centers = set()
        for slot, ann in enumerate(anns[:32]):
            x, y, w, h = ann["bbox"]
            x1, y1 = (np.clip(v, 0, out - 1) for v in to_map(x, y))
            x2, y2 = (np.clip(v, 0, out - 1) for v in to_map(x + w, y + h))
            ct = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
            ct_int = ct.astype(int)
            centers.add((ct_int[1], ct_int[0]))
            assert sample["hm"][0, ct_int[1], ct_int[0]] == 1.0
            assert sample["ind"][slot] == ct_int[1] * out + ct_int[0]
            np.testing.assert_allclose(sample["reg"][slot], ct - ct_int, atol=1e-3)
            np.testing.assert_allclose(sample["wh"][slot], (x2 - x1, y2 - y1), atol=1e-3)
            pts = np.array(ann["keypoints"], np.float32).reshape(-1, 3)
            assert sample["reg_mask"][slot] == (1 if pts[:, 2].sum() > 0 else 0)
            for j, (px, py, v) in enumerate(pts):
                mx, my = to_map(px, py)
                inside = v > 0 and 0 <= mx < out and 0 <= my < out
                assert sample["hps_mask"][slot, 2 * j] == sample["hps_mask"][slot, 2 * j + 1] == int(inside)
                assert sample["hp_mask"][slot * 17 + j] == int(inside)
                if inside:
                    got = sample["hps"][slot, 2 * j : 2 * j + 2] + ct_int
                    np.testing.assert_allclose(got, (mx, my), atol=1e-3)
                    assert sample["hp_ind"][slot * 17 + j] == int(my) * out + int(mx)
                    assert sample["hm_hp"][j, int(my), int(mx)] == 1.0
            checked += 1
        peaks = {tuple(p) for p in np.argwhere(sample["hm"][0] == 1.0)}
        assert peaks == centers  # exactly one peak of 1 per annotated person, nowhere else
        assert sample["input"].shape == (3, 512, 512) and sample["hm_hp"].shape == (17, 128, 128)
    assert checked == sum(1 for a in data["annotations"] if not a["iscrowd"])


def test_flip_swaps_left_right_joint_channels(shared_data) -> None:
    """A mirrored sample's joint heatmap j is the unmirrored heatmap of j's left/right twin, mirrored."""
    ann_file, images = _coco_mini(shared_data)
    ds = CocoKeypointDataset(ann_file, images, input_size=512, train=False)
    for index in range(len(ds)):
        h, w = ds.read_image(ds.records[index]).shape[:2]
        center = np.array([w / 2, h / 2], np.float32)
        scale = float(max(h, w))
        plain = ds.make_sample(index, geometry=Geometry(center, scale, 0.0, False))
        mirrored_center = np.array([w - center[0] - 1, center[1]], np.float32)
        flipped = ds.make_sample(index, geometry=Geometry(mirrored_center, scale, 0.0, True))
        # Continuous map coordinates mirror as u = out - v (x' = w - 1 - x about c' = w - 1 - c).
        plain_joints = ds.codec.decode(plain)["joint_keypoints"]
        flipped_joints = ds.codec.decode(flipped)["joint_keypoints"]
        expected = plain_joints[:, list(FLIP_PERMUTATION)]
        expected[..., 0] = 128 - expected[..., 0]
        np.testing.assert_allclose(flipped_joints, expected, atol=1e-3)
        for j in range(NUM_KEYPOINTS):
            peaks = np.argwhere(flipped["hm_hp"][j] == 1.0)
            labelled = flipped_joints[:, j][~np.isnan(flipped_joints[:, j, 0])]
            assert {tuple(p) for p in peaks} == {(int(y), int(x)) for x, y in labelled}, (
                f"image {index} joint {j}"
            )
        assert flipped["hp_mask"].sum() == plain["hp_mask"].sum()
        # Input column u of the mirrored sample samples the source where the plain one's column S - u does.
        np.testing.assert_allclose(
            flipped["input"][:, :, ::-1][:, :, :-1], plain["input"][:, :, 1:], atol=1e-4
        )
