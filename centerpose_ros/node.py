"""The `centerpose-ros` node: camera images in, persons (boxes + COCO-17 skeletons) out.

Threading: subscription callbacks only put the newest frame into a one-slot mailbox; one
worker thread converts it, runs the Predictor and publishes. The executor therefore never
blocks on inference, older frames are dropped (and counted), and every output carries the
processed frame's header. Topics and QoS: see DESIGN.md and centerpose_ros/qos.py.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from centerpose_msgs.msg import PersonPoseArray
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
from rclpy.logging import LoggingSeverity
from rclpy.node import Node
from rclpy.qos import QoSCompatibility, qos_check_compatible
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from centerpose_core.runtime import Predictor
from centerpose_core.viz import draw_persons
from centerpose_ros import qos
from centerpose_ros.image_conversion import (
    ImageConversionError,
    bgr_to_image_msg,
    compressed_to_bgr,
    image_to_bgr,
)
from centerpose_ros.latest_frame import LatestFrameSlot
from centerpose_ros.messages import persons_to_markers, persons_to_msg
from centerpose_ros.params import PARAM_SPECS, NodeParameters, ParameterError, declare_parameters
from centerpose_ros.stats import NodeStats

NODE_NAME = "centerpose"
IMAGE_TOPIC, COMPRESSED_TOPIC = "image", "image/compressed"
DETECTIONS_TOPIC, ANNOTATED_TOPIC, MARKERS_TOPIC = (
    "/pose/detections",
    "/pose/image_annotated",
    "/pose/markers",
)
DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_PERIOD_S = 1.0
LOG_PERIOD_S = 10.0
WARN_PERIOD_S = 5.0  # the same bad-input warning at most this often
NO_INPUT_WARN_S = 5.0
EXIT_USAGE = 2


class ModelLoadError(RuntimeError):
    """The model file named by model_path cannot be used (missing, corrupt, wrong backend)."""


@dataclass
class Frame:
    msg: Any
    compressed: bool
    received: float  # time.monotonic() when the callback got it


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def load_predictor(params: NodeParameters) -> tuple[Predictor, str]:
    """Build and warm up the Predictor named by the parameters; returns it and "backend/device"."""
    path = Path(params.model_path).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"model_path '{params.model_path}': file not found")
    device = resolve_device(params.device)
    backend = params.backend
    options = dict(device=device, input_size=params.input_size, flip_test=params.flip_test)
    try:
        predictor = Predictor(str(path), backend=backend, **options)
        predictor.predict(np.zeros((64, 64, 3), np.uint8))  # warm-up: fail here, not on the first frame
    except (ValueError, OSError, RuntimeError, NotImplementedError, ImportError) as exc:
        raise ModelLoadError(f"model_path '{params.model_path}' (backend {backend}): {exc}") from None
    return predictor, f"{getattr(predictor.backend, 'name', backend)}/{device}"


class PoseNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        self.params = declare_parameters(self)  # ParameterError -> caller exits with one line
        self.predictor, self.backend_name = load_predictor(self.params)
        self.stats = NodeStats()
        self._slot: LatestFrameSlot[Frame] = LatestFrameSlot()
        self._last_key: tuple[int, int, str] | None = None
        self._warned: dict[str, tuple[float, int]] = {}
        self._qos_problem = ""
        self._last_log = time.monotonic()
        self._started = time.monotonic()
        self._log = self.get_logger()

        self._detections_pub = self._publisher(PersonPoseArray, DETECTIONS_TOPIC, qos.DETECTIONS_QOS)
        self._annotated_pub = self._publisher(Image, ANNOTATED_TOPIC, qos.ANNOTATED_QOS)
        self._markers_pub = self._publisher(MarkerArray, MARKERS_TOPIC, qos.MARKERS_QOS)
        self._diagnostics_pub = self._publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, qos.DIAGNOSTICS_QOS)

        self._image_qos = qos.image_qos(self.params.image_reliability)
        self._image_subs = [self._subscribe(Image, IMAGE_TOPIC, compressed=False)]
        if self.params.use_compressed:
            self._image_subs.append(self._subscribe(CompressedImage, COMPRESSED_TOPIC, compressed=True))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._on_diagnostics_timer)

        self._worker = threading.Thread(target=self._run_worker, name="centerpose-inference", daemon=True)
        self._worker.start()
        topics = ", ".join(f"'{s.topic_name}'" for s in self._image_subs)
        self.get_logger().info(
            f"ready: {Path(self.params.model_path).name} on {self.backend_name} "
            f"at {self.params.input_size}px; listening on {topics} "
            f"(reliability {self.params.image_reliability},"
            f" keep-last {qos.IMAGE_DEPTH}); publishing {DETECTIONS_TOPIC}"
        )

    # --- set-up helpers -------------------------------------------------------------------------
    def _publisher(self, msg_type: Any, topic: str, profile: Any) -> Any:
        holder: dict[str, Any] = {}
        callbacks = PublisherEventCallbacks(
            incompatible_qos=lambda event: self._on_publisher_incompatible(holder["pub"], profile, event)
        )
        holder["pub"] = self.create_publisher(msg_type, topic, profile, event_callbacks=callbacks)
        return holder["pub"]

    def _subscribe(self, msg_type: Any, topic: str, compressed: bool) -> Any:
        holder: dict[str, Any] = {}
        callbacks = SubscriptionEventCallbacks(
            incompatible_qos=lambda event: self._on_subscription_incompatible(holder["sub"], event)
        )
        holder["sub"] = self.create_subscription(
            msg_type,
            topic,
            lambda msg: self._on_frame(msg, compressed),
            self._image_qos,
            event_callbacks=callbacks,
        )
        return holder["sub"]

    # --- executor-side callbacks (never block) ------------------------------------------------
    def _on_frame(self, msg: Any, compressed: bool) -> None:
        now = time.monotonic()
        if self.params.use_compressed:
            # With both `image` and `image/compressed` subscribed, a camera publishing both would
            # deliver every frame twice: keep the first copy of each (stamp, frame_id).
            key = (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id)
            if key == self._last_key:
                return
            self._last_key = key
        self.stats.frame_received(now)
        if self._slot.put(Frame(msg, compressed, now)):
            self.stats.frame_dropped()

    def _on_subscription_incompatible(self, subscription: Any, event: Any) -> None:
        topic = subscription.topic_name
        peers = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
        bad = [p for p in peers if qos_check_compatible(p, self._image_qos)[0] == QoSCompatibility.ERROR]
        text = qos.subscription_mismatch_message(
            topic, self._image_qos, bad or peers, event.last_policy_kind, self.params.image_reliability
        )
        self._qos_problem = text
        self.get_logger().warning(text)

    def _on_publisher_incompatible(self, publisher: Any, profile: Any, event: Any) -> None:
        topic = publisher.topic_name
        peers = [info.qos_profile for info in self.get_subscriptions_info_by_topic(topic)]
        bad = [p for p in peers if qos_check_compatible(profile, p)[0] == QoSCompatibility.ERROR]
        text = qos.publisher_mismatch_message(topic, profile, bad or peers, event.last_policy_kind)
        self._qos_problem = text
        self.get_logger().warning(text)

    def _on_set_parameters(self, parameters: list[Any]) -> SetParametersResult:
        try:
            updated = self.params.updated({p.name: p.value for p in parameters})
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.params = updated  # one reference swap: the worker sees old or new values, never a mix
        return SetParametersResult(successful=True)

    def _on_diagnostics_timer(self) -> None:
        snap = self.stats.snapshot()
        now = time.monotonic()
        level, message = DiagnosticStatus.OK, "processing"
        if self._qos_problem:
            level, message = DiagnosticStatus.WARN, self._qos_problem
        elif snap.input_hz == 0.0 and now - self._started > NO_INPUT_WARN_S:
            topics = ", ".join(s.topic_name for s in self._image_subs)
            count = sum(self.count_publishers(s.topic_name) for s in self._image_subs)
            level, message = (
                DiagnosticStatus.WARN,
                f"no images received on {topics} ({count} publisher(s) matched)",
            )
        status = DiagnosticStatus(
            level=level,
            name=f"{self.get_fully_qualified_name()}: pose estimation",
            message=message,
            hardware_id=self.backend_name,
        )
        values = {
            "input_rate_hz": f"{snap.input_hz:.2f}",
            "processed_rate_hz": f"{snap.processed_hz:.2f}",
            "frames_received": str(snap.received),
            "frames_processed": str(snap.processed),
            "frames_dropped": str(snap.dropped),
            "frames_rejected": str(snap.rejected),
            "latency_p50_ms": _fmt(snap.latency_p50_ms),
            "latency_p95_ms": _fmt(snap.latency_p95_ms),
            "inference_p50_ms": _fmt(snap.inference_p50_ms),
            "inference_p95_ms": _fmt(snap.inference_p95_ms),
            "annotated_images_published": str(snap.annotated),
            "marker_arrays_published": str(snap.markers),
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        self._diagnostics_pub.publish(array)
        if now - self._last_log >= LOG_PERIOD_S:
            self._last_log = now
            if level == DiagnosticStatus.OK:
                self.get_logger().info(snap.log_line())
            else:
                self.get_logger().warning(f"{message}; {snap.log_line()}")

    # --- worker thread ------------------------------------------------------------------------
    def _run_worker(self) -> None:
        while True:
            frame = self._slot.take()
            if frame is None:
                return
            try:
                self._process(frame)
            except ImageConversionError as exc:
                self.stats.frame_rejected()
                self._warn_throttled(f"skipped a bad frame (frame_id '{frame.msg.header.frame_id}'): {exc}")
            except Exception as exc:  # keep serving frames; shutdown races end the loop quietly
                if self._slot.closed or not rclpy.ok(context=self.context):
                    return
                self._warn_throttled(f"frame failed: {type(exc).__name__}: {exc}")

    def _process(self, frame: Frame) -> None:
        params = self.params
        image = compressed_to_bgr(frame.msg) if frame.compressed else image_to_bgr(frame.msg)
        persons = self.predictor.predict(
            image, threshold=params.score_threshold, max_persons=params.max_persons
        )
        inference_ms = float(self.predictor.last_timings.get("total", math.nan))
        if self._slot.closed:
            return
        header = frame.msg.header
        self._detections_pub.publish(persons_to_msg(persons, header))
        latency_ms = (time.monotonic() - frame.received) * 1e3
        self.stats.frame_processed(latency_ms, inference_ms)
        if self._log.is_enabled_for(LoggingSeverity.DEBUG):  # per-frame timings for benchmarks
            self._log.debug(
                f"frame {header.stamp.sec}.{header.stamp.nanosec:09d} '{header.frame_id}': "
                f"inference {inference_ms:.3f} ms, receive->publish {latency_ms:.3f} ms, "
                f"{len(persons)} persons"
            )
        if params.publish_markers and self._markers_pub.get_subscription_count() > 0:
            self._markers_pub.publish(persons_to_markers(persons, header, params.keypoint_threshold))
            self.stats.markers_published()
        if params.publish_annotated and self._annotated_pub.get_subscription_count() > 0:
            drawn = draw_persons(image, persons, keypoint_threshold=params.keypoint_threshold)
            self._annotated_pub.publish(bgr_to_image_msg(drawn, header))
            self.stats.annotated_published()

    def _warn_throttled(self, text: str) -> None:
        now = time.monotonic()
        last, suppressed = self._warned.get(text, (-math.inf, 0))
        if now - last < WARN_PERIOD_S:
            self._warned[text] = (last, suppressed + 1)
            return
        suffix = f" ({suppressed} more like this since the last warning)" if suppressed else ""
        self._warned[text] = (now, 0)
        self.get_logger().warning(text + suffix)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking frames and join the worker (it finishes the frame in flight first)."""
        self._slot.close()
        self._worker.join(timeout)
        if self._worker.is_alive():
            self.get_logger().warning(f"inference worker still busy after {timeout:.0f} s; exiting anyway")


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"


