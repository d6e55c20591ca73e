"""Training targets against independent truth: the original's radius formula worked by hand, the
gaussian windows it draws, the closed form of the validation warp (a scale + translation), the
original's masking rules, and the round trip through the inference decoder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from centerpose_core.affine import apply_affine, get_affine_transform
from centerpose_core.constants import NUM_KEYPOINTS
from centerpose_core.data.augment import Geometry
from centerpose_core.data.codec import PoseTargetCodec
from centerpose_core.data.dataset import CocoKeypointDataset
from centerpose_core.data.heatmap import draw_umich_gaussian, gaussian_radius
from centerpose_core.decode import activate, decode_multi_pose
from centerpose_core.flip import FLIP_PERMUTATION


# CenterNet's `gaussian_radius` (src/lib/utils/image.py, the code its checkpoints were trained with)
# takes r_i = (b_i + sqrt(b_i^2 - 4 a_i c_i)) / 2 of three quadratics and returns the minimum, with
# min_overlap o = 0.7 and a1 = 1, b1 = h + w, c1 = w h (1 - o) / (1 + o); a2 = 4, b2 = 2 (h + w),
# c2 = (1 - o) w h; a3 = 4 o, b3 = -2 o (h + w), c3 = (o - 1) w h. Worked by hand:
# h = w = 10:
#   r1 = (20 + sqrt(400 - 4 * 17.647059)) / 2 = (20 + sqrt(329.411765)) / 2 = (20 + 18.149704) / 2 = 19.074852
#   r2 = (40 + sqrt(1600 - 16 * 30)) / 2 = (40 + sqrt(1120)) / 2 = (40 + 33.466401) / 2 = 36.733200
#   r3 = (-28 + sqrt(784 - 4 * 2.8 * -30)) / 2 = (-28 + sqrt(1120)) / 2 = 5.466401 / 2 = 2.733200
#   -> 2.733200 (the CornerNet paper's smallest root would be (40 - 33.466401) / 8 = 0.816700)
# h = 20, w = 40:
#   r1 = (60 + sqrt(3600 - 4 * 141.176471)) / 2 = (60 + sqrt(3035.294118)) / 2
#      = (60 + 55.093503) / 2 = 57.546752
#   r2 = (120 + sqrt(14400 - 16 * 240)) / 2 = (120 + sqrt(10560)) / 2 = (120 + 102.761861) / 2 = 111.380930
#   r3 = (-84 + sqrt(7056 - 4 * 2.8 * -240)) / 2 = (-84 + sqrt(9744)) / 2 = (-84 + 98.711701) / 2 = 7.355851
#   -> 7.355851
# h = w = 11: r3 = (-30.8 + sqrt(948.64 + 406.56)) / 2 = (-30.8 + 36.813041) / 2 = 3.006521
@pytest.mark.parametrize(
    "h, w, expected",
    [(10, 10, 2.733200), (20, 40, 7.355851), (40, 20, 7.355851), (11, 11, 3.006521)],
)
def test_gaussian_radius_is_the_originals(h: int, w: int, expected: float) -> None:
    assert gaussian_radius((h, w)) == pytest.approx(expected, abs=1e-6)


def _gauss(dx: int, dy: int, radius: int) -> float:
    """The original's umich gaussian at an offset from its peak: sigma (2r + 1) / 6, 0 outside the window."""
    if abs(dx) > radius or abs(dy) > radius:
        return 0.0
    sigma = (2 * radius + 1) / 6
    return math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))


IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # boxes/keypoints given in output-map pixels


