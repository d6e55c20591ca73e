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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from centerpose_core.tracking import PoseTracker, TrackState
from centerpose_ros.steps.frame_step import FrameStep, ProcessedFrame


class TrackingStep(FrameStep):
    name = "tracking"

    def __init__(self, logger: Any, warn: Callable[[str], None], tracker: PoseTracker) -> None:
        """tracker: the node's one PoseTracker (its id counter never restarts, so a lifecycle node
        keeps it across cleanup / configure and no id is ever given to two persons)."""
        self._log, self._warn = logger, warn
        self._tracker = tracker
        self._last_stamp: float | None = None
        self._warned_unstamped = False
        self._confirmed = 0  # live confirmed tracks after the last frame (for /diagnostics)
        self._resets = 0

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
            self._resets += 1
            self._log.info(
                f"image stamp went back {self._last_stamp - stamp:.3f} s (a looping bag or a restarted "
                "camera?): tracks reset, persons get new ids"
            )
        self._last_stamp = stamp
        try:
            frame.persons = self._tracker.update(frame.persons, stamp)
        except ValueError as exc:  # a person with non-finite values: publish it untracked
            self._warn(f"tracking skipped a frame: {exc}")
            return
        self._confirmed = sum(track.state is not TrackState.TENTATIVE for track in self._tracker.tracks)

    def stop_input(self) -> None:
        self._forget()

    def diagnostics(self) -> dict[str, str]:
        return {"tracks_confirmed": str(self._confirmed), "tracking_resets": str(self._resets)}

    def _forget(self) -> None:
        self._tracker.reset()
        self._last_stamp, self._confirmed = None, 0

    def _stamp_seconds(self, frame: ProcessedFrame) -> float:
        stamp = frame.header.stamp
        if stamp.sec == 0 and stamp.nanosec == 0:
            if not self._warned_unstamped:
                self._warned_unstamped = True
                self._log.warning("images arrive without a stamp: tracking times them by their arrival")
            return frame.received
        return int(stamp.sec) + int(stamp.nanosec) * 1e-9
