"""Camera rotation between two image stamps from a gyro (`tracking_imu_topic`, sensor_msgs/Imu).

A robot that turns its head or base makes every person shift in the image at once. A gyro fixed
to the camera measures that turn directly, whatever the image shows (a bare wall, a crowd that
hides the background): integrating its angular velocity from the previous image's stamp to this
one's gives the camera's rotation R, and a camera that only rotates maps pixels by K R^T K^-1
(`rotation_homography`). The tracker moves every track by that warp before matching.

Conventions (REP 103 / REP 105):
- The Imu message's `angular_velocity` is in the IMU's own axes (its `frame_id`, not looked up:
  tf2 is not a dependency). `tracking_imu_to_camera` says how those axes sit relative to the
  camera's optical frame (x right, y down, z forward): `rep103` (default) for an IMU whose axes are
  a REP-103 body frame (x forward, y left, z up) looking the same way as the camera, as a robot
  base or a `camera_link` frame is; `optical` when the IMU already reports in the camera's optical
  axes (e.g. a RealSense `*_imu_optical_frame`, which is aligned with the colour optical frame); or
  four numbers `x y z w`: the quaternion of the camera optical frame in the IMU frame, as
  `ros2 run tf2_ros tf2_echo <imu_frame> <camera_optical_frame>` prints it.
- Stamps: IMU and image stamps must come from the same clock (the driver's).
- Intrinsics: K of the `camera_info` topic next to `image` (subscribed only with an IMU topic);
  until one arrives (or if its size differs from the image's), fx = fy = image width and the
  principal point at the image centre (a 53 degree horizontal field of view: a shift that is a
  few tens of percent off is still far better than none).

Samples are kept for `BUFFER_S`, in stamp order (late ones are inserted in place). A frame pair
whose interval is not covered (a gap between samples, or the last sample more than
`MAX_GAP_S` before the image stamp, e.g. the IMU stopped) gets no rotation (`None`): the tracking
step then falls back to image-based motion (with `tracking_camera_motion`) or to none.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Imu

from centerpose_core.tracking.camera_motion import rotation_homography
from centerpose_core.tracking.gyro import AngularVelocityBuffer, imu_to_camera_rotation

CAMERA_INFO_TOPIC = "camera_info"


def fallback_camera_matrix(width: int, height: int) -> np.ndarray:
    """K with fx = fy = image width and the principal point at the centre (no camera_info)."""
    return np.array([[width, 0.0, width / 2.0], [0.0, width, height / 2.0], [0.0, 0.0, 1.0]])


class ImuCameraMotion:
    """The node's gyro source: subscribes to the Imu topic and `camera_info`, gives pixel warps.

    node: the rclpy node; topic: `tracking_imu_topic`; imu_to_camera: `tracking_imu_to_camera`'s text.
    """

    def __init__(self, node: Any, topic: str, imu_to_camera: str) -> None:
        self._node, self._topic = node, topic
        self.buffer = AngularVelocityBuffer(imu_to_camera_rotation(imu_to_camera))
        self._lock = threading.Lock()
        self._camera_matrix: np.ndarray | None = None
        self._info_size: tuple[int, int] = (0, 0)
        self._subscriptions: list[Any] = []
        self.samples = 0  # received (for /diagnostics)

    def start(self) -> None:
        if self._subscriptions:
            return
        self._subscriptions = [
            self._node.create_subscription(Imu, self._topic, self._on_imu, qos_profile_sensor_data),
            self._node.create_subscription(
                CameraInfo, CAMERA_INFO_TOPIC, self._on_camera_info, qos_profile_sensor_data
            ),
        ]

    def stop(self) -> None:
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions = []
        self.buffer.clear()

    def warp(self, start_s: float, end_s: float, width: int, height: int) -> np.ndarray | None:
        """(3, 3) pixel warp from the frame at `start_s` to the one at `end_s`; None if not covered."""
        rotation = self.buffer.rotation(start_s, end_s)
        if rotation is None:
            return None
        with self._lock:
            known = self._camera_matrix is not None and self._info_size == (width, height)
            camera_matrix = self._camera_matrix if known else fallback_camera_matrix(width, height)
        return rotation_homography(camera_matrix, rotation)

    def _on_imu(self, msg: Any) -> None:
        stamp = int(msg.header.stamp.sec) + int(msg.header.stamp.nanosec) * 1e-9
        w = msg.angular_velocity
        self.samples += self.buffer.add(stamp, (w.x, w.y, w.z))

    def _on_camera_info(self, msg: Any) -> None:
        k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
        usable = np.isfinite(k).all() and k[0, 0] > 0 and k[1, 1] > 0 and k[2, 2] == 1.0
        with self._lock:
            self._camera_matrix = k if usable else None
            self._info_size = (int(msg.width), int(msg.height))
