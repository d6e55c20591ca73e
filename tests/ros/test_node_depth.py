"""3D output over real DDS: camera, depth and camera_info publishers -> `centerpose-ros` with
`use_depth` -> /pose/detections_3d and /pose/markers_3d in a recorder process.

Expected 3D comes from the 2D persons the node publishes for the same frame, computed here by hand:
the depth is a plane at a known distance Z (every valid pixel equals Z), K is known, so a keypoint
at colour pixel (u, v) lifts to X = (u_d - cx) Z / fx, Y = (v_d - cy) Z / fy with the depth
pixel u_d = (u + 0.5) W_d / W_c - 0.5 (likewise v), when its score reaches depth_keypoint_threshold,
it lies inside the depth image and the person has a reference depth (a valid torso joint, or a box
centre inside the image); the position is the per-axis median of the valid torso joints, else the
box centre back-projected at Z (README "How a person is lifted").

Two nodes: `depth_sync:=builtin` (the nearest-stamp buffer) runs everything; `depth_sync:=message_filters`
runs the pairing and plane checks with tests/ros/message_filters_double on its PYTHONPATH (the
real message_filters is not on PyPI; see that package's docstring).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ros_helpers import (
    MAX_PERSONS,
    READY_LINE,
    Proc,
    RosSession,
    assert_valid_ids,
    camera_info_entry,
    depth_entry,
    latest_diagnostics,
    raw_entry,
    require_ros,
    wait_for_records,
)

require_ros()
pytestmark = pytest.mark.ros

MESSAGE_FILTERS_DOUBLE = Path(__file__).resolve().parent / "message_filters_double"
TORSO = (5, 6, 11, 12)  # left/right shoulder, left/right hip (COCO)
COLOUR_FRAME, DEPTH_FRAME = "cam_colour_optical", "cam_depth_optical"
W, H = 320, 240
# Seeded noise: with the test weights, 5 persons (scores 0.94, 0.79, 0.53, 0.34, 0.33), boxes partly
# outside the image; one person has two joints scoring above 0.1.
IMAGE = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
K_FULL = (300.0, 300.0, 159.5, 119.5)  # fx, fy, cx, cy of the 320x240 depth image
K_HALF = (150.0, 150.0, 79.5, 59.5)  # the same camera at 160x120 ((c + 0.5) / 2 - 0.5)


def k_matrix(fx: float, fy: float, cx: float, cy: float) -> list[float]:
    return [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]


def plane(z_m: float, width: int = W, height: int = H, encoding: str = "32FC1") -> np.ndarray:
    if encoding == "16UC1":
        return np.full((height, width), round(z_m * 1000), np.uint16)
    return np.full((height, width), z_m, np.float32)


def expected_3d(
    person: dict[str, Any], z: float, k: tuple[float, ...], depth_size: tuple[int, int], threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(position (3,), keypoints (17, 4)) of a 2D person over a plane at depth z, by hand."""
    fx, fy, cx, cy = k
    wd, hd = depth_size
    kps = np.array(person["keypoints"], dtype=np.float64)
    ud = (kps[:, 0] + 0.5) * wd / W - 0.5
    vd = (kps[:, 1] + 0.5) * hd / H - 0.5
    inside = (ud >= -0.5) & (ud < wd - 0.5) & (vd >= -0.5) & (vd < hd - 0.5)
    has_depth = (kps[:, 2] >= threshold) & inside
    x1, y1, x2, y2 = person["bbox"]
    cu, cv = ((x1 + x2) / 2 + 0.5) * wd / W - 0.5, ((y1 + y2) / 2 + 0.5) * hd / H - 0.5
    centre_inside = -0.5 <= cu < wd - 0.5 and -0.5 <= cv < hd - 0.5
    reference = has_depth[list(TORSO)].any() or centre_inside  # else nothing can be gated: all invalid
    valid = has_depth & reference
    points = np.stack([(ud - cx) * z / fx, (vd - cy) * z / fy, np.full(17, z)], axis=1)
    keypoints = np.where(valid[:, None], np.column_stack([points, kps[:, 2]]), [np.nan, np.nan, np.nan, 0.0])
    torso = [j for j in TORSO if valid[j]]
    if torso:
        position = np.median(points[torso], axis=0)
    elif centre_inside:
        position = np.array([(cu - cx) * z / fx, (cv - cy) * z / fy, z])
    else:
        position = np.full(3, np.nan)
    return position, keypoints