def test_center_and_joint_windows_of_a_10x10_box() -> None:
    """Box 10 x 10 -> radius int(2.7332) = 2 (truncated, not rounded), sigma 5/6 for the center and,
    as the original's hp_radius, for every joint of the person too."""
    codec = PoseTargetCodec(output_size=64)
    kps = np.zeros((1, NUM_KEYPOINTS, 3), np.float32)
    kps[0, 0] = (22.7, 33.2, 2)  # -> integer joint (22, 33)
    t = codec.encode(np.array([[20.0, 30.0, 30.0, 40.0]], np.float32), kps, IDENTITY)
    # exp(-d^2 / (2 (5/6)^2)) = exp(-0.72 d^2): d^2 = 1 -> 0.486752, 2 -> 0.236928, 4 -> 0.056135,
    # 5 -> 0.027324, 8 -> 0.003151; offset 3 lies outside the window.
    hand = {(0, 0): 1.0, (1, 0): 0.486752, (1, 1): 0.236928, (2, 0): 0.056135, (2, 1): 0.027324}
    hand |= {(2, 2): 0.003151, (3, 0): 0.0, (0, 3): 0.0}
    for (dx, dy), value in hand.items():
        assert t["hm"][0, 35 + dy, 25 + dx] == pytest.approx(value, abs=1e-6), (dx, dy)
        assert t["hm"][0, 35 - dy, 25 - dx] == pytest.approx(value, abs=1e-6), (dx, dy)
        assert t["hm_hp"][0, 33 + dy, 22 + dx] == pytest.approx(value, abs=1e-6), (dx, dy)
    expected = np.zeros((64, 64))
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            expected[35 + dy, 25 + dx] = _gauss(dx, dy, 2)
    np.testing.assert_allclose(t["hm"][0], expected, atol=1e-6)
    assert np.count_nonzero(t["hm_hp"][0]) == 25 and np.count_nonzero(t["hm_hp"][1:]) == 0


def test_center_window_of_a_20x40_box_and_ceil_of_the_size() -> None:
    codec = PoseTargetCodec(output_size=64)
    kps = np.zeros((1, NUM_KEYPOINTS, 3), np.float32)
    kps[0, 5] = (30.0, 20.0, 1)
    t = codec.encode(np.array([[10.0, 10.0, 50.0, 30.0]], np.float32), kps, IDENTITY)
    # radius int(7.355851) = 7, sigma 15/6 = 2.5: exp(-d^2 / 12.5): d = 1 -> 0.923116,
    # d = 7 -> exp(-3.92) = 0.019841, (5, 5) -> exp(-4) = 0.018316, (7, 7) -> exp(-7.84) = 0.000394.
    hand = {(1, 0): 0.923116, (7, 0): 0.019841, (0, 7): 0.019841, (5, 5): 0.018316, (7, 7): 0.000394}
    hand |= {(8, 0): 0.0, (0, 8): 0.0}
    for (dx, dy), value in hand.items():
        assert t["hm"][0, 20 + dy, 30 + dx] == pytest.approx(value, abs=1e-6), (dx, dy)
    assert np.count_nonzero(t["hm"][0]) == 15 * 15
    # A 10.5 x 10.5 box: the original rounds the size up first, radius(11, 11) = 3.0065 -> 3
    # (radius(10.5, 10.5) = 2.87 would give 2): offset 3 is inside the window,
    # exp(-9 / (2 (7/6)^2)) = exp(-3.306122) = 0.036658. Its center 25.25 truncates to 25.
    t = codec.encode(np.array([[20.0, 30.0, 30.5, 40.5]], np.float32), kps, IDENTITY)
    assert t["hm"][0, 35, 25] == 1.0 and t["hm"][0, 35, 28] == pytest.approx(0.036658, abs=1e-6)
    assert t["hm"][0, 35, 29] == 0.0
    np.testing.assert_allclose(t["reg"][0], (0.25, 0.25), atol=1e-6)


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
    """persons_from_targets(encode(persons)) gives back the boxes and labelled keypoints in output pixels."""
    rng = np.random.default_rng(3)
    src, out = 400.0, 64
    boxes, kps = _random_persons(rng, 5, src)
    kps[0, 3, :2] = (-50, 20)  # a labelled keypoint outside the map: dropped from the masks
    kps[0, 3, 2] = 2
    codec = PoseTargetCodec(output_size=out)
    trans = get_affine_transform((src / 2, src / 2), src, 0, (out, out))
    targets = codec.encode(boxes, kps, trans)
    decoded = codec.persons_from_targets(targets)
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


def _head_maps(targets: dict[str, np.ndarray], out: int) -> dict[str, torch.Tensor]:
    """Targets as a network's raw head outputs: heatmaps as logits, each regression written at its
    person's (or joint's) pixel, as the original's oracle maps (`gen_oracle_map`)."""
    maps = {name: torch.logit(torch.from_numpy(targets[name])[None].double()) for name in ("hm", "hm_hp")}
    for name, ind, mask in (
        ("wh", "ind", "reg_mask"),
        ("reg", "ind", "reg_mask"),
        ("hps", "ind", "reg_mask"),
    ):
        dense = np.zeros((targets[name].shape[1], out * out))
        dense[:, targets[ind][targets[mask] == 1]] = targets[name][targets[mask] == 1].T
        maps[name] = torch.from_numpy(dense.reshape(1, -1, out, out))
    dense = np.zeros((2, out * out))
    dense[:, targets["hp_ind"][targets["hp_mask"] == 1]] = targets["hp_offset"][targets["hp_mask"] == 1].T
    maps["hp_offset"] = torch.from_numpy(dense.reshape(1, 2, out, out))
    return maps


