"""The node's frame pipeline, shared by the plain and the lifecycle node.

Threading: subscription callbacks only put the newest frame into a one-slot mailbox; one worker
thread converts it, runs the Predictor, then hands the result to an ordered list of steps
(`FrameStep`, in steps/): tracking (ids), /pose/detections, markers, the annotated image, /pose/masks
for a model with the mask branch (masks are computed only for frames whose masks someone consumes:
a /pose/masks subscriber, the annotated image, or the 3D outputs, whose positions then come from
the masks' depth), and with
`use_depth` the 3D step last (so it never delays the 2D outputs). Each step's time is measured per frame
(/diagnostics `step_<name>_p50_ms`, and the debug log line per frame).
The executor therefore never blocks on inference, older frames are dropped (and counted), and
every output carries the processed frame's header. Topics and QoS: see DESIGN.md and qos.py.

The pipeline is a component of a node, not a node: it is built once the model is loaded
(`PoseNode.__init__`, or `LifecyclePoseNode.on_configure`), takes frames between `start_input()`
and `stop_input()` (lifecycle activate / deactivate), and `close()` releases everything but the node.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from centerpose_msgs.msg import PersonPoseArray
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.logging import LoggingSeverity
from rclpy.qos import QoSCompatibility, qos_check_compatible
from sensor_msgs.msg import CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from centerpose_core.runtime import Predictor
from centerpose_core.tracking import PoseTracker
from centerpose_ros import qos
from centerpose_ros.conversions.image import ImageConversionError, compressed_to_bgr, image_to_bgr
from centerpose_ros.latest_frame import LatestFrameSlot
from centerpose_ros.params import NodeParameters
from centerpose_ros.stats import NodeStats
from centerpose_ros.steps.depth import DETECTIONS_3D_TOPIC, DepthStep, load_message_filters
from centerpose_ros.steps.frame_step import Frame, FrameStep, ProcessedFrame
from centerpose_ros.steps.imu_motion import ImuCameraMotion
from centerpose_ros.steps.outputs import (
    ANNOTATED_TOPIC,
    DETECTIONS_TOPIC,
    MARKERS_TOPIC,
    MASKS_TOPIC,
    AnnotatedOutput,
    DetectionsOutput,
    MarkersOutput,
    MasksOutput,
)
from centerpose_ros.steps.tracking import TrackingStep

__all__ = ["Frame", "FrameStep", "PosePipeline", "ProcessedFrame"]

NODE_NAME = "centerpose"
IMAGE_TOPIC, COMPRESSED_TOPIC = "image", "image/compressed"
DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_PERIOD_S = 1.0
LOG_PERIOD_S = 10.0
WARN_PERIOD_S = 5.0  # the same bad-input warning at most this often
NO_INPUT_WARN_S = 5.0


class PosePipeline:
    """Frames in, persons out, for one node (see the module docstring).

    Args:
        node: the rclpy node (plain or lifecycle) the topics belong to.
        params: validated parameters; replace `pipeline.params` to change run-time values.
        predictor: a loaded, warmed-up Predictor; the pipeline drops its reference in `close()`.
        backend_name: "backend/precision/device" as running, for logs and diagnostics.
        lifecycle_publishers: create the outputs as lifecycle publishers (publish only while the
            node is active); /diagnostics stays a plain publisher so an inactive node reports too.
        tracker: the PoseTracker to give ids with; a node that builds several pipelines (lifecycle
            configure after cleanup) passes the same one, so ids are never reused (default: a new one).

    Raises ParameterError (before creating anything) when `depth_sync` asks for message_filters
    and it cannot be imported.
    """

    def __init__(
        self,
        node: Any,
        params: NodeParameters,
        predictor: Predictor,
        backend_name: str,
        *,
        lifecycle_publishers: bool = False,
        tracker: PoseTracker | None = None,
    ) -> None:
        warn = node.get_logger().warning
        message_filters = load_message_filters(params.depth_sync, warn) if params.use_depth else None
        self.node = node
        self.params = params
        self.predictor: Predictor | None = predictor
        self.backend_name = backend_name
        self.stats = NodeStats()
        self._log = node.get_logger()
        self._lifecycle = lifecycle_publishers
        self._slot: LatestFrameSlot[Frame] = LatestFrameSlot()
        self._image_qos = qos.image_qos(params.image_reliability)
        self._subscriptions: list[Any] = []
        self._publishers: list[tuple[Any, bool]] = []  # (publisher, is_lifecycle)
        self._input_since: float | None = None
        self._last_key: tuple[int, int, str] | None = None
        self._last_put: Any = None  # the image message put into the mailbox last
        self._warned: dict[str, tuple[float, int]] = {}
        self._qos_problem = ""
        self._last_log = time.monotonic()
        self._input_missing = False  # warned that images stopped; cleared (with an info) when they return

        self.steps: list[FrameStep] = [
            TrackingStep(
                self._log,
                self.warn_throttled,
                tracker or PoseTracker(params.tracker_config),
                ImuCameraMotion(node, params.tracking_imu_topic, params.tracking_imu_to_camera)
                if params.tracking_imu_topic
                else None,
            ),
            DetectionsOutput(
                self.create_output(PersonPoseArray, DETECTIONS_TOPIC, qos.DETECTIONS_QOS), self.stats
            ),
            MarkersOutput(self.create_output(MarkerArray, MARKERS_TOPIC, qos.MARKERS_QOS), self.stats),
            AnnotatedOutput(self.create_output(Image, ANNOTATED_TOPIC, qos.ANNOTATED_QOS), self.stats),
        ]
        # Outputs that consume the persons' masks: the predictor computes masks only when one wants them.
        self._mask_consumers: list[Any] = [self.steps[-1]]
        if predictor.has_masks:
            masks = MasksOutput(self.create_output(Image, MASKS_TOPIC, qos.MASKS_QOS), self.stats)
            self.steps.append(masks)
            self._mask_consumers.append(masks)
        self.depth = DepthStep(self, params, message_filters) if params.use_depth else None
        if self.depth is not None:
            self.steps.append(self.depth)
            self._mask_consumers.append(self.depth)  # positions from the masks' depth
        self._diagnostics_pub = self._create_publisher(
            DiagnosticArray, DIAGNOSTICS_TOPIC, qos.DIAGNOSTICS_QOS, lifecycle=False
        )
        self._timer = node.create_timer(DIAGNOSTICS_PERIOD_S, self._on_diagnostics_timer)
        self._worker = threading.Thread(target=self._run_worker, name="centerpose-inference", daemon=True)
        self._worker.start()

    # --- composition -----------------------------------------------------------------------------
    def create_output(self, msg_type: Any, topic: str, profile: Any) -> Any:
        """A publisher for a step's output: gated by the lifecycle like the node's own outputs,
        destroyed in `close()`, with an incompatible-QoS warning."""
        return self._create_publisher(msg_type, topic, profile, lifecycle=self._lifecycle)

    def insert_step(self, step: FrameStep, *, before: str | None = None) -> None:
        """Add a per-frame step (before `start_input`): at the end, or before the step named `before`
        (e.g. "detections", so that the published persons carry the step's changes)."""
        names = [s.name for s in self.steps]
        if before is not None and before not in names:
            raise ValueError(f"no step named {before!r} (steps: {', '.join(names)})")
        self.steps.insert(len(self.steps) if before is None else names.index(before), step)

    # --- input: on while active -------------------------------------------------------------------
    def start_input(self) -> None:
        """Subscribe to the image topic(s); frames flow to the worker from now on."""
        if self._subscriptions:
            return
        for step in self.steps:
            step.start_input()
        self._subscriptions = [self._subscribe(Image, IMAGE_TOPIC, compressed=False)]
        if self.params.use_compressed:
            self._subscriptions.append(self._subscribe(CompressedImage, COMPRESSED_TOPIC, compressed=True))
        self._input_since = time.monotonic()
        self.stats.input_started(self._input_since)

    def stop_input(self, timeout: float = 30.0) -> bool:
        """Unsubscribe, drop the frame waiting in the mailbox and wait for the one in flight to be
        published. Returns False when that frame was still running after `timeout` seconds."""
        if not self._subscriptions:
            return self._slot.wait_idle(timeout)
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        self._subscriptions = []
        self._input_since = None
        self._input_missing = False
        self._slot.discard()
        idle = self._slot.wait_idle(timeout)
        for step in self.steps:
            step.stop_input()
        return idle

    @property
    def busy(self) -> bool:
        """True while the worker runs a frame."""
        return self._slot.in_flight

    @property
    def input_topics(self) -> list[str]:
        return [s.topic_name for s in self._subscriptions]

    def describe(self) -> str:
        """One line for the log: model, backend, size, input topics and QoS, outputs, options."""
        params = self.params
        topics = ", ".join(f"'{topic}'" for topic in self.input_topics) or "no topic (input stopped)"
        text = (
            f"{Path(params.model_path).name} on {self.backend_name} at {params.input_size}px; "
            f"listening on {topics} (reliability {params.image_reliability},"
            f" keep-last {qos.IMAGE_DEPTH}); publishing {DETECTIONS_TOPIC}"
            f" (tracking {'on' if params.tracking else 'off'})"
        )
        if self.depth is not None:
            depth_topics = ", ".join(f"'{topic}'" for topic in self.depth.input_topics)
            text += f"; 3D from {depth_topics} to {DETECTIONS_3D_TOPIC}, {self.depth.description}"
        return text

    def close(self, timeout: float = 30.0) -> None:
        """Stop input, finish the frame in flight, stop the worker, destroy the node's entities
        created here and drop the Predictor (the caller frees memory, see model_loader)."""
        if not self.stop_input(timeout):
            self._log.warning(f"inference worker still busy after {timeout:.0f} s; closing anyway")
        self._slot.close()
        self._worker.join(timeout)
        for step in self.steps:
            step.close()
        self.node.destroy_timer(self._timer)
        for publisher, lifecycle in self._publishers:
            if lifecycle:
                self.node.destroy_lifecycle_publisher(publisher)
            else:
                self.node.destroy_publisher(publisher)
        self._publishers = []
        self.steps = []
        self.predictor = None

    # --- entity helpers -----------------------------------------------------------------------------
    def _create_publisher(self, msg_type: Any, topic: str, profile: Any, *, lifecycle: bool) -> Any:
        holder: dict[str, Any] = {}
        callbacks = PublisherEventCallbacks(
            incompatible_qos=lambda event: self._on_publisher_incompatible(holder["pub"], profile, event)
        )
        create = self.node.create_lifecycle_publisher if lifecycle else self.node.create_publisher
        holder["pub"] = create(msg_type, topic, profile, event_callbacks=callbacks)
        self._publishers.append((holder["pub"], lifecycle))
        return holder["pub"]

    def watched_subscription(self, create: Callable[[SubscriptionEventCallbacks], Any], profile: Any) -> Any:
        """A subscription made by `create(event_callbacks)` (which returns the rclpy Subscription),
        with the incompatible-QoS warning for a camera input subscribed with `profile`. For steps
        whose inputs follow `image_reliability` (e.g. the depth image)."""
        holder: dict[str, Any] = {}
        callbacks = SubscriptionEventCallbacks(
            incompatible_qos=lambda event: self._on_subscription_incompatible(holder["sub"], profile, event)
        )
        holder["sub"] = create(callbacks)
        return holder["sub"]

    def _subscribe(self, msg_type: Any, topic: str, compressed: bool) -> Any:
        return self.watched_subscription(
            lambda callbacks: self.node.create_subscription(
                msg_type,
                topic,
                lambda msg: self._on_frame(msg, compressed),
                self._image_qos,
                event_callbacks=callbacks,
            ),
            self._image_qos,
        )

    # --- executor-side callbacks (never block) ------------------------------------------------------
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
        for step in self.steps:
            step.frame_received(msg)
        previous, self._last_put = self._last_put, msg
        if self._slot.put(Frame(msg, compressed, now, time.time())):  # replaced `previous`, still waiting
            self.stats.frame_dropped()
            for step in self.steps:
                step.frame_dropped(previous)

    def _on_subscription_incompatible(self, subscription: Any, profile: Any, event: Any) -> None:
        topic = subscription.topic_name
        peers = [info.qos_profile for info in self.node.get_publishers_info_by_topic(topic)]
        bad = [p for p in peers if qos_check_compatible(p, profile)[0] == QoSCompatibility.ERROR]
        text = qos.subscription_mismatch_message(
            topic, profile, bad or peers, event.last_policy_kind, self.params.image_reliability
        )
        self._qos_problem = text
        self._log.warning(text)

    def _on_publisher_incompatible(self, publisher: Any, profile: Any, event: Any) -> None:
        topic = publisher.topic_name
        peers = [info.qos_profile for info in self.node.get_subscriptions_info_by_topic(topic)]
        bad = [p for p in peers if qos_check_compatible(profile, p)[0] == QoSCompatibility.ERROR]
        text = qos.publisher_mismatch_message(topic, profile, bad or peers, event.last_policy_kind)
        self._qos_problem = text
        self._log.warning(text)

    def _on_diagnostics_timer(self) -> None:
        snap = self.stats.snapshot()
        now = time.monotonic()
        level, message = DiagnosticStatus.OK, "processing"
        step_problems = [problem for step in self.steps if (problem := step.problem())]
        if self._input_since is None:
            message = "inactive: not subscribed to images"
        elif self._qos_problem:
            level, message = DiagnosticStatus.WARN, self._qos_problem
        elif snap.input_hz == 0.0 and now - self._input_since > NO_INPUT_WARN_S:
            topics = ", ".join(self.input_topics)
            count = sum(self.node.count_publishers(topic) for topic in self.input_topics)
            level, message = (
                DiagnosticStatus.WARN,
                f"no images received on {topics} ({count} publisher(s) matched)",
            )
            if not self._input_missing:  # once per outage: a camera may be gone for hours
                self._input_missing = True
                self._log.warning(
                    f"{message} for {NO_INPUT_WARN_S:.0f} s: waiting for the camera (no restart needed)"
                )
        elif step_problems:
            level, message = DiagnosticStatus.WARN, "; ".join(step_problems)
        status = DiagnosticStatus(
            level=level,
            name=f"{self.node.get_fully_qualified_name()}: pose estimation",
            message=message,
            hardware_id=self.backend_name,
        )
        backend, precision, device = (self.backend_name.split("/", 2) + ["", ""])[:3]
        values = {
            "backend": backend,
            "precision": precision,
            "device": device,
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
            "latency_first_minute_p50_ms": _fmt(snap.latency_first_window_p50_ms),
            "latency_last_minute_p50_ms": _fmt(snap.latency_last_window_p50_ms),
            "latency_trend_percent": _fmt(snap.latency_trend_percent),
            "annotated_images_published": str(snap.annotated),
            "masks_published": str(snap.masks),
            "masks_computed": str(snap.masks_computed),
            "marker_arrays_published": str(snap.markers),
        }
        for name, (p50, p95) in snap.step_ms.items():
            values[f"step_{name}_p50_ms"] = f"{p50:.3f}"
            values[f"step_{name}_p95_ms"] = f"{p95:.3f}"
        for step in self.steps:
            values.update(step.diagnostics())
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray()
        array.header.stamp = self.node.get_clock().now().to_msg()
        array.status = [status]
        self._diagnostics_pub.publish(array)
        if self._input_missing and snap.input_hz > 0.0:
            self._input_missing = False
            self._log.info(f"images arrive again on {', '.join(self.input_topics)}: processing resumes")
        periodic = self._input_since is not None and not self._input_missing  # a gap: warned once
        if periodic and now - self._last_log >= LOG_PERIOD_S:
            self._last_log = now
            if level == DiagnosticStatus.OK:
                self._log.info(snap.log_line())
            else:
                self._log.warning(f"{message}; {snap.log_line()}")

    # --- worker thread ----------------------------------------------------------------------------
    def _run_worker(self) -> None:
        while (frame := self._slot.take()) is not None:
            try:
                self._process(frame)
            except ImageConversionError as exc:
                self.stats.frame_rejected()
                self.warn_throttled(f"skipped a bad frame (frame_id '{frame.msg.header.frame_id}'): {exc}")
            except Exception as exc:  # keep serving frames; shutdown races end the loop quietly
                if self._slot.closed or not rclpy.ok(context=self.node.context):
                    return
                self.warn_throttled(f"frame failed: {type(exc).__name__}: {exc}")
            finally:
                self._slot.task_done()

    def _process(self, frame: Frame) -> None:
        params, predictor = self.params, self.predictor
        taken = time.monotonic()
        debug = self._log.is_enabled_for(LoggingSeverity.DEBUG)
        if debug:
            stamp, frame_id = frame.msg.header.stamp, frame.msg.header.frame_id
            self._log.debug(f"frame {stamp.sec}.{stamp.nanosec:09d} '{frame_id}': processing")
        image = compressed_to_bgr(frame.msg) if frame.compressed else image_to_bgr(frame.msg)
        masks = predictor.has_masks and any(step.wanted(params) for step in self._mask_consumers)
        converted = time.monotonic()
        persons = predictor.predict(
            image, threshold=params.score_threshold, max_persons=params.max_persons, masks=masks
        )
        predicted = time.monotonic()
        if "masks" in predictor.last_timings:  # the Predictor ran its masks stage for this frame
            self.stats.masks_computed()
        inference_ms = float(predictor.last_timings.get("total", math.nan))
        if self._slot.closed:
            return
        result = ProcessedFrame(frame.msg.header, image, persons, params, frame.received, inference_ms)
        step_ms = {}
        for step in self.steps:
            start = time.perf_counter()
            step.process(result)
            step_ms[step.name] = (time.perf_counter() - start) * 1e3
            self.stats.step_timed(step.name, step_ms[step.name])
        if debug:  # per-frame timings for benchmarks
            header = result.header
            steps = ", ".join(f"{name} {ms:.3f}" for name, ms in step_ms.items())
            latency_ms = result.extras.get("latency_ms", math.nan)
            stamp_s = header.stamp.sec + header.stamp.nanosec * 1e-9
            stages = {
                "stamp->receive": (frame.received_wall - stamp_s) * 1e3,  # wall clock vs the stamp
                "mailbox": (taken - frame.received) * 1e3,
                "convert": (converted - taken) * 1e3,
                "predict": (predicted - converted) * 1e3,
            }
            self._log.debug(
                f"frame {header.stamp.sec}.{header.stamp.nanosec:09d} '{header.frame_id}': "
                f"inference {inference_ms:.3f} ms, receive->publish {latency_ms:.3f} ms, "
                f"{len(result.persons)} persons; steps (ms): {steps}; stages (ms): "
                + ", ".join(f"{name} {ms:.3f}" for name, ms in stages.items())
            )

    def warn_throttled(self, text: str) -> None:
        """Log `text` as a warning at most every WARN_PERIOD_S, counting the repeats in between."""
        now = time.monotonic()
        last, suppressed = self._warned.get(text, (-math.inf, 0))
        if now - last < WARN_PERIOD_S:
            self._warned[text] = (last, suppressed + 1)
            return
        suffix = f" ({suppressed} more like this since the last warning)" if suppressed else ""
        self._warned[text] = (now, 0)
        self._log.warning(text + suffix)


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"
