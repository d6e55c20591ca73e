"""The node's 3D step (`use_depth`): persons + the paired aligned depth image -> /pose/detections_3d.

Inputs: `depth/image` (sensor_msgs/Image 16UC1 mm or 32FC1 m, aligned to the colour image; QoS
reliability as `image_reliability`, keep-last 5) and `depth/camera_info` (best effort, which
matches reliable and best-effort publishers alike). Each processed colour frame is paired with the
depth frame of nearest stamp within `depth_sync_tolerance` (steps/depth_sync.py); the depth history is a
message_filters.Cache where message_filters is importable (a ROS install), else a small buffer of
the same behaviour (`depth_sync`: auto | message_filters | builtin).

Outputs (metres, the depth image's optical frame; header: the colour image's stamp, the depth
image's frame_id; the same persons, order and ids as /pose/detections):
/pose/detections_3d (PersonPose3DArray, reliable keep-last 10) and /pose/markers_3d (RViz).

A frame without a usable pair keeps its 2D output and gets no 3D message; why is counted in
/diagnostics: `depth_unpaired` (no depth frame within the tolerance), `depth_no_camera_info` (none
received yet, or the last one unusable, e.g. K all zero), `depth_rejected` (the depth image cannot
be used: encoding, size, data shorter than height*step, size unlike its camera_info), with a
throttled warning naming the problem. Runs on the worker thread after the 2D outputs, so it never
delays them.

The depth image is read with camera_info's P when `depth_rectified` (as image_geometry does), else
with K. Inputs that work but are doubtful are warned about once: a non-zero D on an image read as
rectified, and a depth image whose aspect ratio differs from the colour image's (not registered).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from centerpose_msgs.msg import PersonPose3DArray
from rclpy.clock import ClockType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from centerpose_core.geometry import PinholeIntrinsics, lift_persons
from centerpose_ros import qos
from centerpose_ros.conversions.depth import (
    DepthConversionError,
    depth_image_from_msg,
    has_distortion,
    intrinsics_from_camera_info,
)
from centerpose_ros.conversions.messages_3d import persons3d_to_markers, persons3d_to_msg
from centerpose_ros.params import MAX_SYNC_TOLERANCE_S, NodeParameters, ParameterError
from centerpose_ros.steps.depth_sync import NS_PER_S, Candidate, DepthPairing, NearestStampBuffer, stamp_to_ns
from centerpose_ros.steps.frame_step import FrameStep, ProcessedFrame, StepHost

DEPTH_TOPIC, CAMERA_INFO_TOPIC = "depth/image", "depth/camera_info"
DETECTIONS_3D_TOPIC, MARKERS_3D_TOPIC = "/pose/detections_3d", "/pose/markers_3d"
DEPTH_HISTORY = 10  # depth frames kept for colour frames that arrive after their depth frame
MAX_PAIR_WAIT_S = 0.1  # longest wait for a depth frame still in transit (bounded by the tolerance)
ASPECT_TOLERANCE = 0.01  # relative difference of colour and depth width/height taken as equal
CAMERA_INFO_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)


def depth_qos(reliability: str) -> QoSProfile:
    profile = qos.image_qos(reliability)
    profile.depth = 5
    return profile


def load_message_filters(choice: str, warn: Callable[[str], None] | None = None) -> Any | None:
    """The message_filters module for `depth_sync` (None: use the builtin buffer).

    auto: message_filters when importable (not installed: the builtin buffer, silently; any other
    import failure: the builtin buffer with one `warn`); message_filters: required (ParameterError
    when it cannot be imported).
    """
    if choice == "builtin":
        return None
    try:
        import message_filters
    except Exception as exc:  # not installed, or a broken install: never a node that cannot start
        if choice == "message_filters":
            raise ParameterError(
                f"parameter 'depth_sync' is message_filters but it cannot be imported ({exc}); "
                "install ros-<distro>-message-filters or use depth_sync auto or builtin"
            ) from None
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == "message_filters"
        if not missing and warn is not None:
            warn(f"{_FALLBACK}: message_filters cannot be imported ({type(exc).__name__}: {exc})")
        return None
    return message_filters


_FALLBACK = "depth_sync auto: pairing depth frames with the builtin nearest-stamp buffer"


class _BufferHistory:
    """Depth history without message_filters: a NearestStampBuffer."""

    description = "builtin nearest-stamp buffer"

    def __init__(self, on_depth: Callable[[Any], None]) -> None:
        self._buffer = NearestStampBuffer(DEPTH_HISTORY)
        self._on_depth = on_depth

    def add(self, msg: Any) -> None:
        self._buffer.add(stamp_to_ns(msg.header.stamp), msg)
        self._on_depth(msg)

    def nearest(self, stamp_ns: int) -> Candidate | None:
        return self._buffer.nearest(stamp_ns)


class _CacheHistory:
    """Depth history in a message_filters.Cache, fed through a SimpleFilter by the step's own
    subscription. message_filters.Subscriber is not used: its signature changed between releases
    (the keyword pass-through to create_subscription, which the QoS event callbacks need, was
    removed in late 2025 and restored in Feb 2026), while SimpleFilter and Cache kept theirs."""

    description = "message_filters.Cache"

    def __init__(self, message_filters: Any, on_depth: Callable[[Any], None]) -> None:
        self._input = message_filters.SimpleFilter()
        self._cache = message_filters.Cache(self._input, DEPTH_HISTORY)
        self._cache.registerCallback(on_depth)
        self.nearest(0)  # this release's query works (else the caller falls back now, not per frame)

    def add(self, msg: Any) -> None:
        self._input.signalMessage(msg)

    def nearest(self, stamp_ns: int) -> Candidate | None:
        # The Cache keeps stamps as rclpy Times of the ROS clock (Time.from_msg); Times of different
        # clocks do not compare, so the query uses the same clock.
        window = int(MAX_SYNC_TOLERANCE_S * NS_PER_S)
        low = Time(nanoseconds=max(stamp_ns - window, 0), clock_type=ClockType.ROS_TIME)
        high = Time(nanoseconds=stamp_ns + window, clock_type=ClockType.ROS_TIME)
        candidates = [
            Candidate(abs(stamp_to_ns(msg.header.stamp) - stamp_ns), msg)
            for msg in self._cache.getInterval(low, high)
        ]
        return min(candidates, key=lambda c: c.distance_ns, default=None)


class DepthStep(FrameStep):
    """3D output for each processed frame that has a depth frame and camera_info (module docstring)."""

    name = "depth"

    def __init__(self, pipeline: StepHost, params: NodeParameters, message_filters: Any | None) -> None:
        """message_filters: the module (from `load_message_filters`), or None for the builtin buffer."""
        self._pipeline = pipeline
        self._message_filters = message_filters
        self._depth_sync = params.depth_sync
        self._depth_profile = depth_qos(params.image_reliability)
        self._rectified = params.depth_rectified
        self._warned: set[str] = set()  # the once-only warnings already given
        self._pairing = DepthPairing(self._nearest_in_history)
        self._subscription: Any = None
        self._info_subscription: Any = None
        self._lock = threading.Lock()
        self._intrinsics: PinholeIntrinsics | None = None
        # why the last camera_info is unusable: never empty then (DepthConversionError's message),
        # "" when it is usable or none was received yet
        self._info_error = ""
        self._counts = dict.fromkeys(
            ("depth_paired", "depth_unpaired", "depth_no_camera_info", "depth_rejected"), 0
        )
        self._camera_info_rejected = 0
        self._problem = ""
        self._publisher = pipeline.create_output(PersonPose3DArray, DETECTIONS_3D_TOPIC, qos.DETECTIONS_QOS)
        self._markers = pipeline.create_output(MarkerArray, MARKERS_3D_TOPIC, qos.MARKERS_QOS)
        self._history = self._new_history()  # a message_filters setup that fails falls back now

    def wanted(self, params: Any) -> bool:
        """Whether this frame's persons should carry masks (a mask model): they give the 3D
        positions (median depth over each mask), so while /pose/detections_3d or /pose/markers_3d
        has a subscriber."""
        return self._publisher.get_subscription_count() > 0 or (
            bool(params.publish_markers) and self._markers.get_subscription_count() > 0
        )

    @property
    def description(self) -> str:
        """How depth frames are paired, for the node's ready line."""
        return f"depth pairing by {self._history.description} (nearest stamp)"

    def _new_history(self) -> _BufferHistory | _CacheHistory:
        """An empty depth history: message_filters' Cache when chosen and usable. Under `depth_sync:
        auto` any failure of it gives the builtin buffer and one warning; under `message_filters`
        a ParameterError naming the failure."""
        if self._message_filters is not None:
            try:
                return _CacheHistory(self._message_filters, self._on_depth)
            except Exception as exc:
                if self._depth_sync == "message_filters":
                    raise ParameterError(
                        f"parameter 'depth_sync' is message_filters but its Cache cannot be used "
                        f"({type(exc).__name__}: {exc}); use depth_sync auto or builtin"
                    ) from None
                self._fall_back(exc)
        return _BufferHistory(self._on_depth)

    def _fall_back(self, exc: Exception) -> None:
        """Leave message_filters for the rest of the node's life (one warning)."""
        self._message_filters = None
        reason = f"{type(exc).__name__}: {exc}"
        self._warn_once("message_filters", f"{_FALLBACK}: message_filters failed ({reason})")

    # --- input ---------------------------------------------------------------------------------
    def start_input(self) -> None:
        if self._subscription is not None:
            return
        self._history = self._new_history()  # frames from before a deactivate are forgotten
        node = self._pipeline.node
        profile = self._depth_profile
        self._subscription = self._pipeline.watched_subscription(
            lambda callbacks: node.create_subscription(
                Image, DEPTH_TOPIC, self._on_depth_message, profile, event_callbacks=callbacks
            ),
            profile,
        )
        self._info_subscription = node.create_subscription(
            CameraInfo, CAMERA_INFO_TOPIC, self._on_camera_info, CAMERA_INFO_QOS
        )

    def stop_input(self) -> None:
        node = self._pipeline.node
        if self._subscription is not None:
            node.destroy_subscription(self._subscription)
            node.destroy_subscription(self._info_subscription)
            self._subscription = self._info_subscription = None
        self._pairing.clear()
        with self._lock:
            self._intrinsics, self._info_error = None, ""

    @property
    def input_topics(self) -> list[str]:
        """The resolved depth image and camera_info topics (relative names while not subscribed)."""
        if self._subscription is None:
            return [DEPTH_TOPIC, CAMERA_INFO_TOPIC]
        return [self._subscription.topic_name, self._info_subscription.topic_name]

    def frame_received(self, msg: Any) -> None:
        self._pairing.colour_arrived(stamp_to_ns(msg.header.stamp))

    def frame_dropped(self, msg: Any) -> None:
        self._pairing.colour_dropped(stamp_to_ns(msg.header.stamp))

    def _on_depth_message(self, msg: Any) -> None:
        history = self._history
        try:
            history.add(msg)
        except Exception as exc:
            if isinstance(history, _BufferHistory):
                raise
            self._fall_back(exc)  # message_filters failing at run time: builtin from now on
            self._history = _BufferHistory(self._on_depth)
            self._history.add(msg)

    def _nearest_in_history(self, stamp_ns: int) -> Candidate | None:
        if self._subscription is None:
            return None
        history = self._history
        try:
            return history.nearest(stamp_ns)
        except Exception as exc:
            if isinstance(history, _BufferHistory):
                raise
            self._fall_back(exc)
            self._history = _BufferHistory(self._on_depth)
            return None

    def _on_depth(self, msg: Any) -> None:
        self._pairing.depth_arrived(stamp_to_ns(msg.header.stamp), msg)

    def _on_camera_info(self, msg: Any) -> None:
        try:
            intrinsics, error = intrinsics_from_camera_info(msg, self._rectified), ""
        except DepthConversionError as exc:
            intrinsics, error = None, str(exc)
        if intrinsics is not None and self._rectified and has_distortion(msg):
            self._warn_once(
                "distortion",
                f"depth camera_info on '{self.input_topics[1]}' has non-zero distortion D "
                f"{[round(float(d), 6) for d in msg.d]}, but depth_rectified is true: the image is read with "
                "P as if rectified; use a rectified (or aligned_depth_to_color) depth topic, or set "
                "depth_rectified false to read it with K",
            )
        with self._lock:
            self._camera_info_rejected += bool(error)
            self._intrinsics, self._info_error = intrinsics, error

    # --- per frame (worker thread) ---------------------------------------------------------------
    def process(self, frame: ProcessedFrame) -> None:
        params = frame.params
        tolerance_ns = int(round(params.depth_sync_tolerance * NS_PER_S))
        wait_s = min(params.depth_sync_tolerance, MAX_PAIR_WAIT_S)
        depth_msg = self._pairing.take(stamp_to_ns(frame.header.stamp), tolerance_ns, wait_s)
        if depth_msg is None:
            self._skip(
                "depth_unpaired",
                f"no depth image on '{self.input_topics[0]}' within depth_sync_tolerance "
                f"{params.depth_sync_tolerance:g} s of a colour frame: 2D output only",
            )
            return
        with self._lock:
            intrinsics, info_error = self._intrinsics, self._info_error
        if intrinsics is None:
            topic = self.input_topics[1]
            reason = (
                f"unusable depth camera_info on '{topic}': {info_error}"
                if info_error
                else f"no depth camera_info received on '{topic}' yet"
            )
            self._skip("depth_no_camera_info", f"{reason}: 2D output only")
            return
        height, width = frame.image.shape[:2]
        try:
            depth = depth_image_from_msg(depth_msg)
            self._check_registered((width, height), (depth.width, depth.height))
            persons3d = lift_persons(frame.persons, depth, intrinsics, (width, height), params.depth_config)
        except ValueError as exc:  # DepthConversionError, or sizes that do not fit together
            self._skip(
                "depth_rejected", f"skipped the depth image (frame_id '{depth_msg.header.frame_id}'): {exc}"
            )
            return
        header = Header(stamp=frame.header.stamp, frame_id=depth_msg.header.frame_id)
        self._publisher.publish(persons3d_to_msg(persons3d, header))
        if params.publish_markers and self._markers.get_subscription_count() > 0:
            self._markers.publish(persons3d_to_markers(persons3d, header, colour_by_id=params.tracking))
        self._counts["depth_paired"] += 1
        self._problem = ""

    def _check_registered(self, colour: tuple[int, int], depth: tuple[int, int]) -> None:
        """Warn once when colour and depth aspect ratios differ: such a depth image is not registered
        to the colour image (not aligned_depth_to_color), and its 3D points would be stretched."""
        colour_aspect, depth_aspect = colour[0] / colour[1], depth[0] / depth[1]
        if abs(colour_aspect - depth_aspect) > ASPECT_TOLERANCE * colour_aspect:
            self._warn_once(
                "aspect",
                f"colour image {colour[0]}x{colour[1]} and depth image {depth[0]}x{depth[1]} on "
                f"'{self.input_topics[0]}' have different aspect ratios: the depth image is not registered "
                "to the colour image, so 3D points are stretched; use an aligned depth topic "
                "(e.g. /camera/aligned_depth_to_color/image_raw)",
            )

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._pipeline.node.get_logger().warning(text)

    def _skip(self, counter: str, text: str) -> None:
        self._counts[counter] += 1
        self._problem = text
        self._pipeline.warn_throttled(text)

    # --- /diagnostics ------------------------------------------------------------------------------
    def diagnostics(self) -> dict[str, str]:
        values = {key: str(count) for key, count in self._counts.items()}
        values["depth_camera_info_rejected"] = str(self._camera_info_rejected)
        return values

    def problem(self) -> str:
        return self._problem
