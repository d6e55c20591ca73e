"""The node's tracking step: persons get track ids before anything is published.

Runs on every processed frame after score_threshold and max_persons (the Predictor applied them),
with the image header's stamp as the tracker's time, so dropped frames age tracks by the time that
passed rather than by a frame count. Parameters (`tracking`, `tracking_*`) are read per frame: a
changed threshold applies from the next frame; switching tracking off and on starts afresh.

The tracker is reset (ids are never reused, so persons get new ids afterwards) when:
- the stamp goes backwards (a looping bag, a camera restart): a one-line info, no warning;
- the input stops (`stop_input`: lifecycle deactivate / cleanup, shutdown): the stream that
  resumes after a pause is a new one, and a track must not be continued across the gap.

Images without a stamp (0) are timed by their arrival instead, so tracks still age.

With `tracking_camera_motion`, each frame's camera motion is estimated from the image (the
background outside the person boxes) and every track is moved by it before matching; the
estimator forgets its previous frame whenever the tracker is reset or the switch goes off.

With `tracking_imu_topic`, the camera's turn between the previous and this frame's stamps comes
from the gyro instead (steps/imu_motion.py); a frame pair the IMU samples do not cover (they
stopped, a gap, unstamped images) falls back to the image estimate if `tracking_camera_motion` is
on, else to none, with a throttled warning. While the gyro serves, the image estimator is not
run (it restarts from the next frame it is needed for: that one frame gets no compensation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from centerpose_core.tracking import PoseTracker, TrackState
from centerpose_core.tracking.camera_motion import CameraMotionEstimator
from centerpose_ros.steps.frame_step import FrameStep, ProcessedFrame
from centerpose_ros.steps.imu_motion import ImuCameraMotion


class TrackingStep(FrameStep):
    name = "tracking"

    def __init__(
        self,
        logger: Any,
        warn: Callable[[str], None],
        tracker: PoseTracker,
        imu: ImuCameraMotion | None = None,
    ) -> None:
        """tracker: the node's one PoseTracker (its id counter never restarts, so a lifecycle node
        keeps it across cleanup / configure and no id is ever given to two persons).
        imu: the gyro source of `tracking_imu_topic` (None: not configured)."""
        self._log, self._warn = logger, warn
        self._tracker = tracker
        self._last_stamp: float | None = None
        self._warned_unstamped = False
        self._confirmed = 0  # live confirmed tracks after the last frame (for /diagnostics)
        self._resets = 0
        self._camera_motion = CameraMotionEstimator()
        self._imu = imu
        self._stamped = False  # this frame's stamp is the image header's (not its arrival)
        self._imu_frames = [0, 0]  # frames compensated by the gyro, frames it did not cover

    def process(self, frame: ProcessedFrame) -> None:
        params = frame.params
        if not params.tracking:
            self._forget()
            return  # persons keep id -1
        if self._tracker.config != params.tracker_config:
            self._tracker.config = params.tracker_config  # run-time parameter change: next frame on
        stamp = self._stamp_seconds(frame)
        if self._last_stamp is not None and stamp < self._last_stamp:
            self._tracker.reset()
            self._camera_motion.reset()
            self._resets += 1
            self._log.info(
                f"image stamp went back {self._last_stamp - stamp:.3f} s (a looping bag or a restarted "
                "camera?): tracks reset, persons get new ids"
            )
        previous, self._last_stamp = self._last_stamp, stamp
        warp = self._gyro_warp(frame, previous, stamp)
        if warp is not None:
            self._camera_motion.reset()
        elif params.tracking_camera_motion:
            warp = self._estimate_camera_motion(frame)
        else:
            self._camera_motion.reset()
        try:
            frame.persons = self._tracker.update(frame.persons, stamp, warp)
        except ValueError as exc:  # a person with non-finite values: publish it untracked
            self._warn(f"tracking skipped a frame: {exc}")
            return
        self._confirmed = sum(track.state is not TrackState.TENTATIVE for track in self._tracker.tracks)

    def start_input(self) -> None:
        if self._imu is not None:
            self._imu.start()

    def stop_input(self) -> None:
        if self._imu is not None:
            self._imu.stop()
        self._forget()

    def diagnostics(self) -> dict[str, str]:
        values = {"tracks_confirmed": str(self._confirmed), "tracking_resets": str(self._resets)}
        if self._imu is not None:
            values["tracking_imu_frames"] = str(self._imu_frames[0])
            values["tracking_imu_uncovered"] = str(self._imu_frames[1])
        return values

    def _gyro_warp(self, frame: ProcessedFrame, previous: float | None, stamp: float) -> np.ndarray | None:
        """The gyro's warp since the previous frame; None without a gyro, a previous frame or samples."""
        if self._imu is None or previous is None:
            return None
        height, width = frame.image.shape[:2]
        warp = self._imu.warp(previous, stamp, width, height) if self._stamped else None
        self._imu_frames[warp is None] += 1
        if warp is None:
            fallback = "image-based motion" if frame.params.tracking_camera_motion else "none"
            self._warn(  # one text: warn_throttled repeats it at most every few seconds
                f"IMU samples on '{frame.params.tracking_imu_topic}' do not cover the time since the "
                f"previous frame (stopped, a gap over 0.1 s, other clock, or unstamped images): "
                f"camera motion from {fallback}"
            )
        return warp

    def _forget(self) -> None:
        self._tracker.reset()
        self._camera_motion.reset()
        self._last_stamp, self._confirmed = None, 0

    def _estimate_camera_motion(self, frame: ProcessedFrame) -> np.ndarray | None:
        """The warp from the previous frame's pixels to this one's; None (a still camera) on failure."""
        boxes = np.array([p.bbox for p in frame.persons], dtype=np.float64).reshape(-1, 4)
        try:
            return self._camera_motion.estimate(frame.image, boxes[np.isfinite(boxes).all(axis=1)])
        except (ValueError, cv2.error) as exc:
            self._camera_motion.reset()
            self._warn(f"camera motion not estimated for this frame: {exc}")
            return None

    def _stamp_seconds(self, frame: ProcessedFrame) -> float:
        stamp = frame.header.stamp
        self._stamped = not (stamp.sec == 0 and stamp.nanosec == 0)
        if not self._stamped:
            if not self._warned_unstamped:
                self._warned_unstamped = True
                self._log.warning("images arrive without a stamp: tracking times them by their arrival")
            return frame.received
        return int(stamp.sec) + int(stamp.nanosec) * 1e-9
