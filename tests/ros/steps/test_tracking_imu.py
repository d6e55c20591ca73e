"""The node's gyro source (`tracking_imu_topic`) over real DDS: ids hold through fast pans.

Another process (peer.py imu) publishes sensor_msgs/Imu at 200 Hz, as a REP-103 IMU (z up) on a
camera that turns left three times as fast as a head turn (1.2 rad/s: about 60 px per 10 Hz
frame); this process subscribes with the node's `ImuCameraMotion` (real rclpy, sensor-data QoS)
and publishes the camera_info whose K the scene is projected with. The persons stand still in
the world; their pixels follow the camera's yaw, computed here by a trapezoid sum of the plan.
Without any compensation the same frames switch ids (the test's own control).
"""

from __future__ import annotations

import math
import pickle
import time

import numpy as np
import pytest

from tests.ros.ros_helpers import PEER, PYTHON, RosSession, require_ros

require_ros()

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from centerpose_core.tracking import PoseTracker  # noqa: E402
from centerpose_ros.params import NodeParameters  # noqa: E402
from centerpose_ros.steps.imu_motion import ImuCameraMotion  # noqa: E402
from centerpose_ros.steps.tracking import TrackingStep  # noqa: E402
from tests.ros.steps.tracking_step_frames import frame_at, standing_person  # noqa: E402

F, CX, CY, WIDTH, HEIGHT = 500.0, 320.0, 240.0, 640, 480
T0 = 1000.0
FRAMES = [T0 + 0.1 * k for k in range(12)]
IMU_STAMPS = [T0 - 0.05 + 0.005 * k for k in range(250)]  # 999.95 .. 1001.195 s
AZIMUTHS = (0.3, -0.05)  # rad, left positive: where the two persons stand


def _yaw_rate(t: float) -> float:
    return 1.2 if T0 + 0.45 <= t < T0 + 0.75 else 0.0


def _yaw(t: float) -> float:
    """Camera yaw at t: trapezoid sum over the IMU samples (their rate changes linearly between)."""
    times = [s for s in IMU_STAMPS if s <= t] + [t]
    rates = [_yaw_rate(s) for s in IMU_STAMPS if s <= t]
    rates.append(np.interp(t, IMU_STAMPS, [_yaw_rate(s) for s in IMU_STAMPS]))
    start = times.index(next(s for s in times if s >= T0 - 0.05))
    return float(np.trapezoid(rates[start:], times[start:]))


def _ids(step: TrackingStep, stamps: list[float]) -> list[list[int]]:
    # without image-based motion: the gyro is the only compensation (and its fallback is none)
    params = NodeParameters.defaults().updated({"tracking_imu_topic": "imu", "tracking_camera_motion": False})
    out = []
    for stamp in stamps:
        yaw = _yaw(stamp)
        persons = [standing_person(CX - F * math.tan(a - yaw)) for a in AZIMUTHS]
        frame = frame_at(stamp, np.zeros((HEIGHT, WIDTH, 3), np.uint8), persons, params)
        step.process(frame)
        out.append([p.id for p in frame.persons])
    return out


@pytest.fixture
def imu_source(tmp_path, monkeypatch):
    session = RosSession(tmp_path)
    for key in ("FASTDDS_DEFAULT_PROFILES_FILE", "ROS_AUTOMATIC_DISCOVERY_RANGE", "RMW_IMPLEMENTATION"):
        monkeypatch.setenv(key, session.env[key])
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=session.domain_id)
    node = rclpy.create_node("imu_test", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    source = ImuCameraMotion(node, "imu", "rep103")
    source.start()
    info = CameraInfo(width=WIDTH, height=HEIGHT)
    info.k = [F, 0.0, CX, 0.0, F, CY, 0.0, 0.0, 1.0]
    info_pub = node.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
    plan = [(t, 0.0, 0.0, _yaw_rate(t)) for t in IMU_STAMPS]
    plan_path = tmp_path / "imu_plan.pkl"
    plan_path.write_bytes(pickle.dumps(plan))
    peer = session._start("imu", [PYTHON, str(PEER), "imu", str(plan_path), "--rate", "200"])
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and (source.samples < len(plan) or source._camera_matrix is None):
            info_pub.publish(info)
            executor.spin_once(timeout_sec=0.02)
            if peer.popen.poll() is not None and source.samples < len(plan):
                executor.spin_once(timeout_sec=0.5)
                break
        assert peer.wait(10) == 0, peer.log()
        # best effort on loopback: a lost sample or two is fine (gaps up to 0.1 s are integrated)
        assert source.samples >= 0.95 * len(plan), f"{source.samples} of {len(plan)} IMU samples arrived"
        np.testing.assert_allclose(source._camera_matrix[0], [F, 0.0, CX])
        yield source
    finally:
        source.stop()
        session.close()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_ids_hold_through_fast_pans_with_the_imu_and_switch_without(imu_source: ImuCameraMotion) -> None:
    shift = F * (math.tan(AZIMUTHS[1]) - math.tan(AZIMUTHS[1] - 0.12))
    assert shift > 55.0, "fixture: the pan moves persons about a box width per frame"
    warnings: list[str] = []
    logger = rclpy.logging.get_logger("test_tracking_imu")
    step = TrackingStep(logger, warnings.append, PoseTracker(), imu=imu_source)
    with_imu = _ids(step, FRAMES)
    assert all(ids == with_imu[1] for ids in with_imu[1:]) and min(with_imu[1]) >= 1, with_imu
    assert warnings == [] and step.diagnostics()["tracking_imu_frames"] == str(len(FRAMES) - 1)
    # The IMU stopped at 1001.195 s: a frame at 1001.5 s is not covered; tracking goes on without it.
    after = _ids(step, [T0 + 1.5])
    assert after == [with_imu[-1]] and step.diagnostics()["tracking_imu_uncovered"] == "1"
    assert len(warnings) == 1 and "do not cover" in warnings[0] and "from none" in warnings[0]

    without = _ids(TrackingStep(logger, warnings.append, PoseTracker()), FRAMES)
    assert any(ids != without[1] for ids in without[1:]), f"the control must switch ids: {without}"