def test_targets_fed_as_head_maps_decode_to_the_annotated_persons() -> None:
    """encode -> targets as head logits -> `activate` + `decode_multi_pose` (the inference decoder)
    -> inverse warp gives back every annotated box and labelled keypoint in source pixels.

    The heatmap peaks are exactly 1 at each center and joint, the regressions carry the sub-pixel
    parts, so the only error is float rounding (the snapped joints land on their own peaks). All
    persons score 1.0 (a tie), so decoded persons are matched to annotations by position, never by rank.
    """
    src_w, src_h, out = 320, 240, 64
    rng = np.random.default_rng(7)
    boxes, kps = [], []
    for x0 in (10.0, 115.0, 220.0):  # three persons side by side, no shared pixels
        box = np.array([x0 + rng.uniform(0, 5), 30 + rng.uniform(0, 5), x0 + 85, 200 + rng.uniform(0, 5)])
        pts = np.stack([rng.uniform(box[0] + 1, box[2] - 1, 17), rng.uniform(box[1] + 1, box[3] - 1, 17)], 1)
        vis = np.full(17, 2.0)
        vis[rng.choice(17, 3, replace=False)] = 0  # unlabelled joints are not checked
        boxes.append(box)
        kps.append(np.concatenate([pts * (vis[:, None] > 0), vis[:, None]], 1))
    boxes, kps = np.array(boxes, np.float32), np.array(kps, np.float32)
    center, scale = (src_w / 2, src_h / 2), float(max(src_w, src_h))
    codec = PoseTargetCodec(output_size=out)
    targets = codec.encode(boxes, kps, get_affine_transform(center, scale, 0, (out, out)))
    joints = targets["hp_ind"][targets["hp_mask"] == 1]
    assert (
        len(set(joints.tolist())) == len(joints) == int((kps[:, :, 2] > 0).sum())
    )  # no two joints share a pixel

    found = decode_multi_pose(activate(_head_maps(targets, out)), k=20)
    assert found["scores"][0, :3].tolist() == [1.0, 1.0, 1.0] and float(found["scores"][0, 3]) < 0.5
    back = get_affine_transform(center, scale, 0, (out, out), inverse=True)
    got_boxes = apply_affine(found["boxes"][0, :3].numpy().reshape(-1, 2, 2), back).reshape(-1, 4)
    got_kps = apply_affine(found["keypoints"][0, :3].numpy(), back)
    for person in range(3):
        match = int(np.argmin(np.abs(got_boxes[:, 0] - boxes[person, 0])))
        np.testing.assert_allclose(got_boxes[match], boxes[person], atol=1e-3)
        labelled = kps[person, :, 2] > 0
        np.testing.assert_allclose(got_kps[match][labelled], kps[person, labelled, :2], atol=1e-3)
        assert (found["keypoint_scores"][0, match].numpy()[labelled] == 1.0).all()  # snapped to their peaks


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


def _original_radius(h: float, w: float) -> int:
    """multi_pose.py: `max(0, int(gaussian_radius((math.ceil(h), math.ceil(w)))))`, with the formula
    of the hand-worked cases above written out again (independent of centerpose_core)."""
    h, w = math.ceil(h), math.ceil(w)
    r1 = ((h + w) + math.sqrt((h + w) ** 2 - 4 * w * h * 0.3 / 1.7)) / 2
    r2 = (2 * (h + w) + math.sqrt(4 * (h + w) ** 2 - 16 * 0.3 * w * h)) / 2
    r3 = (-1.4 * (h + w) + math.sqrt(1.96 * (h + w) ** 2 + 4 * 2.8 * 0.3 * w * h)) / 2
    return max(0, int(min(r1, r2, r3)))


