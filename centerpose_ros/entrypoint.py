"""What `centerpose-ros` and `centerpose-ros-lifecycle` share as processes: `--help`, argument
checks, SIGINT/SIGTERM handling, spinning, and a clean stop (the frame in flight finishes, exit 0)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from centerpose_ros.model_loader import ModelLoadError
from centerpose_ros.params import PARAM_SPECS, ParameterError

EXIT_USAGE = 2


def usage(program: str, summary: str, structural_note: str) -> str:
    """`--help` text: `structural_note` says when the structural parameters may change."""
    lines = [
        f"  {s.name} (default {s.default!r}{', ' + structural_note if s.read_only else ''}): {s.description}"
        for s in PARAM_SPECS
    ]
    return (
        f"usage: {program} [-h] [--ros-args -p NAME:=VALUE ... --params-file FILE -r image:=TOPIC]\n\n"
        f"{summary}\n\nparameters (defaults as in config/pose.yaml):\n" + "\n".join(lines)
    )


def run_node(
    program: str,
    help_text: str,
    make_node: Callable[[], Any],
    logger_name: str,
    argv: list[str] | None = None,
) -> int:
    """Run the node `make_node()` builds until SIGINT/SIGTERM; returns the exit code.

    The node must have `stop()`: finish the frame in flight and release the model.
    A ParameterError or ModelLoadError while building it is logged as one line (exit code 2).
    """
    argv = list(sys.argv if argv is None else argv)
    user_args = rclpy.utilities.remove_ros_args(argv)[1:]
    if user_args:
        if user_args[0] in ("-h", "--help"):
            print(help_text)
            return 0
        print(
            f"{program}: unexpected arguments {' '.join(user_args)} (ROS arguments go after --ros-args)\n",
            file=sys.stderr,
        )
        print(help_text, file=sys.stderr)
        return EXIT_USAGE

    stop = threading.Event()
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    node = None
    try:
        try:
            node = make_node()
        except (ParameterError, ModelLoadError) as exc:
            rclpy.logging.get_logger(logger_name).error(str(exc))
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
