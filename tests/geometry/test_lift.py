"""Lifting 2D persons to 3D with a synthetic depth image and a known K.

Every expectation is worked out by hand in the comments from X = (u - cx) Z / fx and
Y = (v - cy) Z / fy; none is computed by the code under test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pytest

from centerpose_core.geometry import DepthImage, DepthLiftConfig, PinholeIntrinsics, lift_arrays, lift_persons
from centerpose_core.types import Person

NAN = math.nan
W, H = 80, 60
# fx=100, fy=80, cx=40, cy=30 for the 80x60 depth image
INTR = PinholeIntrinsics.from_k([100.0, 0.0, 40.0, 0.0, 80.0, 30.0, 0.0, 0.0, 1.0], W, H)
# A standing person, (u, v) per COCO keypoint, inside columns 29..51 and rows 9..55.
STANDING = [
    (40, 10), (38, 9), (42, 9), (36, 10), (44, 10),  # nose, eyes, ears
    (32, 18), (48, 18),  # shoulders
    (30, 28), (50, 28),  # elbows
    (29, 36), (51, 36),  # wrists
    (35, 38), (45, 38),  # hips
    (35, 47), (45, 47),  # knees
    (35, 55), (45, 55),  # ankles
]  # fmt: skip
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_HIP, R_HIP = 5, 6, 7, 8, 9, 10, 11, 12
BOX = (26.0, 4.0, 54.0, 59.0)


def _person(
    points: Sequence[tuple[float, float]] | np.ndarray = STANDING,
    score: float = 0.9,
    box: tuple[float, float, float, float] = BOX,
    scores: np.ndarray | None = None,
) -> Person:
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[:, :2] = np.asarray(points, np.float32)
    keypoints[:, 2] = score if scores is None else scores
    return Person(score=0.8, bbox=np.asarray(box, np.float32), keypoints=keypoints)


def _mm(millimetres: np.ndarray) -> DepthImage:
    return DepthImage.from_array(millimetres.astype(np.uint16), "16UC1")


def _plane(mm: int) -> np.ndarray:
    return np.full((H, W), mm, np.uint16)


def _lift(person: Person, depth: DepthImage, **config: float) -> tuple[np.ndarray, np.ndarray]:
    (result,) = lift_persons([person], depth, INTR, (W, H), DepthLiftConfig(**config))
    return result.position, result.keypoints


def test_plane_at_two_metres_gives_the_hand_computed_points() -> None:
    points = list(STANDING)
    points[0] = (45.3, 27.6)  # a sub-pixel nose: X = 5.3*2/100 = 0.106, Y = -2.4*2/80 = -0.06
    position, kps = _lift(_person(points), _mm(_plane(2000)))
    # Z = 2: X = (u - 40) * 0.02, Y = (v - 30) * 0.025
    expected_xy = [
        (0.106, -0.06), (-0.04, -0.525), (0.04, -0.525), (-0.08, -0.5), (0.08, -0.5),
        (-0.16, -0.3), (0.16, -0.3),
        (-0.2, -0.05), (0.2, -0.05),
        (-0.22, 0.15), (0.22, 0.15),
        (-0.1, 0.2), (0.1, 0.2),
        (-0.1, 0.425), (0.1, 0.425),
        (-0.1, 0.625), (0.1, 0.625),
    ]  # fmt: skip
    assert kps.shape == (17, 4) and kps.dtype == np.float32
    np.testing.assert_allclose(kps[:, :2], expected_xy, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(kps[:, 2], 2.0)
    np.testing.assert_array_equal(kps[:, 3], np.float32(0.9))
    # position: per-axis median of the torso joints: X of (-0.16, 0.16, -0.1, 0.1) -> 0,
    # Y of (-0.3, -0.3, 0.2, 0.2) -> -0.05
    np.testing.assert_allclose(position, [0.0, -0.05, 2.0], rtol=0, atol=1e-9)


def _person_in_front_of_wall(person_mm: int, wall_mm: int) -> np.ndarray:
    depth = _plane(wall_mm)
    depth[4:59, 28:53] = person_mm  # the silhouette: columns 28..52, rows 4..58
    return depth


def test_person_in_front_of_a_wall_gets_the_persons_depth() -> None:
    points = list(STANDING)
    points[L_ELBOW] = (28, 28)  # on the silhouette's edge: 15 person pixels, 10 wall pixels in 5x5
    points[R_WRIST] = (62, 36)  # past the body's edge, on the wall: 2 m behind the person -> gated
    position, kps = _lift(_person(points), _mm(_person_in_front_of_wall(2000, 4000)))
    valid = np.ones(17, bool)
    valid[R_WRIST] = False
    np.testing.assert_array_equal(kps[valid, 2], 2.0)
    np.testing.assert_allclose(kps[L_ELBOW, :2], [-0.24, -0.05], atol=1e-6)  # (28-40)*0.02, (28-30)*0.025
    assert np.isnan(kps[R_WRIST, :3]).all() and kps[R_WRIST, 3] == 0.0
    np.testing.assert_allclose(position, [0.0, -0.05, 2.0], atol=1e-9)


def test_keypoints_on_a_nearer_occluder_beyond_the_gate_are_invalid() -> None:
    depth = _person_in_front_of_wall(3000, 5000)
    depth[20:41, 49:61] = 1200  # a pole 1.8 m in front of the person covers the right elbow and wrist
    depth[33:40, 26:33] = 2500  # the left hand reaches 0.5 m towards the camera: within the 0.7 m gate
    position, kps = _lift(_person(), _mm(depth))
    for joint in (R_ELBOW, R_WRIST):
        assert np.isnan(kps[joint, :3]).all() and kps[joint, 3] == 0.0
    # the right shoulder's window (rows 16-20, cols 46-50) has 2 pole pixels out of 25: still the body
    np.testing.assert_allclose(kps[R_SHOULDER, :3], [0.24, -0.45, 3.0], atol=1e-6)  # 8*0.03, -12*3/80
    np.testing.assert_allclose(kps[L_WRIST, :3], [-0.275, 0.1875, 2.5], atol=1e-6)  # -11*2.5/100, 6*2.5/80
    # torso at 3 m: X = (u-40)*0.03 of (-0.24, 0.24, -0.15, 0.15) -> 0; Y = (v-30)*0.0375 of
    # (-0.45, -0.45, 0.3, 0.3) -> -0.075
    np.testing.assert_allclose(position, [0.0, -0.075, 3.0], atol=1e-9)


def test_a_tighter_gate_rejects_the_reaching_hand_too() -> None:
    depth = _person_in_front_of_wall(3000, 5000)
    depth[33:40, 26:33] = 2500
    _, kps = _lift(_person(), _mm(depth), body_gate=0.4)
    assert np.isnan(kps[L_WRIST, :3]).all() and kps[L_WRIST, 3] == 0.0


def test_without_torso_depth_the_box_centre_region_gives_the_position() -> None:
    depth = _person_in_front_of_wall(2500, 4000)
    for joint in (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP):  # no return around every torso joint
        u, v = STANDING[joint]
        depth[v - 2 : v + 3, u - 2 : u + 3] = 0
    position, kps = _lift(_person(), _mm(depth))
    for joint in (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP):
        assert np.isnan(kps[joint, :3]).all() and kps[joint, 3] == 0.0
    np.testing.assert_allclose(kps[0, :3], [0.0, -0.625, 2.5], atol=1e-6)  # nose: 0, -20*2.5/80
    # box centre (40, 31.5) at 2.5 m: X = 0, Y = 1.5 * 2.5 / 80 = 0.046875
    np.testing.assert_allclose(position, [0.0, 0.046875, 2.5], atol=1e-9)


def test_contradicting_torso_joints_fall_back_to_the_box_centre_as_reference() -> None:
    depth = _person_in_front_of_wall(3000, 5000)
    depth[15:22, 29:36] = 1000  # an object 2 m in front covers the left shoulder
    scores = np.full(17, 0.05, np.float32)  # below the 0.1 threshold: not lifted
    scores[[L_SHOULDER, R_HIP]] = 0.9
    position, kps = _lift(_person(scores=scores), _mm(depth))
    # torso median (1 + 3) / 2 = 2 m is 1 m from both -> box centre region (3 m) is the reference
    assert np.isnan(kps[L_SHOULDER, :3]).all() and kps[L_SHOULDER, 3] == 0.0
    np.testing.assert_allclose(kps[R_HIP], [0.15, 0.3, 3.0, 0.9], atol=1e-6)  # 5*0.03, 8*3/80
    assert np.isnan(np.delete(kps, [L_SHOULDER, R_HIP], axis=0)[:, :3]).all()
    np.testing.assert_allclose(position, [0.15, 0.3, 3.0], atol=1e-9)  # the one torso joint left


def test_zero_depth_gives_nan_everywhere() -> None:
    position, kps = _lift(_person(), _mm(_plane(0)))
    assert np.isnan(position).all() and np.isnan(kps[:, :3]).all()
    np.testing.assert_array_equal(kps[:, 3], 0.0)


def test_out_of_range_depth_is_invalid() -> None:
    position, kps = _lift(_person(), _mm(_plane(2000)), max_range=1.5)
    assert np.isnan(position).all() and np.isnan(kps[:, :3]).all()
    position, _ = _lift(_person(), _mm(_plane(2000)), min_range=2.5, max_range=5.0)
    assert np.isnan(position).all()


def test_16uc1_and_32fc1_give_the_same_result() -> None:
    depth_mm = _person_in_front_of_wall(2345, 4567)
    depth_mm[20:41, 49:61] = 1234
    as_mm = _mm(depth_mm)
    as_m = DepthImage.from_array((depth_mm / 1000.0).astype(np.float32), "32FC1")
    position_mm, kps_mm = _lift(_person(), as_mm)
    position_m, kps_m = _lift(_person(), as_m)
    np.testing.assert_array_equal(np.isnan(kps_mm), np.isnan(kps_m))
    np.testing.assert_allclose(kps_mm, kps_m, rtol=0, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(position_mm, position_m, rtol=0, atol=1e-6)
    assert position_mm[2] == pytest.approx(2.345, abs=1e-9)


def test_half_resolution_depth_scales_colour_pixels() -> None:
    # colour 160x120, depth 80x60 with its own K (fx=50, fy=40, cx=39.5, cy=29.5).
    # colour (u, v) -> depth (u/2 - 0.25, v/2 - 0.25); X = (u_d - 39.5) * 0.04, Y = (v_d - 29.5) * 0.05.
    intr = PinholeIntrinsics.from_k([50.0, 0.0, 39.5, 0.0, 40.0, 29.5, 0.0, 0.0, 1.0], W, H)
    depth = _plane(4000)
    depth[3:60, 10:31] = 2000  # the person fills depth columns 10..30; colour columns 29..51 land there
    colour_points = [(u, 2 * v) for u, v in STANDING]
    person = _person(colour_points, box=(26.0, 8.0, 54.0, 118.0))
    (result,) = lift_persons([person], _mm(depth), intr, (160, 120))
    kps = result.keypoints
    np.testing.assert_array_equal(kps[:, 2], 2.0)  # unscaled pixels would read the wall at 4 m
    # nose colour (40, 20) -> depth (19.75, 9.75): X = -19.75*0.04 = -0.79, Y = -19.75*0.05 = -0.9875
    np.testing.assert_allclose(kps[0, :3], [-0.79, -0.9875, 2.0], atol=1e-6)
    # right hip colour (45, 76) -> depth (22.25, 37.75): X = -17.25*0.04 = -0.69, Y = 8.25*0.05 = 0.4125
    np.testing.assert_allclose(kps[R_HIP, :3], [-0.69, 0.4125, 2.0], atol=1e-6)
    # torso X (-0.95, -0.63, -0.89, -0.69) -> -0.79; Y (-0.5875, -0.5875, 0.4125, 0.4125) -> -0.0875
    np.testing.assert_allclose(result.position, [-0.79, -0.0875, 2.0], atol=1e-9)


def test_keypoints_at_and_past_the_image_border() -> None:
    points = list(STANDING)
    points[0] = (0.2, 0.3)  # in pixel (0, 0): its 5x5 window is mostly outside, the inside votes
    points[1] = (-3.0, 10.0)  # outside the image
    points[2] = (79.6, 10.0)  # right of the last pixel's edge at 79.5
    _, kps = _lift(_person(points), _mm(_plane(2000)))
    np.testing.assert_allclose(kps[0, :3], [-0.796, -0.7425, 2.0], atol=1e-6)  # -39.8*0.02, -29.7*0.025
    for joint in (1, 2):
        assert np.isnan(kps[joint, :3]).all() and kps[joint, 3] == 0.0


def test_keypoints_below_the_score_threshold_are_not_lifted() -> None:
    scores = np.full(17, 0.9, np.float32)
    scores[[1, 2]] = [0.05, 0.0]
    _, kps = _lift(_person(scores=scores), _mm(_plane(2000)))
    assert np.isnan(kps[[1, 2], :3]).all() and (kps[[1, 2], 3] == 0).all()
    _, kps = _lift(_person(scores=scores), _mm(_plane(2000)), keypoint_threshold=0.0)
    assert not np.isnan(kps[:, :3]).any()


@pytest.mark.filterwarnings("error")
def test_non_finite_keypoints_and_boxes_are_invalid_without_warnings() -> None:
    points = np.asarray(STANDING, np.float32)
    points[[0, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]] = NAN
    person = _person(points, box=(NAN, 4.0, 54.0, 59.0))
    position, kps = _lift(person, _mm(_plane(2000)))
    # no torso, no box centre -> no reference: nothing can be checked
    assert np.isnan(position).all() and np.isnan(kps[:, :3]).all()


def test_persons_are_independent_and_keep_order_and_ids() -> None:
    depth = _person_in_front_of_wall(2000, 4000)
    depth[4:59, 0:20] = 3000  # a second person on the left
    left = _person([(u - 30, v) for u, v in STANDING], box=(0.0, 4.0, 22.0, 59.0))
    right = _person()
    both = lift_persons([left, right], _mm(depth), INTR, (W, H), ids=[7, 3])
    assert [p.id for p in both] == [7, 3] and [p.score for p in both] == [pytest.approx(0.8)] * 2
    assert both[0].position[2] == pytest.approx(3.0) and both[1].position[2] == pytest.approx(2.0)
    for person, lifted in zip((left, right), both):
        (alone,) = lift_persons([person], _mm(depth), INTR, (W, H))
        np.testing.assert_array_equal(lifted.keypoints, alone.keypoints)
        np.testing.assert_array_equal(lifted.position, alone.position)
    assert lift_persons([], _mm(depth), INTR, (W, H)) == []


def test_default_ids_are_minus_one_and_id_count_must_match() -> None:
    (person,) = lift_persons([_person()], _mm(_plane(2000)), INTR, (W, H))
    assert person.id == -1
    with pytest.raises(ValueError, match="2 ids for 1 persons"):
        lift_persons([_person()], _mm(_plane(2000)), INTR, (W, H), ids=[1, 2])


def test_camera_info_of_another_size_is_rejected() -> None:
    intr = PinholeIntrinsics.from_k([100.0, 0.0, 40.0, 0.0, 80.0, 30.0, 0.0, 0.0, 1.0], 640, 480)
    with pytest.raises(ValueError, match="depth image is 80x60 but its camera_info is for 640x480"):
        lift_persons([_person()], _mm(_plane(2000)), intr, (W, H))


def test_array_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"keypoints must have shape \(P, 17, 3\)"):
        lift_arrays(np.zeros((1, 16, 3)), np.zeros((1, 4)), _mm(_plane(2000)), INTR, (W, H))
    with pytest.raises(ValueError, match=r"boxes must have shape \(1, 4\)"):
        lift_arrays(np.zeros((1, 17, 3)), np.zeros((2, 4)), _mm(_plane(2000)), INTR, (W, H))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"window": 4}, "odd"),
        ({"window": 0}, "odd"),
        ({"window": 5.0}, "odd"),
        ({"min_range": -0.1}, "min_range"),
        ({"min_range": 2.0, "max_range": 1.0}, "max_range must be greater"),
        ({"body_gate": 0.0}, "body_gate"),
        ({"keypoint_threshold": 1.5}, "keypoint_threshold"),
        ({"center_region": 0.0}, "center_region"),
    ],
)
def test_bad_config_is_a_clear_error(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DepthLiftConfig(**fields)


def test_infinite_depth_never_places_a_person_at_infinity() -> None:
    """A +Inf (32FC1) or 65535 (16UC1) depth plane with max_range inf gives NaN, not (inf, inf, inf)
    (issue 17, item 4)."""
    inf_plane = DepthImage.from_array(np.full((H, W), math.inf, np.float32), "32FC1")
    for depth in (inf_plane, _mm(_plane(65535))):
        position, kps = _lift(_person(), depth, max_range=math.inf)
        assert np.isnan(position).all() and np.isnan(kps[:, :3]).all()
        np.testing.assert_array_equal(kps[:, 3], 0.0)


# --- positions from the person's mask (a mask model) ----------------------------------------------


def _masked_scene() -> tuple[np.ndarray, np.ndarray]:
    """A wall at 4 m, the person's mask rows 20..23 x columns 36..40 (20 pixels) with depths 2000 mm
    x 8, 2100 x 4, 2200 x 3, 0 (no return) x 2 and 4000 (the mask's rim on the wall) x 3."""
    depth = _plane(4000)
    values = [2000] * 8 + [2100] * 4 + [2200] * 3 + [0] * 2 + [4000] * 3
    depth[20:24, 36:41] = np.array(values, np.uint16).reshape(4, 5)
    mask = np.zeros((H, W), bool)
    mask[20:24, 36:41] = True
    return depth, mask


def test_a_mask_gives_its_median_depth_at_the_torso_joints_median_pixel() -> None:
    depth, mask = _masked_scene()
    # The torso joints (32, 18), (48, 18), (35, 38), (45, 38) all read the wall.
    person = _person()
    position, _ = _lift(person, _mm(depth))
    np.testing.assert_allclose(position[2], 4.0)  # the joint rule: the wall
    # 18 valid mask depths sorted: 2000 x 8, 2100 x 4, ...: the 9th and 10th are 2100 -> z = 2.1.
    # Torso pixels: u (32, 48, 35, 45) -> 40, v (18, 18, 38, 38) -> 28:
    # X = (40 - 40) * 2.1 / 100 = 0, Y = (28 - 30) * 2.1 / 80 = -0.0525.
    for box in (None, (36, 20, 41, 24), (30, 10, 60, 50)):
        masked = dataclasses.replace(person, mask=mask, mask_box=box)
        position, _ = _lift(masked, _mm(depth))
        np.testing.assert_allclose(position, [0.0, -0.0525, 2.1], atol=1e-9)


def test_without_scored_torso_joints_the_mask_median_pixel_gives_x_and_y() -> None:
    depth, mask = _masked_scene()
    scores = np.full(17, 0.9, np.float32)
    scores[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]] = 0.0
    person = dataclasses.replace(_person(scores=scores), mask=mask)
    position, _ = _lift(person, _mm(depth))
    # Mask columns 36..40 (4 of each) -> 38; rows 20..23 (5 of each) -> 21.5:
    # X = (38 - 40) * 2.1 / 100 = -0.042, Y = (21.5 - 30) * 2.1 / 80 = -0.223125.
    np.testing.assert_allclose(position, [-0.042, -0.223125, 2.1], atol=1e-9)