def assert_lifted(
    record_2d: dict[str, Any],
    record_3d: dict[str, Any],
    z: float,
    k: tuple[float, ...],
    depth_size: tuple[int, int] = (W, H),
    threshold: float = 0.0,  # the nodes' depth_keypoint_threshold
) -> None:
    assert record_3d["stamp"] == record_2d["stamp"], "3D header stamp: the colour image's"
    assert record_3d["frame_id"] == DEPTH_FRAME, "3D header frame_id: the depth image's"
    persons_2d, persons_3d = record_2d["persons"], record_3d["persons"]
    assert [p["id"] for p in persons_3d] == [p["id"] for p in persons_2d], "same persons, order and ids"
    assert [p["score"] for p in persons_3d] == [p["score"] for p in persons_2d]
    for p2, p3 in zip(persons_2d, persons_3d, strict=True):
        position, keypoints = expected_3d(p2, z, k, depth_size, threshold)
        np.testing.assert_allclose(p3["position"], position, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(p3["keypoints"], keypoints, rtol=1e-5, atol=1e-5)


@dataclass
class Rig:
    session: RosSession
    node: Proc
    records: Path
    stamp_s: float = 2000.0
    no_info: tuple[list, list, dict] | None = None  # fixture phase: 2D records, 3D records, diagnostics

    def next_stamp(self, step_s: float = 0.1) -> tuple[int, int]:
        self.stamp_s += step_s
        return to_stamp(self.stamp_s)

    def wait(self, topic: str, frame_id: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        return wait_for_records(
            self.records, lambda r: r["topic"] == topic and r.get("frame_id") == frame_id, count, timeout
        )

    def by_stamp(self, topic: str, stamps: list[tuple[int, int]], timeout: float = 30.0) -> dict:
        wanted = {tuple(s) for s in stamps}
        found = wait_for_records(
            self.records,
            lambda r: r["topic"] == topic and tuple(r.get("stamp", ())) in wanted,
            len(wanted),
            timeout,
        )
        return {tuple(r["stamp"]): r for r in found}


def to_stamp(seconds: float) -> tuple[int, int]:
    ns = int(round(seconds * 1e9))
    return ns // 1_000_000_000, ns % 1_000_000_000


def colour(stamp: tuple[int, int], **extra: Any) -> dict[str, Any]:
    return raw_entry(IMAGE, COLOUR_FRAME, stamp, **extra)


def info(k: tuple[float, ...] = K_FULL, size: tuple[int, int] = (W, H), matrix: list | None = None) -> dict:
    """camera_info entry (K from fx, fy, cx, cy, or the 9 numbers of `matrix`), then a pause so it
    is in before the next frames are processed."""
    k_values = k_matrix(*k) if matrix is None else matrix
    return camera_info_entry(k_values, size[0], size[1], DEPTH_FRAME, (0, 0), sleep_after=0.3)


def start_rig(tmp: Path, checkpoint: Path, depth_sync: str, env: dict[str, str] | None = None) -> Rig:
    session = RosSession(tmp)
    env = dict(env or {})
    if "PYTHONPATH" in env:  # in front of the code under test, not instead of it
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (env["PYTHONPATH"], session.env.get("PYTHONPATH")) if p
        )
    session.env.update(env)
    node = session.start_test_node(
        checkpoint,
        wait_for=None,
        use_depth=True,
        depth_sync=depth_sync,
        depth_keypoint_threshold=0.0,  # lift every joint: the random weights' joints mostly score 0
    )
    try:
        node.wait_for_log(READY_LINE, timeout=120)
        _, records = session.start_ready_recorder(topics="detections,detections_3d,markers_3d,diagnostics")
    except BaseException:
        session.close()
        raise
    return Rig(session, node, records)


def stop_rig(rig: Rig) -> None:
    try:
        rc = rig.node.stop(signal.SIGTERM)
        log = rig.node.log()
        assert rc == 0 and "Traceback" not in log, log[-3000:]
    finally:
        rig.session.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, random_checkpoint: Path) -> Iterator[Rig]:
    """The builtin-pairing node. Before any camera_info exists, one frame with depth is sent (the
    missing-camera_info case can only be seen first)."""
    rig = start_rig(tmp_path_factory.mktemp("ros_depth"), random_checkpoint, "builtin")
    try:
        stamp = rig.next_stamp()
        rig.session.publish([depth_entry(plane(2.0), DEPTH_FRAME, stamp), colour(stamp)], "--lockstep")
        time.sleep(1.0)  # a 3D message, if one were published, would be in by now
        records = [r for r in rig.by_stamp("detections", [stamp]).values()]
        leaked = [r for r in rig.by_stamp("detections_3d", [stamp], timeout=0.1).values()]
        after = time.time()
        status = wait_for_records(
            rig.records, lambda r: r["topic"] == "diagnostics" and r["t_recv"] > after, 1, 10
        )
        rig.no_info = (records, leaked, status[-1] if status else {})
        yield rig
    finally:
        stop_rig(rig)


