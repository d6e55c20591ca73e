"""The node's parameters, declared in one place: names, defaults, descriptions and constraints.

Defaults here equal `config/pose.yaml` (a test keeps them in step). Numeric parameters are
declared with dynamic typing and validated here, because rclpy otherwise rejects
`-p score_threshold:=0` (an integer for a float parameter) and kills the node at start-up.
Structural parameters (model, backend, QoS, topics; `read_only` below) are read-only in the plain
node; the lifecycle node accepts them while unconfigured and applies them at the next `configure`.
Thresholds, `max_persons`, the publish switches and the tracking / depth settings may be changed
at run time with `ros2 param set`; a change applies from the next frame.

The tracker's and the depth lifting's settings are not retyped here: their parameters are generated
from the core's config dataclasses (`tracking_<field>` from TrackerConfig, `depth_<field>` from
DepthLiftConfig), with the defaults and one-line descriptions those dataclasses declare, and are
validated by building the dataclass (so cross-field rules such as low <= high score threshold hold).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from centerpose_core.geometry import DepthLiftConfig
from centerpose_core.model_formats import BACKEND_NAMES as BACKENDS
from centerpose_core.model_formats import PRECISIONS
from centerpose_core.tracking import TrackerConfig
from centerpose_core.tracking.gyro import imu_to_camera_rotation

RELIABILITIES = ("reliable", "best_effort")
DEPTH_SYNC_CHOICES = ("auto", "message_filters", "builtin")
TRACKING_PREFIX, DEPTH_PREFIX = "tracking_", "depth_"
MAX_SYNC_TOLERANCE_S = 1.0


class ParameterError(ValueError):
    """A parameter value the node cannot run with; the message names the parameter and the fix."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    read_only: bool
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None