def test_a_mask_without_valid_depth_or_of_another_size_keeps_the_joint_rule() -> None:
    depth, mask = _masked_scene()
    depth[mask] = 0
    plain, _ = _lift(_person(), _mm(depth))
    for other in (mask, np.zeros((H, W), bool), np.ones((H + 1, W), bool)):
        position, _ = _lift(dataclasses.replace(_person(), mask=other), _mm(depth))
        np.testing.assert_allclose(position, plain, atol=0)
    np.testing.assert_allclose(plain[2], 4.0)


def test_a_mask_on_a_half_resolution_depth_image_reads_the_pixels_it_covers() -> None:
    # colour 160x120 over the 80x60 depth image: colour pixel x reads depth column floor((x + 0.5) / 2),
    # so colour columns 72..81 / rows 40..47 read the scene's mask pixels, each 4 times: z = 2.1 again.
    depth, _ = _masked_scene()
    mask = np.zeros((120, 160), bool)
    mask[40:48, 72:82] = True
    colour_points = [(2 * u, 2 * v) for u, v in STANDING]
    person = dataclasses.replace(_person(colour_points, box=(52.0, 8.0, 108.0, 118.0)), mask=mask)
    (result,) = lift_persons([person], _mm(depth), INTR, (160, 120))
    # Torso colour pixels (2u, 2v) -> depth (u - 0.25, v - 0.25): median (39.75, 27.75):
    # X = -0.25 * 2.1 / 100 = -0.00525, Y = -2.25 * 2.1 / 80 = -0.0590625.
    np.testing.assert_allclose(result.position, [-0.00525, -0.0590625, 2.1], atol=1e-9)
