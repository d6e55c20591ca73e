"""Person3D results (centerpose_core.geometry) -> PersonPose3DArray and 3D RViz markers.

Everything is in metres in the depth camera's optical frame (x right, y down, z forward): the
header's frame_id must be the depth image's. Invalid keypoints keep NaN coordinates and score 0 in
the message (a subscriber can test either), and are left out of the markers, which RViz cannot
draw with NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from centerpose_msgs.msg import Keypoint3D, PersonPose3D, PersonPose3DArray
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from centerpose_core.constants import NUM_KEYPOINTS, SKELETON
from centerpose_core.geometry import Person3D
from centerpose_ros.conversions.messages import header_to_dict, id_rgba, new_marker

MARKER_LIFETIME_S = 0.5  # old skeletons vanish when no newer frame replaces them
JOINT_NS, SKELETON_NS, POSITION_NS = "centerpose3d/joints", "centerpose3d/skeleton", "centerpose3d/position"
# namespace -> (marker type, size in metres: sphere diameter or line width, colour)
_STYLES: dict[str, tuple[int, float, ColorRGBA]] = {
    JOINT_NS: (Marker.SPHERE_LIST, 0.05, ColorRGBA(r=1.0, g=0.55, b=0.0, a=1.0)),
    SKELETON_NS: (Marker.LINE_LIST, 0.02, ColorRGBA(r=0.0, g=0.8, b=1.0, a=1.0)),
    POSITION_NS: (Marker.SPHERE, 0.15, ColorRGBA(r=0.2, g=1.0, b=0.2, a=0.8)),
}


def persons3d_to_msg(persons: Sequence[Person3D], header: Any) -> PersonPose3DArray:
    """One PersonPose3DArray with `header` (colour stamp, depth optical frame), persons in order."""
    out = PersonPose3DArray()
    out.header = header
    out.persons = [_person_to_msg(person) for person in persons]
    return out


def _person_to_msg(person: Person3D) -> PersonPose3D:
    keypoints = np.asarray(person.keypoints, dtype=np.float32)
    if keypoints.shape != (NUM_KEYPOINTS, 4):
        raise ValueError(f"Person3D keypoints must have shape ({NUM_KEYPOINTS}, 4), got {keypoints.shape}")
    msg = PersonPose3D()
    msg.id = int(person.id)
    msg.score = float(person.score)
    x, y, z = (float(v) for v in person.position)
    msg.position = Point(x=x, y=y, z=z)
    msg.keypoints = [Keypoint3D(x=x, y=y, z=z, score=s) for x, y, z, s in keypoints.tolist()]
    return msg


def msg3d_to_dict(msg: PersonPose3DArray) -> dict[str, Any]:
    """A PersonPose3DArray as plain data (recorder, tests); NaN stays NaN (JSON writes NaN)."""
    return {
        **header_to_dict(msg.header),
        "persons": [
            {
                "id": int(p.id),
                "score": float(p.score),
                "position": [float(p.position.x), float(p.position.y), float(p.position.z)],
                "keypoints": [[float(k.x), float(k.y), float(k.z), float(k.score)] for k in p.keypoints],
            }
            for p in msg.persons
        ],
    }


def persons3d_to_markers(
    persons: Sequence[Person3D],
    header: Any,
    lifetime_s: float = MARKER_LIFETIME_S,
    clear_first: bool = True,
    colour_by_id: bool = False,
) -> MarkerArray:
    """Per person: joints (SPHERE_LIST), skeleton (LINE_LIST, bones whose two ends are valid) and
    the position (SPHERE, when known), in metres in the header's frame (the depth optical frame).

    Marker ids are the person's index, per namespace. With `clear_first` the array starts with a
    DELETEALL so persons who left vanish at once; pass False when these markers share a topic with
    other markers that must survive (DELETEALL clears every namespace on the topic).
    `colour_by_id` draws each person in its track id's colour (as the 2D outputs; grey without an id).
    """
    markers = []
    if clear_first:
        clear = Marker()
        clear.header = header
        clear.action = Marker.DELETEALL
        markers.append(clear)
    lifetime = Duration(sec=int(lifetime_s), nanosec=int(round((lifetime_s % 1.0) * 1e9)))
    for index, person in enumerate(persons):
        keypoints = np.asarray(person.keypoints, dtype=np.float64)
        valid = (keypoints[:, 3] > 0) & np.all(np.isfinite(keypoints[:, :3]), axis=1)
        xyz = keypoints[:, :3].tolist()
        points = {j: Point(x=xyz[j][0], y=xyz[j][1], z=xyz[j][2]) for j in np.flatnonzero(valid).tolist()}
        colour = id_rgba(person.id) if colour_by_id else None
        joints = _marker(header, JOINT_NS, index, lifetime, colour)
        joints.points = list(points.values())
        bones = _marker(header, SKELETON_NS, index, lifetime, colour)
        bones.points = [points[j] for a, b in SKELETON if valid[a] and valid[b] for j in (a, b)]
        markers.extend([joints, bones])
        position = [float(v) for v in person.position]
        if all(math.isfinite(v) for v in position):
            sphere = _marker(header, POSITION_NS, index, lifetime, colour)
            sphere.pose.position = Point(x=position[0], y=position[1], z=position[2])
            markers.append(sphere)
    out = MarkerArray()
    out.markers = markers
    return out


def _marker(header: Any, ns: str, index: int, lifetime: Duration, colour: ColorRGBA | None = None) -> Marker:
    kind, size_m, color = _STYLES[ns]
    if colour is not None:
        color = ColorRGBA(r=colour.r, g=colour.g, b=colour.b, a=color.a)
    return new_marker(header, ns, index, kind, lifetime, size_m, color)