@pytest.fixture(scope="module", params=["kwargs", "explicit"])
def mf_rig(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, random_checkpoint: Path
) -> Iterator[Rig]:
    """The message_filters-pairing node (message_filters from the test double), against a release
    whose Subscriber passes keywords on to create_subscription and one whose Subscriber does not
    (late 2025): the node's depth path must not depend on it (issue 17, item 2)."""
    rig = start_rig(
        tmp_path_factory.mktemp("ros_depth_mf"),
        random_checkpoint,
        "message_filters",
        env={"PYTHONPATH": str(MESSAGE_FILTERS_DOUBLE), "MESSAGE_FILTERS_DOUBLE_SUBSCRIBER": request.param},
    )
    try:
        yield rig
    finally:
        stop_rig(rig)


def test_ready_line_names_the_pairing(rig: Rig, mf_rig: Rig) -> None:
    assert "depth pairing by builtin nearest-stamp buffer" in rig.node.log()
    assert "depth pairing by message_filters.Cache" in mf_rig.node.log()
    for each in (rig, mf_rig):
        assert "'/depth/image', '/depth/camera_info'" in each.node.log()


def test_missing_camera_info_gives_2d_only_and_a_warning(rig: Rig) -> None:
    detections, leaked, status = rig.no_info
    assert len(detections) == 1 and len(detections[0]["persons"]) == MAX_PERSONS, "2D output as usual"
    assert leaked == [], "no 3D without camera_info"
    assert "no depth camera_info received on '/depth/camera_info' yet: 2D output only" in rig.node.log()
    assert status["level"] == 1 and "no depth camera_info received" in status["message"], "WARN status"
    assert int(status["values"]["depth_no_camera_info"]) == 1