USAGE = """usage: centerpose-ros [-h] [--ros-args -p NAME:=VALUE ... --params-file FILE -r image:=TOPIC]

CenterNet multi-person pose node: subscribes to `image` (sensor_msgs/Image), publishes
/pose/detections (centerpose_msgs/PersonPoseArray), /pose/image_annotated, /pose/markers, /diagnostics.

parameters (defaults as in config/pose.yaml):
"""


def _usage() -> str:
    lines = [
        f"  {s.name} (default {s.default!r}{', read-only' if s.read_only else ''}): {s.description}"
        for s in PARAM_SPECS
    ]
    return USAGE + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    user_args = rclpy.utilities.remove_ros_args(argv)[1:]
    if user_args:
        if user_args[0] in ("-h", "--help"):
            print(_usage())
            return 0
        print(
            f"centerpose-ros: unexpected arguments {' '.join(user_args)} "
            "(ROS arguments go after --ros-args)\n",
            file=sys.stderr,
        )
        print(_usage(), file=sys.stderr)
        return EXIT_USAGE

    stop = threading.Event()
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    node: PoseNode | None = None
    try:
        try:
            node = PoseNode()
        except (ParameterError, ModelLoadError) as exc:
            rclpy.logging.get_logger(NODE_NAME).error(str(exc))
            return EXIT_USAGE
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
        node.get_logger().info("shutting down")
        node.stop()
        executor.shutdown(timeout_sec=1.0)
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
