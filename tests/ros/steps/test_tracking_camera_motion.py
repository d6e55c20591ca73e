"""The node's tracking step with `tracking_camera_motion`: ids survive a fast pan of the camera.

Real pieces throughout (rclpy's logger, std_msgs/Header, PoseTracker, the OpenCV estimator); the
frames are a textured background the camera pans across, with two persons standing still in
the world: in the image they shift with the background, 60 px per frame during the pan.
"""

from __future__ import annotations

import cv2
import numpy as np
import rclpy.logging

from centerpose_core.tracking import PoseTracker
from centerpose_ros.params import NodeParameters
from centerpose_ros.steps.tracking import TrackingStep
from tests.ros.steps.tracking_step_frames import frame_at, standing_person


def _ids_through_a_pan(camera_motion: bool) -> list[list[int]]:
    noise = np.random.default_rng(3).integers(0, 256, (60, 160), dtype=np.uint8)
    world = cv2.GaussianBlur(cv2.resize(noise, (1280, 480), interpolation=cv2.INTER_NEAREST), (3, 3), 0)
    params = NodeParameters.defaults().updated({"tracking_camera_motion": camera_motion})
    step = TrackingStep(rclpy.logging.get_logger("test_tracking_camera_motion"), print, PoseTracker())
    camera, out = 0, []
    for k in range(12):
        camera += 60 if 5 <= k < 8 else 0  # the camera turns: the scene moves 60 px left per frame
        image = cv2.cvtColor(np.ascontiguousarray(world[:, camera : camera + 640]), cv2.COLOR_GRAY2BGR)
        persons = [standing_person(300.0 - camera), standing_person(390.0 - camera + 180)]
        frame = frame_at(100.0 + 0.04 * k, image, persons, params)
        step.process(frame)
        out.append([p.id for p in frame.persons])
    return out


def test_ids_survive_a_fast_pan_with_camera_motion_on_and_not_without():
    with_motion = _ids_through_a_pan(camera_motion=True)
    assert all(ids == with_motion[1] for ids in with_motion[1:]) and min(with_motion[1]) >= 1
    without = _ids_through_a_pan(camera_motion=False)
    assert any(ids != without[1] for ids in without[1:])
