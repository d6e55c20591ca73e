"""Persons -> centerpose_msgs and RViz markers: field values, header, COCO order and constants."""

from __future__ import annotations

import numpy as np
from ros_helpers import require_ros

require_ros()

from centerpose_msgs.msg import PersonPose  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from centerpose_core.constants import KEYPOINT_NAMES, SKELETON  # noqa: E402
from centerpose_core.types import Person  # noqa: E402
from centerpose_ros.conversions.messages import (  # noqa: E402
    MARKER_PIXEL_SIZE,
    msg_to_dict,
    persons_to_markers,
    persons_to_msg,
)


def _person(score: float, offset: float) -> Person:
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[:, 0] = np.arange(17) + offset
    keypoints[:, 1] = 100 + 2 * np.arange(17)
    keypoints[:, 2] = np.linspace(0, 0.8, 17)
    return Person(score=score, bbox=np.array([1.5, 2.5, 30.25, 60.75], np.float32), keypoints=keypoints)


def _header() -> Header:
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 1700000000, 999
    return header


def test_message_constants_follow_coco_order() -> None:
    for index, name in enumerate(KEYPOINT_NAMES):
        assert getattr(PersonPose, name.upper()) == index
    assert PersonPose.NUM_KEYPOINTS == 17
    assert PersonPose().id == -1 and len(PersonPose().keypoints) == 17


def test_persons_to_msg_keeps_header_values_and_order() -> None:
    persons = [_person(0.9, 0.0), _person(0.4, 50.0)]
    msg = persons_to_msg(persons, _header())
    data = msg_to_dict(msg)
    assert data["stamp"] == [1700000000, 999] and data["frame_id"] == "camera_optical"
    assert [p["score"] for p in data["persons"]] == [np.float32(0.9), np.float32(0.4)]
    first = data["persons"][0]
    assert first["id"] == -1 and first["bbox"] == [1.5, 2.5, 30.25, 60.75]
    np.testing.assert_allclose(first["keypoints"], persons[0].keypoints, rtol=0, atol=1e-6)
    assert msg.persons[1].keypoints[PersonPose.RIGHT_ANKLE].x == 66.0


def test_empty_result_is_an_empty_array_with_the_header() -> None:
    msg = persons_to_msg([], _header())
    assert list(msg.persons) == [] and msg.header.frame_id == "camera_optical"


def test_markers_in_image_frame_with_thresholded_joints() -> None:
    person = _person(0.9, 0.0)
    markers = persons_to_markers([person], _header(), keypoint_threshold=0.35).markers
    assert markers[0].action == Marker.DELETEALL
    joints, bones = markers[1], markers[2]
    assert all(m.header.frame_id == "camera_optical" for m in markers)
    visible = person.keypoints[:, 2] > 0.35
    assert len(joints.points) == int(visible.sum())
    assert len(bones.points) == 2 * sum(1 for a, b in SKELETON if visible[a] and visible[b])
    last = int(np.flatnonzero(visible)[-1])
    assert joints.points[-1].x == float(person.keypoints[last, 0]) * MARKER_PIXEL_SIZE
    assert joints.lifetime.sec + joints.lifetime.nanosec * 1e-9 > 0
