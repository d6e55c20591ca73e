"""The contract between the frame pipeline and its per-frame steps: the received frame, the processed
frame, the `FrameStep` base class, and `StepHost`, all that a step may ask of the pipeline (which is
centerpose_ros/pipeline.py; steps never import it, so the pipeline can import every step)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from centerpose_core.types import Person
from centerpose_ros.params import NodeParameters


@dataclass
class Frame:
    """A received image message, as it waits in the mailbox."""

    msg: Any
    compressed: bool
    received: float  # time.monotonic() when the callback got it


@dataclass
class ProcessedFrame:
    """One frame after inference, handed to every step in order.

    A step may replace `persons` (e.g. a tracker returning persons with ids) or leave results in
    `extras` for the steps after it. `params` is the parameter snapshot this frame runs with.
    """

    header: Any  # std_msgs/Header of the source image
    image: np.ndarray  # the source image, BGR uint8 (H, W, 3)
    persons: list[Person]  # highest score first
    params: NodeParameters
    received: float  # time.monotonic() when the image arrived
    inference_ms: float  # the Predictor's time for this frame
    extras: dict[str, Any] = field(default_factory=dict)


class FrameStep:
    """One per-frame job after inference (base class: override `process`, and the hooks you need).

    Steps run on the worker thread in list order; an exception skips the rest of this frame's steps
    with a throttled warning (the node keeps running). A step that needs its own inputs (a depth
    image, camera info) subscribes in `start_input` and unsubscribes in `stop_input`; per-stream state
    (e.g. tracks) is forgotten in `stop_input`. Outputs come from `StepHost.create_output`.
    """

    name = "step"

    def process(self, frame: ProcessedFrame) -> None:
        raise NotImplementedError

    def frame_received(self, msg: Any) -> None:
        """Executor thread, for every image accepted into the mailbox (before the worker can take
        it): note what must be known at arrival (e.g. claim the depth frame nearest its stamp).
        Must not block."""

    def frame_dropped(self, msg: Any) -> None:
        """Executor thread: a frame given to `frame_received` was replaced in the mailbox by a newer
        one before the worker took it (it will never be processed)."""

    def start_input(self) -> None:
        """Frames are about to flow (node started / activated)."""

    def stop_input(self) -> None:
        """Frames stopped and the frame in flight is done (deactivate, cleanup, shutdown)."""

    def close(self) -> None:
        """The pipeline closes: release what the step created (not its outputs: the pipeline does)."""

    def diagnostics(self) -> dict[str, str]:
        """Extra key/values for the node's /diagnostics status (called on the executor thread)."""
        return {}

    def problem(self) -> str:
        """A one-line problem for /diagnostics (level WARN), or "" while the step works as intended."""
        return ""


class StepHost(Protocol):
    """What the pipeline offers the steps it runs (PosePipeline implements it)."""

    @property
    def node(self) -> Any:
        """The rclpy node (plain or lifecycle): for subscriptions, clocks and the logger."""

    def create_output(self, msg_type: Any, topic: str, profile: Any) -> Any:
        """A publisher for a step's output: lifecycle-gated like the node's own outputs, destroyed
        when the pipeline closes, with the incompatible-QoS warning."""

    def watched_subscription(self, create: Callable[[Any], Any], profile: Any) -> Any:
        """The subscription `create(event_callbacks)` returns, with the incompatible-QoS warning of
        a camera input subscribed with `profile`."""

    def warn_throttled(self, text: str) -> None:
        """Log a warning at most every few seconds, counting the repeats in between."""
