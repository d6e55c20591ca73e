"""launch/pose.launch.py: in step with the `centerpose-ros` console script the other tests run.

`launch_ros` is not installable from PyPI, so the launch description itself is only built where
it imports; the static checks below run everywhere.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from centerpose_ros.params import PARAM_SPECS

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILE = REPO / "launch" / "pose.launch.py"
ARGUMENTS = {
    "image",
    "params_file",
    "model_path",
    "backend",
    "namespace",
    "lifecycle",
    "use_depth",
    "depth_image",
    "depth_camera_info",
}


def _constants() -> dict[str, object]:
    tree = ast.parse(LAUNCH_FILE.read_text())
    return {
        target.id: ast.literal_eval(stmt.value)
        for stmt in tree.body
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
        for target in stmt.targets
        if isinstance(target, ast.Name)
    }


def _declared_arguments() -> set[str]:
    tree = ast.parse(LAUNCH_FILE.read_text())
    return {
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "DeclareLaunchArgument"
    }


def test_launch_file_matches_the_console_script() -> None:
    constants = _constants()
    assert constants["EXECUTABLE"] == "centerpose-ros"
    assert constants["LIFECYCLE_EXECUTABLE"] == "centerpose-ros-lifecycle"
    setup_py = (REPO / "setup.py").read_text()
    assert "centerpose-ros = centerpose_ros.node:main" in setup_py
    assert "centerpose-ros-lifecycle = centerpose_ros.lifecycle_node:main" in setup_py
    try:
        from centerpose_ros.node import NODE_NAME
    except ImportError:  # rclpy / centerpose_msgs missing: the rest still holds
        NODE_NAME = constants["NODE_NAME"]
    assert constants["NODE_NAME"] == NODE_NAME
    assert constants["DEFAULT_IMAGE_TOPIC"] == "/camera/image_raw"
    assert _declared_arguments() == ARGUMENTS
    # Launch arguments that set parameters must name real parameters.
    assert {"model_path", "backend", "use_depth"} <= {spec.name for spec in PARAM_SPECS}
    text = LAUNCH_FILE.read_text()
    assert '"config", "pose.yaml"' in text and '("image", image)' in text
    try:  # the node's depth topics are the ones the launch file remaps
        from centerpose_ros.steps.depth import CAMERA_INFO_TOPIC, DEPTH_TOPIC
    except ImportError:
        DEPTH_TOPIC, CAMERA_INFO_TOPIC = "depth/image", "depth/camera_info"
    assert f'("{DEPTH_TOPIC}",' in text and f'("{CAMERA_INFO_TOPIC}",' in text


def test_launch_description_builds_where_launch_ros_exists() -> None:
    if importlib.util.find_spec("launch_ros") is None:
        pytest.skip("launch_ros is not importable here (not on PyPI); the launch file is checked statically")
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import LifecycleNode, Node

    from launch import LaunchContext

    spec = importlib.util.spec_from_file_location("pose_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    declared = {e.name: e for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert set(declared) == ARGUMENTS
    assert all(arg.description for arg in declared.values())
    context = LaunchContext()
    context.launch_configurations.update(
        image="/cam/rgb",
        params_file=str(REPO / "config" / "pose.yaml"),
        model_path="/m.pth",
        backend="",
        namespace="robot1",
        lifecycle="false",
        use_depth="",
        depth_image="/cam/depth",
        depth_camera_info="/cam/depth_info",
    )
    (node,) = module._pose_node(context)
    assert isinstance(node, Node) and not isinstance(node, LifecycleNode)
    context.launch_configurations.update(lifecycle="true")
    (managed,) = module._pose_node(context)
    assert isinstance(managed, LifecycleNode)
