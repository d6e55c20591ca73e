"""PosePipeline's extension point (per-frame steps) in one process, over real rclpy on loopback DDS.

A camera node publishes an Image; the pipeline (on its own node) runs the model; a step inserted
before "detections" changes the persons, a step appended at the end sees what was published;
a listener node receives /pose/detections. The steps' input hooks follow start_input / stop_input.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ros_helpers import TEST_INPUT_SIZE, raw_entry, require_ros

from centerpose_ros.demo.local_dds import loopback_env, pick_domain_id

require_ros()

# Modules that need rclpy and centerpose_msgs, imported once require_ros() has passed.
import rclpy  # noqa: E402
from centerpose_msgs.msg import PersonPoseArray  # noqa: E402
from peer import make_message  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from centerpose_ros import qos  # noqa: E402
from centerpose_ros.model_loader import load_predictor  # noqa: E402
from centerpose_ros.params import NodeParameters  # noqa: E402
from centerpose_ros.pipeline import FrameStep, PosePipeline, ProcessedFrame  # noqa: E402

pytestmark = pytest.mark.ros


class KeepBest(FrameStep):
    """Stands in for a tracker: rewrites the persons before they are published."""

    name = "keep_best"

    def __init__(self) -> None:
        self.events: list[str] = []

    def process(self, frame: ProcessedFrame) -> None:
        frame.extras["kept_from"] = len(frame.persons)
        frame.persons = [dataclasses.replace(frame.persons[0], id=7)]

    def start_input(self) -> None:
        self.events.append("start")

    def stop_input(self) -> None:
        self.events.append("stop")

    def close(self) -> None:
        self.events.append("close")


class Witness(FrameStep):
    """Appended last: sees each frame after every output step."""

    name = "witness"

    def __init__(self) -> None:
        self.frames: list[ProcessedFrame] = []

    def process(self, frame: ProcessedFrame) -> None:
        self.frames.append(frame)


@pytest.fixture
def ros_context(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in loopback_env(pick_domain_id(), {}).items():
        monkeypatch.setenv(key, value)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@dataclasses.dataclass
class Rig:
    """The pipeline's node, a camera publishing `image` and a listener, spun on one executor thread."""

    node: Any
    camera: Any
    listener: Any
    image_pub: Any
    pipeline: PosePipeline | None = None

    def start_pipeline(self, params: NodeParameters) -> PosePipeline:
        predictor, backend_name = load_predictor(params)
        self.pipeline = PosePipeline(self.node, params, predictor, backend_name)
        return self.pipeline


@pytest.fixture
def rig(ros_context: Any) -> Iterator[Rig]:
    """A spinning `Rig`; on teardown its pipeline is closed (unless the test did) before the nodes go."""
    nodes = [rclpy.create_node(name, context=ros_context) for name in ("centerpose", "camera", "listener")]
    executor = SingleThreadedExecutor(context=ros_context)
    for each in nodes:
        executor.add_node(each)
    image_pub = nodes[1].create_publisher(Image, "image", qos.image_qos("reliable"))
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin)
    spinner.start()
    rig = Rig(*nodes, image_pub)
    try:
        yield rig
    finally:
        if rig.pipeline is not None and rig.pipeline.predictor is not None:
            rig.pipeline.close()
        stop.set()
        spinner.join()
        executor.shutdown()
        for each in nodes:
            each.destroy_node()


