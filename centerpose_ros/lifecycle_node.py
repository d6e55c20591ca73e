"""The `centerpose-ros-lifecycle` node: the pose node as a managed (lifecycle) node.

Robot stacks start perception under a lifecycle manager and unload models when idle. States and
what each transition does (the frame pipeline itself is pipeline.py, shared with `centerpose-ros`):

- unconfigured (start): parameters declared, nothing loaded; structural parameters (model_path,
  backend, device, input_size, ...) may be set now.
- configure: validate the parameters, load and warm up the model, create the publishers (still
  gated) and the worker. A bad parameter or model fails the transition with one error line; the
  node stays unconfigured and a later configure (e.g. after `ros2 param set model_path`) may succeed.
- activate: enable the publishers, subscribe to the image topic(s).
- deactivate: unsubscribe, drop the waiting frame, let the frame in flight finish and publish,
  then gate the publishers. The tracker forgets its tracks (a resumed stream starts new ones;
  ids are never reused) and the depth pairing its buffered frames and camera_info.
- cleanup: stop the worker, destroy the publishers, release the model (CUDA cache and freed heap
  pages go back to the system).
- shutdown (from any state): as deactivate + cleanup; the node is then finalized.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from lifecycle_msgs.msg import State
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from centerpose_core.tracking import PoseTracker
from centerpose_ros.entrypoint import run_node, usage
from centerpose_ros.model_loader import (
    ModelLoadError,
    load_predictor,
    preload_inference_code,
    release_memory,
)
from centerpose_ros.params import (
    SPECS_BY_NAME,
    ParameterError,
    coerce,
    current_values,
    declare_parameters,
    read_parameters,
)
from centerpose_ros.pipeline import NODE_NAME, PosePipeline

PROGRAM = "centerpose-ros-lifecycle"
SUMMARY = (
    "CenterNet multi-person pose node as a managed (lifecycle) node: starts unconfigured;\n"
    "configure loads the model, activate subscribes to `image` and publishes /pose/detections,\n"
    "deactivate stops taking frames, cleanup frees the model. Drive it with a lifecycle manager or\n"
    "`ros2 lifecycle set /centerpose configure|activate|deactivate|cleanup|shutdown`."
)
STOP_TIMEOUT_S = 30.0


def _transition(callback: Callable[..., TransitionCallbackReturn]) -> Callable[..., TransitionCallbackReturn]:
    """Log an unexpected exception as one line (rclpy would turn it into ERROR silently)."""

    @functools.wraps(callback)
    def wrapper(self: LifecyclePoseNode, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            return callback(self, state)
        except Exception as exc:
            self.get_logger().error(f"{callback.__name__[3:]} failed: {type(exc).__name__}: {exc}")
            return TransitionCallbackReturn.ERROR

    return wrapper


class LifecyclePoseNode(LifecycleNode):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        declare_parameters(self, lock_structural=False)  # ParameterError -> caller exits with one line
        preload_inference_code()
        self.pipeline: PosePipeline | None = None
        self._tracker = PoseTracker()  # outlives pipelines: track ids are never reused in this process
        self.add_on_set_parameters_callback(self._on_set_parameters)
        model_path = self.get_parameter("model_path").value
        self.get_logger().info(f"unconfigured (model_path '{model_path}'); waiting for configure")

    # --- transitions ----------------------------------------------------------------------------
    @_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            params = read_parameters(self)
            predictor, backend_name = load_predictor(params)
            self.pipeline = PosePipeline(
                self, params, predictor, backend_name, lifecycle_publishers=True, tracker=self._tracker
            )
        except (ParameterError, ModelLoadError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f"configured (inactive): {self.pipeline.describe()}")
        return TransitionCallbackReturn.SUCCESS

    @_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # enable the publishers before the first frame arrives
        if result == TransitionCallbackReturn.SUCCESS:
            self.pipeline.start_input()
            self.get_logger().info(f"active: {self.pipeline.describe()}")
        return result

    @_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_input()
        result = super().on_deactivate(state)
        self.get_logger().info("inactive: not taking frames")
        return result

    @_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info("unconfigured: model released")
        return TransitionCallbackReturn.SUCCESS

    @_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.pipeline is not None:
            self._stop_input()
            self._release()
        self.get_logger().info(f"finalized (shut down from {state.label})")
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """After a failed transition: release everything and go back to unconfigured."""
        try:
            if self.pipeline is not None:
                self._release()
        except Exception as exc:
            self.get_logger().error(f"error recovery failed: {type(exc).__name__}: {exc}")
            return TransitionCallbackReturn.FAILURE  # -> finalized
        self.get_logger().warning(f"recovered from an error in {state.label}: unconfigured")
        return TransitionCallbackReturn.SUCCESS

    # --- helpers ----------------------------------------------------------------------------------
    def _stop_input(self) -> None:
        if self.pipeline.busy:
            self.get_logger().info("stopping input; waiting for the frame in flight")
        if not self.pipeline.stop_input(STOP_TIMEOUT_S):
            self.get_logger().warning(f"the frame in flight was still running after {STOP_TIMEOUT_S:.0f} s")

    def _release(self) -> None:
        self.pipeline.close(STOP_TIMEOUT_S)
        self.pipeline = None
        release_memory()

    def _on_set_parameters(self, parameters: list[Any]) -> SetParametersResult:
        """Every change is checked against the other parameters (cross-parameter rules too), in
        every state; a rejected one comes back as a failed result with the reason, never raises."""
        try:
            values = {p.name: coerce(p.name, p.value) for p in parameters}
            structural = sorted(name for name in values if SPECS_BY_NAME[name].read_only)
            if structural and self.pipeline is not None:
                raise ParameterError(
                    f"{', '.join(structural)} can change only while unconfigured (cleanup first)"
                )
            current = self.pipeline.params if self.pipeline is not None else current_values(self)
            updated = current.updated(values)
        except ParameterError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        except Exception as exc:  # a bug must not take the node down with a parameter change
            self.get_logger().error(f"parameter change refused: {type(exc).__name__}: {exc}")
            return SetParametersResult(successful=False, reason=f"{type(exc).__name__}: {exc}")
        if self.pipeline is not None:
            self.pipeline.params = updated  # one reference swap, as in the plain node
        return SetParametersResult(successful=True)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Process exit: shut down from whatever state the node is in (no-op once finalized)."""
        if self._state_machine.current_state[0] != State.PRIMARY_STATE_FINALIZED:
            self.trigger_shutdown()


def main(argv: list[str] | None = None) -> int:
    help_text = usage(PROGRAM, SUMMARY, "set while unconfigured")
    return run_node(PROGRAM, help_text, LifecyclePoseNode, NODE_NAME, argv)


if __name__ == "__main__":
    sys.exit(main())