_NODE_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("model_path", "", "Model file: a checkpoint (.pth), an ONNX file or a TensorRT engine.", True),
    ParamSpec(
        "backend",
        "auto",
        "Inference backend: auto, tensorrt, onnxruntime, torch, torch2trt or openvino.",
        True,
        BACKENDS,
    ),
    ParamSpec(
        "precision",
        "auto",
        "Arithmetic precision: auto (the fastest whose accuracy cost is known on this machine: "
        "the README's rule table), fp32, bf16, fp16 or int8; one the machine cannot run stops "
        "the node with an error naming what can.",
        True,
        PRECISIONS,
    ),
    ParamSpec(
        "device",
        "auto",
        "Device for the torch backend and decoding, e.g. cpu or cuda:0; auto = "
        "cuda:0 when available, else cpu.",
        True,
    ),
    ParamSpec(
        "input_size",
        512,
        "Side of the square network input in pixels (a multiple of 32).",
        True,
        min_value=32,
        max_value=4096,
    ),
    ParamSpec(
        "fit_aspect",
        False,
        "Fit the network input to the camera image's aspect instead of a square: the longer side "
        "input_size, the other rounded up to a multiple of 32 (640x480 -> 512x384), so no compute goes "
        "into letterbox rows. Backends torch, onnxruntime, openvino.",
        True,
    ),
    ParamSpec("flip_test", False, "Average with the mirrored image (about 2x the inference time).", True),
    ParamSpec(
        "score_threshold",
        0.3,
        "Persons scoring below this are not published (same meaning as `centerpose predict --threshold`).",
        False,
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "keypoint_threshold",
        0.1,
        "Joints at or below this score are not drawn in the annotated image "
        "or the markers; messages always carry all 17 keypoints with their scores.",
        False,
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "max_persons",
        20,
        "At most this many persons per image, highest scores first.",
        False,
        min_value=1,
        max_value=100,
    ),
    ParamSpec(
        "image_reliability",
        "reliable",
        "QoS reliability of the image subscription (keep-last 1): "
        "reliable or best_effort. Must be best_effort for a best-effort camera publisher.",
        True,
        RELIABILITIES,
    ),
    ParamSpec(
        "use_compressed",
        False,
        "Also subscribe to `image/compressed` (sensor_msgs/CompressedImage, jpeg or png).",
        True,
    ),
    ParamSpec(
        "publish_annotated",
        True,
        "Publish /pose/image_annotated (drawn only while it has subscribers).",
        False,
    ),
    ParamSpec("publish_markers", True, "Publish /pose/markers (RViz MarkerArray in the image frame).", False),
)
_TRACKING_SWITCH = (
    ParamSpec(
        "tracking",
        True,
        "Give persons track ids across frames (PersonPose.id >= 1; -1 until a track is confirmed). "
        "Runs after score_threshold on every processed frame; turning it off or on starts afresh.",
        False,
    ),
    ParamSpec(
        "tracking_camera_motion",
        True,
        "Compensate camera motion (a panning robot head or base): estimate each frame's shift from "
        "the background of the image (OpenCV sparse flow, person boxes masked out; about 2-3 ms "
        "per 640x480 frame) and move every track by it before matching.",
        False,
    ),
    ParamSpec(
        "tracking_imu_topic",
        "",
        "sensor_msgs/Imu topic of a gyro fixed to the camera (empty: none). Its angular velocity, "
        "integrated between image stamps, gives the camera's turn, and every track is moved by it "
        "(K from the `camera_info` topic next to `image`, else fx = fy = image width). Frames it "
        "does not cover fall back to tracking_camera_motion (if on) or to none.",
        True,
    ),
    ParamSpec(
        "tracking_imu_to_camera",
        "rep103",
        "How the IMU's axes sit on the camera: rep103 (x forward, y left, z up, looking along the "
        "camera), optical (x right, y down, z forward, as the camera's optical frame) or a "
        "quaternion 'x y z w' of the camera optical frame in the IMU frame (as tf2_echo IMU CAMERA prints).",
        True,
    ),
)
_DEPTH_SWITCHES = (
    ParamSpec(
        "use_depth",
        False,
        "Also subscribe to `depth/image` (aligned 16UC1 mm / 32FC1 m) and `depth/camera_info` "
        "and publish /pose/detections_3d and /pose/markers_3d.",
        True,
    ),
    ParamSpec(
        "depth_sync",
        "auto",
        "How colour and depth frames are paired (nearest stamp either way): message_filters "
        "(its Cache), builtin (a small nearest-stamp buffer) or auto (message_filters when importable).",
        True,
        DEPTH_SYNC_CHOICES,
    ),
    ParamSpec(
        "depth_rectified",
        True,
        "The depth image is rectified (aligned_depth_to_color, image_rect): read it with "
        "depth/camera_info's P (fx', fy', cx', cy'), as image_geometry and depth_image_proc do; "
        "false: with K. A non-zero D on a rectified image is warned about once.",
        True,
    ),
    ParamSpec(
        "depth_sync_tolerance",
        0.05,
        "Seconds: a colour frame is paired with the depth frame of nearest stamp when they differ "
        "by at most this; otherwise it gets 2D output only (counted as depth_unpaired).",
        False,
        min_value=0.0,
        max_value=MAX_SYNC_TOLERANCE_S,
    ),
)


def _config_specs(config_type: type, prefix: str) -> tuple[ParamSpec, ...]:
    """One run-time parameter per field of a core config dataclass: its default and description."""
    descriptions = config_type.describe()
    return tuple(
        ParamSpec(prefix + f.name, f.default, descriptions[f.name], False) for f in fields(config_type)
    )