def test_inserted_steps_shape_what_is_published_and_follow_the_input(
    rig: Rig, random_checkpoint: Path
) -> None:
    params = NodeParameters.defaults().updated(
        dict(model_path=str(random_checkpoint), backend="torch", device="cpu", input_size=TEST_INPUT_SIZE)
    )
    params = dataclasses.replace(params, score_threshold=0.05, max_persons=5)
    received: list[Any] = []
    rig.listener.create_subscription(PersonPoseArray, "/pose/detections", received.append, qos.DETECTIONS_QOS)
    image_pub = rig.image_pub
    pipeline = rig.start_pipeline(params)
    keep, witness = KeepBest(), Witness()
    pipeline.insert_step(keep, before="detections")
    pipeline.insert_step(witness)
    with pytest.raises(ValueError, match="no step named 'depth'"):  # only with use_depth
        pipeline.insert_step(Witness(), before="depth")
    order = ["tracking", "keep_best", "detections", "markers", "annotated", "witness"]
    assert [s.name for s in pipeline.steps] == order

    pipeline.start_input()
    assert keep.events == ["start"]
    assert wait_until(lambda: image_pub.get_subscription_count() == 1, 20)
    assert wait_until(lambda: rig.listener.count_publishers("/pose/detections") == 1, 20)
    image = np.random.default_rng(7).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    image_pub.publish(make_message(raw_entry(image, "step_frame", (42, 0)), stamp_now=False))
    assert wait_until(lambda: received and witness.frames, 60), "no detections for the frame"

    (message,) = received
    assert message.header.frame_id == "step_frame" and message.header.stamp.sec == 42
    assert len(message.persons) == 1, "the step before 'detections' decides what is published"
    (frame,) = witness.frames
    assert frame.extras["kept_from"] == params.max_persons and frame.persons[0].id == 7
    assert message.persons[0].id == 7, "the published persons carry the step's ids"
    assert frame.image.shape == image.shape and frame.params is params

    assert pipeline.stop_input(timeout=30)
    assert keep.events == ["start", "stop"]
    assert wait_until(lambda: image_pub.get_subscription_count() == 0, 20)
    pipeline.close()
    assert keep.events == ["start", "stop", "close"], "stop_input runs once; close follows"


def test_a_mask_model_computes_masks_for_the_3d_output_only_while_it_has_a_subscriber(
    rig: Rig, tmp_path: Path
) -> None:
    """With use_depth, positions come from the masks' depth: the 3D output is a mask consumer, and
    like the other outputs costs no masks while nobody subscribes to it (no depth frames needed:
    whether masks are computed is decided before pairing)."""
    from centerpose_msgs.msg import PersonPose3DArray

    from centerpose_core.model.random_weights import save_random_checkpoint

    checkpoint = save_random_checkpoint(tmp_path / "masks.pth", masks=True)
    params = NodeParameters.defaults().updated(
        dict(
            model_path=str(checkpoint),
            backend="torch",
            device="cpu",
            input_size=TEST_INPUT_SIZE,
            use_depth=True,
        )
    )
    params = dataclasses.replace(params, score_threshold=0.05, max_persons=3)
    image_pub = rig.image_pub
    pipeline = rig.start_pipeline(params)
    witness = Witness()
    pipeline.insert_step(witness)
    pipeline.start_input()
    assert wait_until(lambda: image_pub.get_subscription_count() == 1, 20)
    image = np.random.default_rng(7).integers(0, 256, (120, 160, 3), dtype=np.uint8)

    def frame_with(stamp: int) -> ProcessedFrame:
        image_pub.publish(make_message(raw_entry(image, f"f{stamp}", (stamp, 0)), stamp_now=False))
        assert wait_until(lambda: any(f.header.stamp.sec == stamp for f in witness.frames), 60)
        return next(f for f in witness.frames if f.header.stamp.sec == stamp)

    unwatched = frame_with(1)
    assert unwatched.persons and all(p.mask is None for p in unwatched.persons)
    rig.listener.create_subscription(
        PersonPose3DArray, "/pose/detections_3d", lambda _: None, qos.DETECTIONS_QOS
    )
    assert wait_until(lambda: rig.node.count_subscribers("/pose/detections_3d") == 1, 20)
    watched = frame_with(2)
    assert watched.persons and all(p.mask is not None for p in watched.persons)
    assert pipeline.stats.snapshot().masks_computed == 1