def _splat(heatmap: np.ndarray, center, radius: int) -> None:
    """Element-wise max of the original's gaussian window around an integer center, clipped at the border."""
    cx, cy = center
    for y in range(max(0, cy - radius), min(heatmap.shape[0], cy + radius + 1)):
        for x in range(max(0, cx - radius), min(heatmap.shape[1], cx + radius + 1)):
            heatmap[y, x] = max(heatmap[y, x], _gauss(x - cx, y - cy, radius))


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
        # Every annotation of the image (crowd too), in json order, as the original.
        anns = [a for a in data["annotations"] if a["image_id"] == record.image_id]
        sample = ds[index]
        k = out / max(info["height"], info["width"])  # validation warp: scale, center -> map center
        cx, cy = info["width"] / 2, info["height"] / 2

        def to_map(x, y, k=k, cx=cx, cy=cy):
            return (x - cx) * k + out / 2, (y - cy) * k + out / 2

        centers = set()
        hm = np.zeros((out, out))
        hm_hp = np.zeros((NUM_KEYPOINTS, out, out))
        for slot, ann in enumerate(anns[:32]):
            x, y, w, h = ann["bbox"]
            x1, y1 = (np.clip(v, 0, out - 1) for v in to_map(x, y))
            x2, y2 = (np.clip(v, 0, out - 1) for v in to_map(x + w, y + h))
            ct = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
            ct_int = ct.astype(int)
            radius = _original_radius(y2 - y1, x2 - x1)
            _splat(hm, ct_int, radius)
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
                    _splat(hm_hp[j], (int(mx), int(my)), radius)  # hp_radius = the box's radius
            checked += 1
        # Whole heatmaps as the original draws them (max of the gaussians), not only their peaks.
        np.testing.assert_allclose(sample["hm"][0], hm, atol=1e-6)
        np.testing.assert_allclose(sample["hm_hp"], hm_hp, atol=1e-6)
        peaks = {tuple(p) for p in np.argwhere(sample["hm"][0] == 1.0)}
        assert peaks == centers  # exactly one peak of 1 per annotated person, nowhere else
        assert sample["input"].shape == (3, 512, 512) and sample["hm_hp"].shape == (17, 128, 128)
    assert checked == len(data["annotations"])


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
        plain_joints = ds.codec.persons_from_targets(plain)["joint_keypoints"]
        flipped_joints = ds.codec.persons_from_targets(flipped)["joint_keypoints"]
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


def test_crowd_annotation_takes_a_slot_like_the_original(easy_set, tmp_path) -> None:
    """multi_pose.py encodes every annotation of the image in json order, crowd regions included:
    the crowd gets slot 0, a center peak of 1 and its box/center index, but reg_mask 0 (no
    keypoints); the person after it moves to slot 1. A crowd-only image stays in the train split."""
    ann_file, images = easy_set
    data = json.loads(ann_file.read_text())
    crowd = {"id": 900, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0.0, 0.0, 16.0, 8.0]}
    crowd |= {"area": 128.0, "num_keypoints": 0, "keypoints": [0] * 51}
    no_keypoints_field = {k: v for k, v in crowd.items() if k != "keypoints"} | {"id": 901, "image_id": 2}
    data["annotations"] = [crowd, *data["annotations"], no_keypoints_field]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != 2 or a["iscrowd"]]
    path = tmp_path / "crowd.json"
    path.write_text(json.dumps(data))
    ds = CocoKeypointDataset(path, images, input_size=64, train=False)
    sample = ds[0]
    person = next(a for a in data["annotations"] if a["image_id"] == 1 and not a["iscrowd"])
    # Validation warp of a 64 x 64 image to a 16 x 16 map: x / 4. Crowd box (0, 0)-(4, 2): center (2, 1).
    assert sample["reg_mask"][0] == 0 and sample["ind"][0] == 1 * 16 + 2 and sample["hm"][0, 1, 2] == 1.0
    np.testing.assert_allclose(sample["wh"][0], (4, 2))
    assert sample["hps_mask"][0].sum() == 0 and sample["hp_mask"][:17].sum() == 0
    x, y, w, h = person["bbox"]
    x1, y1, x2, y2 = np.clip(np.array([x, y, x + w, y + h]) / 4, 0, 15)  # clipped to the map as the original
    ct = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    assert sample["reg_mask"][1] == 1 and sample["ind"][1] == int(ct[1]) * 16 + int(ct[0])
    # Image 2 has only the crowd region (given without a `keypoints` field): kept for training.
    train = CocoKeypointDataset(path, images, input_size=64, train=True)
    assert [r.image_id for r in train.records] == [1, 2, 3, 4]
    crowd_only = train.make_sample(1, geometry=Geometry(np.float32([32, 32]), 64.0, 0.0, False))
    assert crowd_only["reg_mask"].sum() == 0 and crowd_only["hm"].max() == 1.0
