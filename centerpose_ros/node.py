"""The `centerpose-ros` node: camera images in, persons (boxes + COCO-17 skeletons) out.

Loads the model at start-up and takes frames at once. The frame pipeline (mailbox, worker,
per-frame steps, publishers, diagnostics) lives in pipeline.py and is shared with the managed
node `centerpose-ros-lifecycle` (lifecycle_node.py).
"""

from __future__ import annotations

import sys
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node

from centerpose_ros.entrypoint import run_node, usage
from centerpose_ros.model_loader import load_predictor
from centerpose_ros.params import ParameterError, declare_parameters, read_parameters
from centerpose_ros.pipeline import NODE_NAME, PosePipeline

__all__ = ["NODE_NAME", "PoseNode", "main"]

PROGRAM = "centerpose-ros"
SUMMARY = (
    "CenterNet multi-person pose node: subscribes to `image` (sensor_msgs/Image), publishes\n"
    "/pose/detections (centerpose_msgs/PersonPoseArray), /pose/image_annotated, /pose/markers,\n"
    "/diagnostics.\n"
    "Loads the model at start-up; see centerpose-ros-lifecycle for the managed (lifecycle) node."
)


class PoseNode(Node):
    """Declares and validates the parameters, loads the model, then takes frames until stopped.

    Raises ParameterError or ModelLoadError (one line naming the problem) from the constructor.
    """

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        declare_parameters(self)
        params = read_parameters(self)
        predictor, backend_name = load_predictor(params)
        self.pipeline = PosePipeline(self, params, predictor, backend_name)
        self.pipeline.start_input()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(f"ready: {self.pipeline.describe()}")

    def _on_set_parameters(self, parameters: list[Any]) -> SetParametersResult:
        try:
            updated = self.pipeline.params.updated({p.name: p.value for p in parameters})
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        except Exception as exc:  # a bug must not take the node down with a parameter change
            self.get_logger().error(f"parameter change refused: {type(exc).__name__}: {exc}")
            return SetParametersResult(successful=False, reason=f"{type(exc).__name__}: {exc}")
        self.pipeline.params = updated  # one reference swap: the worker sees old or new values, never a mix
        return SetParametersResult(successful=True)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking frames and finish the frame in flight."""
        self.pipeline.close(timeout)


def main(argv: list[str] | None = None) -> int:
    return run_node(PROGRAM, usage(PROGRAM, SUMMARY, "read-only"), PoseNode, NODE_NAME, argv)


if __name__ == "__main__":
    sys.exit(main())
