"""Predictor results -> centerpose_msgs / visualization_msgs messages, and back to plain data.

Coordinates stay in source-image pixels, exactly as the Predictor returns them (not clipped);
the header is the source image's, so downstream nodes can match detections to frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from centerpose_msgs.msg import Keypoint2D, PersonPose, PersonPoseArray
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from centerpose_core.constants import NUM_KEYPOINTS, SKELETON
from centerpose_core.types import Person
from centerpose_core.viz import id_colour

# Markers draw the 2D skeleton on the z = 0 plane of the image's frame with the optical-frame
# axes (x right, y down): 1 pixel = MARKER_PIXEL_SIZE metres, so a 640x480 image spans 6.4 x 4.8 m.
MARKER_PIXEL_SIZE = 0.01
MARKER_LIFETIME_S = 0.5  # old skeletons vanish when no newer frame replaces them
JOINT_NS, SKELETON_NS = "centerpose/joints", "centerpose/skeleton"
_JOINT_COLOR = ColorRGBA(r=1.0, g=0.55, b=0.0, a=1.0)
_BONE_COLOR = ColorRGBA(r=0.0, g=0.8, b=1.0, a=1.0)


def persons_to_msg(persons: Sequence[Person], header: Any) -> PersonPoseArray:
    """One PersonPoseArray: header copied from the source image, persons in the given (score) order,
    each with its track id (`Person.id`: -1 when untracked or not yet confirmed)."""
    out = PersonPoseArray()
    out.header = header
    out.persons = [_person_to_msg(person) for person in persons]
    return out


def _person_to_msg(person: Person) -> PersonPose:
    msg = PersonPose()
    msg.id = int(person.id)
    msg.score = float(person.score)
    msg.x_min, msg.y_min, msg.x_max, msg.y_max = (float(v) for v in person.bbox)
    kps = np.asarray(person.keypoints, dtype=np.float32)
    if kps.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"person keypoints must have shape ({NUM_KEYPOINTS}, 3), got {kps.shape}")
    msg.keypoints = [Keypoint2D(x=float(x), y=float(y), score=float(s)) for x, y, s in kps.tolist()]
    return msg


def header_to_dict(header: Any) -> dict[str, Any]:
    """A std_msgs/Header as the `stamp` [sec, nanosec] and `frame_id` of the recorder's JSON lines."""
    return {"stamp": [int(header.stamp.sec), int(header.stamp.nanosec)], "frame_id": header.frame_id}


def msg_to_dict(msg: PersonPoseArray) -> dict[str, Any]:
    """A PersonPoseArray as plain JSON-ready data (recorder, tests), persons as DESIGN.md's predict JSON."""
    return {
        **header_to_dict(msg.header),
        "persons": [
            {
                "id": int(p.id),
                "bbox": [float(p.x_min), float(p.y_min), float(p.x_max), float(p.y_max)],
                "score": float(p.score),
                "keypoints": [[float(k.x), float(k.y), float(k.score)] for k in p.keypoints],
            }
            for p in msg.persons
        ],
    }


def persons_to_markers(
    persons: Sequence[Person],
    header: Any,
    keypoint_threshold: float,
    lifetime_s: float = MARKER_LIFETIME_S,
    colour_by_id: bool = False,
) -> MarkerArray:
    """Joints (SPHERE_LIST) and bones (LINE_LIST) per person, in the image's frame.

    The array starts with a DELETEALL so skeletons of persons who left disappear at once; the
    lifetime removes everything when frames stop arriving. `colour_by_id` draws each person in
    its track id's colour (as the annotated image; grey without an id).
    """
    clear = Marker()
    clear.header = header
    clear.action = Marker.DELETEALL
    markers = [clear]
    lifetime = Duration(sec=int(lifetime_s), nanosec=int(round((lifetime_s % 1.0) * 1e9)))
    for index, person in enumerate(persons):
        kps = np.asarray(person.keypoints, dtype=np.float64)
        visible = kps[:, 2] > keypoint_threshold
        points = [_point(kps[j]) for j in range(NUM_KEYPOINTS)]
        joint_colour, bone_colour = (id_rgba(person.id),) * 2 if colour_by_id else (_JOINT_COLOR, _BONE_COLOR)
        joints = _marker(header, JOINT_NS, index, Marker.SPHERE_LIST, lifetime, 6.0, joint_colour)
        joints.points = [points[j] for j in np.flatnonzero(visible)]
        bones = _marker(header, SKELETON_NS, index, Marker.LINE_LIST, lifetime, 2.0, bone_colour)
        bones.points = [points[j] for a, b in SKELETON if visible[a] and visible[b] for j in (a, b)]
        markers.extend([joints, bones])
    out = MarkerArray()
    out.markers = markers
    return out


def id_rgba(track_id: int) -> ColorRGBA:
    """The track id's colour (`centerpose_core.viz.id_colour`, BGR 0-255) as an opaque ColorRGBA."""
    b, g, r = id_colour(int(track_id))
    return ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=1.0)


def _point(keypoint: np.ndarray) -> Point:
    return Point(x=float(keypoint[0]) * MARKER_PIXEL_SIZE, y=float(keypoint[1]) * MARKER_PIXEL_SIZE, z=0.0)


def _marker(
    header: Any, ns: str, index: int, kind: int, lifetime: Duration, size_px: float, color: ColorRGBA
) -> Marker:
    return new_marker(header, ns, index, kind, lifetime, size_px * MARKER_PIXEL_SIZE, color)


def new_marker(
    header: Any, ns: str, index: int, kind: int, lifetime: Duration, size: float, color: ColorRGBA
) -> Marker:
    """An ADD marker, identity orientation, uniform scale (RViz units): shared by 2D and 3D markers."""
    marker = Marker()
    marker.header = header
    marker.ns = ns
    marker.id = index
    marker.type = kind
    marker.action = Marker.ADD
    marker.pose.orientation.w = 1.0
    marker.scale.x = marker.scale.y = marker.scale.z = size
    marker.color = color
    marker.lifetime = lifetime
    return marker
