"""Person3D -> PersonPose3DArray and 3D RViz markers: fields, NaN handling, constants, CDR round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ros_helpers import require_ros

require_ros()

from centerpose_msgs.msg import Keypoint3D, PersonPose, PersonPose3D, PersonPose3DArray  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from centerpose_core.constants import KEYPOINT_NAMES  # noqa: E402
from centerpose_core.geometry import Person3D  # noqa: E402
from centerpose_ros.conversions.messages_3d import (  # noqa: E402
    JOINT_NS,
    POSITION_NS,
    SKELETON_NS,
    msg3d_to_dict,
    persons3d_to_markers,
    persons3d_to_msg,
)

NAN = math.nan
LEFT_EYE, RIGHT_WRIST = 1, 10


def _person(
    track_id: int = 4, invalid: tuple[int, ...] = (LEFT_EYE, RIGHT_WRIST), position: tuple = (0.1, -0.2, 2.5)
) -> Person3D:
    keypoints = np.zeros((17, 4), np.float32)
    keypoints[:, 0] = 0.25 * np.arange(17) - 2.0  # x = -2.0, -1.75, ... metres
    keypoints[:, 1] = -0.5
    keypoints[:, 2] = 2.0 + 0.125 * np.arange(17)
    keypoints[:, 3] = 0.75
    keypoints[list(invalid)] = (NAN, NAN, NAN, 0.0)
    return Person3D(id=track_id, score=0.875, position=np.asarray(position, np.float64), keypoints=keypoints)


def _header() -> Header:
    header = Header(frame_id="camera_depth_optical_frame")
    header.stamp.sec, header.stamp.nanosec = 1700000000, 123
    return header


def test_constants_follow_coco_order_and_match_the_2d_message() -> None:
    for index, name in enumerate(KEYPOINT_NAMES):
        assert getattr(PersonPose3D, name.upper()) == index == getattr(PersonPose, name.upper())
    assert PersonPose3D.NUM_KEYPOINTS == 17
    empty = PersonPose3D()
    assert empty.id == -1 and len(empty.keypoints) == 17 and isinstance(empty.keypoints[0], Keypoint3D)


def test_message_fields_and_nan_survive_serialization() -> None:
    msg = persons3d_to_msg([_person(), _person(track_id=-1, invalid=(), position=(NAN, NAN, NAN))], _header())
    received = deserialize_message(serialize_message(msg), PersonPose3DArray)
    data = msg3d_to_dict(received)
    assert data["stamp"] == [1700000000, 123] and data["frame_id"] == "camera_depth_optical_frame"
    first, second = data["persons"]
    assert first["id"] == 4 and first["score"] == 0.875
    assert first["position"] == pytest.approx([0.1, -0.2, 2.5])
    assert first["keypoints"][0] == [-2.0, -0.5, 2.0, 0.75]
    assert first["keypoints"][PersonPose3D.RIGHT_ANKLE] == [2.0, -0.5, 4.0, 0.75]
    for joint in (LEFT_EYE, RIGHT_WRIST):
        x, y, z, score = first["keypoints"][joint]
        assert math.isnan(x) and math.isnan(y) and math.isnan(z) and score == 0.0
    assert second["id"] == -1 and all(math.isnan(v) for v in second["position"])


def test_empty_result_is_an_empty_array_with_the_header() -> None:
    msg = persons3d_to_msg([], _header())
    assert list(msg.persons) == [] and msg.header.frame_id == "camera_depth_optical_frame"


def test_wrong_keypoint_shape_is_a_clear_error() -> None:
    bad = Person3D(id=1, score=0.5, position=np.zeros(3), keypoints=np.zeros((17, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(17, 4\)"):
        persons3d_to_msg([bad], _header())


def test_markers_draw_valid_joints_bones_and_the_position_in_metres() -> None:
    markers = persons3d_to_markers([_person()], _header()).markers
    assert markers[0].action == Marker.DELETEALL
    by_ns = {m.ns: m for m in markers[1:]}
    assert set(by_ns) == {JOINT_NS, SKELETON_NS, POSITION_NS}
    assert all(m.header.frame_id == "camera_depth_optical_frame" for m in markers)
    joints, bones, position = by_ns[JOINT_NS], by_ns[SKELETON_NS], by_ns[POSITION_NS]
    assert (joints.type, bones.type, position.type) == (Marker.SPHERE_LIST, Marker.LINE_LIST, Marker.SPHERE)
    assert len(joints.points) == 15  # 17 minus the left eye and the right wrist
    # COCO's 19 bones lose those touching the left eye (eye-eye, nose-eye, eye-ear) and the right
    # wrist (elbow-wrist): 15 bones, 30 line ends
    assert len(bones.points) == 30
    assert (joints.points[0].x, joints.points[0].y, joints.points[0].z) == (-2.0, -0.5, 2.0)
    assert all(math.isfinite(p.x) and math.isfinite(p.z) for p in joints.points + bones.points)
    p = position.pose.position
    assert (p.x, p.y, p.z) == pytest.approx((0.1, -0.2, 2.5))


def test_unknown_position_draws_no_sphere_and_ids_follow_the_index() -> None:
    persons = [_person(position=(NAN, NAN, NAN)), _person()]
    markers = persons3d_to_markers(persons, _header(), clear_first=False).markers
    assert all(m.action == Marker.ADD for m in markers)
    assert [(m.ns, m.id) for m in markers if m.ns == POSITION_NS] == [(POSITION_NS, 1)]
    assert sorted(m.id for m in markers if m.ns == JOINT_NS) == [0, 1]