TRACKING_SPECS = _config_specs(TrackerConfig, TRACKING_PREFIX)
DEPTH_LIFT_SPECS = _config_specs(DepthLiftConfig, DEPTH_PREFIX)
PARAM_SPECS = _NODE_SPECS + _TRACKING_SWITCH + TRACKING_SPECS + _DEPTH_SWITCHES + DEPTH_LIFT_SPECS
SPECS_BY_NAME = {spec.name: spec for spec in PARAM_SPECS}
# parameter name -> (config dataclass, field name), for the generated parameters
_CONFIG_FIELDS: dict[str, tuple[type, str]] = {
    **{spec.name: (TrackerConfig, spec.name[len(TRACKING_PREFIX) :]) for spec in TRACKING_SPECS},
    **{spec.name: (DepthLiftConfig, spec.name[len(DEPTH_PREFIX) :]) for spec in DEPTH_LIFT_SPECS},
}


@dataclass(frozen=True)
class NodeParameters:
    """Validated values of every parameter in PARAM_SPECS.

    Field names are the parameter names, except for the generated `tracking_<field>` and
    `depth_<field>` parameters, which live in `tracker_config` and `depth_config` (the core's own
    config objects, ready for PoseTracker and lift_persons). `as_values()` gives them all flat.
    """

    model_path: str
    backend: str
    precision: str
    device: str
    input_size: int
    fit_aspect: bool
    flip_test: bool
    score_threshold: float
    keypoint_threshold: float
    max_persons: int
    image_reliability: str
    use_compressed: bool
    publish_annotated: bool
    publish_markers: bool
    tracking: bool
    tracking_camera_motion: bool
    tracking_imu_topic: str
    tracking_imu_to_camera: str
    use_depth: bool
    depth_sync: str
    depth_rectified: bool
    depth_sync_tolerance: float
    tracker_config: TrackerConfig
    depth_config: DepthLiftConfig

    @classmethod
    def defaults(cls) -> NodeParameters:
        """The declared defaults (model_path empty: not runnable until set)."""
        return _build({spec.name: spec.default for spec in PARAM_SPECS})

    def as_values(self) -> dict[str, Any]:
        """Parameter name -> value for every parameter in PARAM_SPECS."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name in SPECS_BY_NAME}
        for name, (config_type, field_name) in _CONFIG_FIELDS.items():
            config = self.tracker_config if config_type is TrackerConfig else self.depth_config
            values[name] = getattr(config, field_name)
        return values

    def updated(self, values: dict[str, Any]) -> NodeParameters:
        """A copy with `values` (raw parameter values) validated and applied."""
        checked = {name: coerce(name, value) for name, value in values.items()}
        return _build({**self.as_values(), **checked})


def _build(values: dict[str, Any]) -> NodeParameters:
    """NodeParameters from already coerced values of every parameter (builds the core configs)."""
    plain = {f.name: values[f.name] for f in fields(NodeParameters) if f.name in SPECS_BY_NAME}
    return NodeParameters(
        **plain,
        tracker_config=_config(TrackerConfig, TRACKING_PREFIX, values),
        depth_config=_config(DepthLiftConfig, DEPTH_PREFIX, values),
    )


def _config(config_type: type, prefix: str, values: dict[str, Any]) -> Any:
    """Build a core config from its prefixed parameters; its own checks name the bad parameter(s)."""
    settings = {f.name: values[prefix + f.name] for f in fields(config_type)}
    try:
        return config_type(**settings)
    except ValueError as exc:
        named = [prefix + name for name in settings if re.search(rf"\b{name}\b", str(exc))]
        listed = ", ".join(repr(name) for name in named) or f"{prefix}*"
        raise ParameterError(f"parameter{'s' if len(named) > 1 else ''} {listed}: {exc}") from None


def coerce(name: str, value: Any) -> Any:
    """Validate one raw parameter value and return it in its declared type.

    Floats accept whole numbers, integers accept integral floats (2.0), booleans accept only
    booleans; ranges and choices are checked. Raises ParameterError naming the parameter.
    """
    spec = SPECS_BY_NAME.get(name)
    if spec is None:
        raise ParameterError(f"unknown parameter {name!r}")
    default = spec.default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ParameterError(f"parameter {name!r} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
            raise ParameterError(f"parameter {name!r} must be a whole number, got {value!r}")
        result: Any = int(value)
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"parameter {name!r} must be a number, got {value!r}")
        result = float(value)
    else:
        if not isinstance(value, str):
            raise ParameterError(f"parameter {name!r} must be a string, got {value!r}")
        result = value.strip()
        if spec.choices and result not in spec.choices:
            raise ParameterError(
                f"parameter {name!r} must be one of {', '.join(spec.choices)}; got {value!r}"
            )
    if spec.min_value is not None and result < spec.min_value:
        raise ParameterError(f"parameter {name!r} must be >= {spec.min_value}, got {value!r}")
    if spec.max_value is not None and result > spec.max_value:
        raise ParameterError(f"parameter {name!r} must be <= {spec.max_value}, got {value!r}")
    if name == "tracking_imu_to_camera":
        try:
            imu_to_camera_rotation(result)
        except ValueError as exc:
            raise ParameterError(f"parameter {name!r} {exc}") from None
    if name == "input_size" and result % 32 != 0:
        raise ParameterError(f"parameter 'input_size' must be a multiple of 32, got {value!r}")
    return result


def from_values(values: dict[str, Any]) -> NodeParameters:
    """Build NodeParameters from raw values of every declared parameter (validating each)."""
    missing = [spec.name for spec in PARAM_SPECS if spec.name not in values]
    if missing:
        raise ParameterError(f"missing parameters: {', '.join(missing)}")
    params = _build({spec.name: coerce(spec.name, values[spec.name]) for spec in PARAM_SPECS})
    if not params.model_path:
        raise ParameterError(
            "parameter 'model_path' is empty: set it to a checkpoint (.pth), ONNX file or TensorRT engine "
            "(-p model_path:=/path/to/model.pth)"
        )
    return params


def declare_parameters(node: Any, *, lock_structural: bool = True) -> None:
    """Declare every parameter on an rclpy node (dynamic typing, ranges for tools).

    `lock_structural`: declare the structural parameters read-only (plain node); the lifecycle
    node leaves them writable and refuses changes itself unless unconfigured.
    Raises ParameterError for an override rclpy rejects (e.g. out of a declared range).
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    from rclpy.exceptions import InvalidParameterValueException

    for spec in PARAM_SPECS:
        constraints = []
        if spec.choices:
            constraints.append("one of " + ", ".join(spec.choices))
        if spec.min_value is not None:
            constraints.append(f"range [{spec.min_value}, {spec.max_value}]")
        if spec.read_only and not lock_structural:
            constraints.append("changes only while unconfigured; applied at the next configure")
        descriptor = ParameterDescriptor(
            name=spec.name,
            description=spec.description,
            additional_constraints="; ".join(constraints),
            read_only=spec.read_only and lock_structural,
            dynamic_typing=True,
        )
        # Ranges also for tools (rqt_reconfigure); rclpy checks them only when the value's type matches.
        if spec.min_value is not None and isinstance(spec.default, float):
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=spec.min_value, to_value=spec.max_value)
            ]
        elif spec.min_value is not None:
            step = 32 if spec.name == "input_size" else 1
            descriptor.integer_range = [
                IntegerRange(from_value=int(spec.min_value), to_value=int(spec.max_value), step=step)
            ]
        try:
            node.declare_parameter(spec.name, spec.default, descriptor)
        except InvalidParameterValueException as exc:
            raise ParameterError(f"parameter {spec.name!r}: invalid value ({exc})") from None


def current_values(node: Any) -> NodeParameters:
    """The node's current parameter values as NodeParameters, without requiring a model path
    (the base an unconfigured lifecycle node checks a change against)."""
    return _build({spec.name: coerce(spec.name, node.get_parameter(spec.name).value) for spec in PARAM_SPECS})


def read_parameters(node: Any) -> NodeParameters:
    """The node's current parameter values, validated; raises ParameterError naming the first problem."""
    return from_values({spec.name: node.get_parameter(spec.name).value for spec in PARAM_SPECS})