def test_plane_depth_gives_hand_computed_3d_with_the_2d_ids(rig: Rig) -> None:
    rig.stamp_s += 5.0  # past tracking_lost_timeout_s: earlier frames' tracks are gone
    plan, frames = [info()], []  # frames: (stamp, z, K, depth size)
    for _ in range(3):  # same image: the tracker confirms the persons from the second frame on
        stamp = rig.next_stamp()
        plan += [depth_entry(plane(2.5), DEPTH_FRAME, stamp), colour(stamp)]
        frames.append((stamp, 2.5, K_FULL, (W, H)))
    stamp_mm = rig.next_stamp()  # 16UC1 millimetres: the same as 32FC1 metres
    plan += [depth_entry(plane(2.5, encoding="16UC1"), DEPTH_FRAME, stamp_mm), colour(stamp_mm)]
    frames.append((stamp_mm, 2.5, K_FULL, (W, H)))
    stamp_half = rig.next_stamp()  # half-resolution depth with its own K
    plan += [
        info(K_HALF, (W // 2, H // 2)),
        depth_entry(plane(1.75, W // 2, H // 2), DEPTH_FRAME, stamp_half),
    ]
    plan += [colour(stamp_half), info()]
    frames.append((stamp_half, 1.75, K_HALF, (W // 2, H // 2)))
    rig.session.publish(plan, "--lockstep")

    stamps = [f[0] for f in frames]
    found_2d, found_3d = rig.by_stamp("detections", stamps), rig.by_stamp("detections_3d", stamps)
    assert set(found_3d) == set(stamps), "every frame with depth and camera_info has 3D output"
    for stamp, z, k, size in frames:
        assert_valid_ids(found_2d[stamp])
        assert_lifted(found_2d[stamp], found_3d[stamp], z, k, size)
    first, second = found_2d[stamps[0]]["persons"], found_2d[stamps[1]]["persons"]
    assert all(p["id"] == -1 for p in first), "no id before a track is confirmed"
    assert [p["id"] >= 1 for p in second] == [p["score"] >= 0.6 for p in second], (
        "persons at or above tracking_high_score_threshold (0.6) tracked from the second frame"
    )
    for key in ("position", "keypoints"):  # 16UC1 millimetres == 32FC1 metres, exactly
        np.testing.assert_array_equal(
            [p[key] for p in found_3d[stamp_mm]["persons"]], [p[key] for p in found_3d[stamps[2]]["persons"]]
        )
    lifted = sum(np.isfinite(np.array(p["keypoints"])[:, 2]).sum() for p in found_3d[stamps[0]]["persons"])
    assert lifted > 20, "the fixture must lift joints, not only positions"

    markers = wait_for_records(
        rig.records, lambda r: r["topic"] == "markers_3d" and tuple(r["markers"][0]["stamp"]) in stamps, 1, 10
    )
    assert markers, "3D markers published while subscribed"
    drawn = [m for m in markers[0]["markers"] if m["action"] == 0]
    assert drawn and all(m["frame_id"] == DEPTH_FRAME for m in drawn)
    assert {m["type"] for m in drawn} == {7, 5, 2}, "joints SPHERE_LIST, skeleton LINE_LIST, position SPHERE"


def test_each_colour_frame_gets_the_depth_frame_of_nearest_stamp(rig: Rig) -> None:
    assert_nearest_stamp_pairing(rig)


def test_message_filters_pairing_gives_the_depth_frame_of_nearest_stamp_too(mf_rig: Rig) -> None:
    assert_nearest_stamp_pairing(mf_rig)


def assert_nearest_stamp_pairing(rig: Rig) -> None:
    t1, t2, t3 = (rig.stamp_s + 1.0 + i for i in range(3))  # 1 s apart: the history never mixes them
    rig.stamp_s = t3 + 1.0
    before = latest_diagnostics(rig.records, after=time.time())
    plan = [info()]
    # Depth before colour: 30 ms early, 10 ms late, 45 ms late -> the 10 ms one (3.0 m).
    plan += [
        depth_entry(plane(z), DEPTH_FRAME, to_stamp(t1 + dt))
        for z, dt in ((2.0, -0.03), (3.0, 0.01), (4.0, 0.045))
    ]
    plan += [colour(to_stamp(t1))]
    # Depth after colour (another topic, so either order happens): 5 ms late, then 40 ms early
    # (farther: must not replace it) -> 3.5 m. Nearest first, so the pair never depends on timing.
    plan += [colour(to_stamp(t2), expect_answer=False, sleep_after=0.0)]
    plan += [depth_entry(plane(z), DEPTH_FRAME, to_stamp(t2 + dt)) for z, dt in ((3.5, 0.005), (1.5, -0.04))]
    plan[-1]["sleep_after"] = 1.0
    # Nearest depth 80 ms away, beyond depth_sync_tolerance 0.05 s: 2D only, counted.
    plan += [depth_entry(plane(5.0), DEPTH_FRAME, to_stamp(t3 + 0.08)), colour(to_stamp(t3))]
    rig.session.publish(plan, "--lockstep")

    stamps = [to_stamp(t) for t in (t1, t2, t3)]
    found_2d = rig.by_stamp("detections", stamps)
    found_3d = rig.by_stamp("detections_3d", stamps[:2])
    time.sleep(0.5)
    assert set(found_2d) == set(stamps), "2D output for every colour frame"
    assert_lifted(found_2d[stamps[0]], found_3d[stamps[0]], 3.0, K_FULL)
    assert_lifted(found_2d[stamps[1]], found_3d[stamps[1]], 3.5, K_FULL)
    assert not rig.by_stamp("detections_3d", stamps[2:], timeout=0.1), "no pair: no 3D message"
    after = latest_diagnostics(rig.records, after=time.time())
    assert int(after["depth_unpaired"]) - int(before["depth_unpaired"]) == 1
    assert int(after["depth_paired"]) - int(before["depth_paired"]) == 2
    assert rig.node.popen.poll() is None


def test_bad_depth_input_never_kills_the_node(rig: Rig) -> None:
    good = depth_entry(plane(2.0), DEPTH_FRAME, (0, 0))
    cases = [  # (entries before the frame's depth, depth entry overrides, expected warning, counter)
        ([], dict(encoding="mono16"), "unsupported depth encoding 'mono16'", "depth_rejected"),
        (
            [],
            dict(data=bytes(1000)),
            f"depth image data has 1000 bytes, expected height*step = {H}*{W * 4}",
            "depth_rejected",
        ),
        (
            [info(size=(W // 2, H // 2))],
            {},
            f"depth image is {W}x{H} but its camera_info is for {W // 2}x{H // 2}",
            "depth_rejected",
        ),
        ([info(matrix=[0.0] * 9)], {}, "K is all zeros", "depth_no_camera_info"),
    ]
    before = latest_diagnostics(rig.records, after=time.time())
    plan, bad_stamps = [], []
    for entries, overrides, _, _ in cases:
        stamp = rig.next_stamp()
        plan += [*entries, dict(good, stamp=stamp, **overrides), colour(stamp)]
        bad_stamps.append(stamp)
    recovered = rig.next_stamp()
    plan += [info(), dict(good, stamp=recovered), colour(recovered)]
    rig.session.publish(plan, "--lockstep")  # fails unless every colour frame gets its 2D answer

    found_3d = rig.by_stamp("detections_3d", [recovered])
    assert_lifted(rig.by_stamp("detections", [recovered])[recovered], found_3d[recovered], 2.0, K_FULL)
    assert not rig.by_stamp("detections_3d", bad_stamps, timeout=0.5), "no 3D from bad depth input"
    log = rig.node.log()
    for _, _, needle, _ in cases:
        assert needle in log, f"no warning containing {needle!r}"
    after = latest_diagnostics(rig.records, after=time.time())
    for counter in ("depth_rejected", "depth_no_camera_info"):
        expected = sum(case[3] == counter for case in cases)
        assert int(after[counter]) - int(before[counter]) == expected, counter
    assert int(after["depth_camera_info_rejected"]) - int(before["depth_camera_info_rejected"]) == 1
    assert rig.node.popen.poll() is None and "Traceback" not in log


def test_rectified_depth_is_read_with_p_and_doubtful_inputs_are_warned_once(rig: Rig) -> None:
    """depth_rectified (default true): camera_info's P, not K, back-projects the depth image, as
    image_geometry does; a non-zero D on it, and a depth image whose aspect ratio differs from the
    colour image's, each give one warning however often they recur (issue 17, item 3)."""
    rig.stamp_s += 5.0
    p_full = (280.0, 290.0, 150.0, 115.0)  # fx', fy', cx', cy' of the rectified image (K stays K_FULL)
    fx, fy, cx, cy = p_full
    rectified = info(K_FULL)
    rectified.update(
        p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0], d=[0.1, -0.05, 0.0, 0.0, 0.0]
    )
    stamps = [rig.next_stamp(), rig.next_stamp()]
    plan = [rectified]
    for stamp in stamps:
        plan += [depth_entry(plane(2.0), DEPTH_FRAME, stamp), colour(stamp), dict(rectified)]
    square = (H, H)  # 240x240 depth for the 320x240 colour image: not registered to it
    square_stamps = [rig.next_stamp(), rig.next_stamp()]
    plan.append(info((300.0, 300.0, 119.5, 119.5), square))
    for stamp in square_stamps:
        plan += [depth_entry(plane(2.0, *square), DEPTH_FRAME, stamp), colour(stamp)]
    plan.append(info())
    rig.session.publish(plan, "--lockstep")

    found_2d, found_3d = rig.by_stamp("detections", stamps), rig.by_stamp("detections_3d", stamps)
    for stamp in stamps:
        assert_lifted(found_2d[stamp], found_3d[stamp], 2.0, p_full)
    assert len(rig.by_stamp("detections_3d", square_stamps)) == 2, "a stretched depth image still gives 3D"
    log = rig.node.log()
    assert log.count("has non-zero distortion D") == 1, log[-3000:]
    assert log.count("have different aspect ratios") == 1, log[-3000:]
    assert "colour image 320x240 and depth image 240x240" in log


def test_auto_falls_back_to_the_builtin_pairing_when_message_filters_fails(
    tmp_path: Path, random_checkpoint: Path
) -> None:
    """depth_sync auto with a message_filters whose Cache cannot be used: the node starts with the
    builtin pairing, says why once, and gives 3D output (issue 17, item 2)."""
    env = {"PYTHONPATH": str(MESSAGE_FILTERS_DOUBLE), "MESSAGE_FILTERS_DOUBLE_BROKEN": "cache"}
    rig = start_rig(tmp_path, random_checkpoint, "auto", env=env)
    try:
        stamp = rig.next_stamp()
        rig.session.publish(
            [info(), depth_entry(plane(2.0), DEPTH_FRAME, stamp), colour(stamp)], "--lockstep"
        )
        found_2d, found_3d = rig.by_stamp("detections", [stamp]), rig.by_stamp("detections_3d", [stamp])
        assert_lifted(found_2d[stamp], found_3d[stamp], 2.0, K_FULL)
        log = rig.node.log()
        assert "depth pairing by builtin nearest-stamp buffer" in log
        assert log.count("message_filters failed (TypeError") == 1, log[-3000:]
    finally:
        stop_rig(rig)
