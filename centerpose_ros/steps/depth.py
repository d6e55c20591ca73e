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
"""

from __future__ import annotations

import threading
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


def load_message_filters(choice: str) -> Any | None:
    """The message_filters module for `depth_sync` (None: use the builtin buffer).

    auto: message_filters when importable; message_filters: required (ParameterError when missing).
    """
    if choice == "builtin":
        return None
    try:
        import message_filters
    except ImportError as exc:
        if choice == "message_filters":
            raise ParameterError(
                f"parameter 'depth_sync' is message_filters but it cannot be imported ({exc}); "
                "install ros-<distro>-message-filters or use depth_sync auto or builtin"
            ) from None
        return None
    return message_filters


class _BufferDepthSource:
    """Depth history without message_filters: a plain subscription into a NearestStampBuffer."""

    description = "builtin nearest-stamp buffer"

    def __init__(self, pipeline: StepHost, profile: QoSProfile, on_depth: Any) -> None:
        self._buffer = NearestStampBuffer(DEPTH_HISTORY)
        self._on_depth = on_depth
        node = pipeline.node
        self.subscription = pipeline.watched_subscription(
            lambda callbacks: node.create_subscription(
                Image, DEPTH_TOPIC, self._on_message, profile, event_callbacks=callbacks
            ),
            profile,
        )

    def _on_message(self, msg: Any) -> None:
        self._buffer.add(stamp_to_ns(msg.header.stamp), msg)
        self._on_depth(msg)

    def nearest(self, stamp_ns: int) -> Candidate | None:
        return self._buffer.nearest(stamp_ns)


class _MessageFiltersDepthSource:
    """Depth history from message_filters: Subscriber -> Cache, queried by stamp interval."""

    description = "message_filters.Cache"

    def __init__(
        self, message_filters: Any, pipeline: StepHost, profile: QoSProfile, on_depth: Any
    ) -> None:
        node = pipeline.node
        holder: dict[str, Any] = {}

        def create(callbacks: Any) -> Any:
            holder["filter"] = message_filters.Subscriber(
                node, Image, DEPTH_TOPIC, qos_profile=profile, event_callbacks=callbacks
            )
            return holder["filter"].sub

        self.subscription = pipeline.watched_subscription(create, profile)
        self._cache = message_filters.Cache(holder["filter"], DEPTH_HISTORY)
        self._cache.registerCallback(on_depth)

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
        self._depth_profile = depth_qos(params.image_reliability)
        self._pairing = DepthPairing(self._nearest_in_history)
        self._source: Any = None
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

    @property
    def description(self) -> str:
        """How depth frames are paired, for the node's ready line."""
        source = _MessageFiltersDepthSource if self._message_filters is not None else _BufferDepthSource
        return f"depth pairing by {source.description} (nearest stamp)"

    # --- input ---------------------------------------------------------------------------------
    def start_input(self) -> None:
        if self._source is not None:
            return
        if self._message_filters is not None:
            self._source = _MessageFiltersDepthSource(
                self._message_filters, self._pipeline, self._depth_profile, self._on_depth
            )
        else:
            self._source = _BufferDepthSource(self._pipeline, self._depth_profile, self._on_depth)
        node = self._pipeline.node
        self._info_subscription = node.create_subscription(
            CameraInfo, CAMERA_INFO_TOPIC, self._on_camera_info, CAMERA_INFO_QOS
        )

    def stop_input(self) -> None:
        node = self._pipeline.node
        if self._source is not None:
            node.destroy_subscription(self._source.subscription)
            node.destroy_subscription(self._info_subscription)
            self._source = self._info_subscription = None
        self._pairing.clear()
        with self._lock:
            self._intrinsics, self._info_error = None, ""

    @property
    def input_topics(self) -> list[str]:
        """The resolved depth image and camera_info topics (relative names while not subscribed)."""
        if self._source is None:
            return [DEPTH_TOPIC, CAMERA_INFO_TOPIC]
        return [self._source.subscription.topic_name, self._info_subscription.topic_name]

    def frame_received(self, msg: Any) -> None:
        self._pairing.colour_arrived(stamp_to_ns(msg.header.stamp))

    def frame_dropped(self, msg: Any) -> None:
        self._pairing.colour_dropped(stamp_to_ns(msg.header.stamp))

    def _nearest_in_history(self, stamp_ns: int) -> Candidate | None:
        return self._source.nearest(stamp_ns) if self._source is not None else None

    def _on_depth(self, msg: Any) -> None:
        self._pairing.depth_arrived(stamp_to_ns(msg.header.stamp), msg)

    def _on_camera_info(self, msg: Any) -> None:
        try:
            intrinsics, error = intrinsics_from_camera_info(msg), ""
        except DepthConversionError as exc:
            intrinsics, error = None, str(exc)
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
