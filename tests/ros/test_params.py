"""Parameter validation without ROS: types (whole numbers for floats), ranges, choices, read-only flags,
and the tracking_* / depth_* parameters generated from the core's config dataclasses."""

from __future__ import annotations

from dataclasses import fields

import pytest

from centerpose_core.geometry import DepthLiftConfig
from centerpose_core.tracking import TrackerConfig
from centerpose_ros.params import (
    PARAM_SPECS,
    SPECS_BY_NAME,
    NodeParameters,
    ParameterError,
    coerce,
    from_values,
)


def test_whole_numbers_accepted_for_float_parameters() -> None:
    assert coerce("score_threshold", 0) == 0.0 and isinstance(coerce("score_threshold", 0), float)
    assert coerce("keypoint_threshold", 1) == 1.0


def test_integral_floats_accepted_for_integer_parameters() -> None:
    assert coerce("max_persons", 7.0) == 7 and isinstance(coerce("max_persons", 7.0), int)
    with pytest.raises(ParameterError, match="max_persons"):
        coerce("max_persons", 7.5)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("score_threshold", 1.5, "<= 1.0"),
        ("score_threshold", -0.1, ">= 0.0"),
        ("score_threshold", "high", "must be a number"),
        ("max_persons", 0, ">= 1"),
        ("input_size", 500, "multiple of 32"),
        ("backend", "cuda", "auto, tensorrt, onnxruntime, torch"),
        ("precision", "int4", "auto, fp32, bf16, fp16, int8"),
        ("image_reliability", "sensor_data", "reliable, best_effort"),
        ("flip_test", 1, "true or false"),
        ("score_threshold", True, "must be a number"),
        ("depth_sync", "approximate", "auto, message_filters, builtin"),
        ("depth_sync_tolerance", 1.5, "<= 1.0"),
        ("tracking_confirm_hits", 2.5, "whole number"),
        ("tracking", "yes", "true or false"),
        ("tracking_imu_to_camera", "0 0 0.5 0.5", "length 0.7071"),
        ("tracking_imu_to_camera", "1 0 0", "rep103, optical or a quaternion"),
    ],
)
def test_invalid_values_name_the_parameter(name: str, value: object, needle: str) -> None:
    with pytest.raises(ParameterError) as info:
        coerce(name, value)
    assert name in str(info.value) and needle in str(info.value)


def test_defaults_need_only_a_model_path() -> None:
    defaults = NodeParameters.defaults()
    with pytest.raises(ParameterError, match="model_path"):
        from_values(defaults.as_values())
    params = from_values({**defaults.as_values(), "model_path": "/m.pth"})
    assert params.image_reliability == "reliable" and params.backend == "auto"
    assert params.tracking and not params.use_depth and params.depth_sync_tolerance == 0.05
    assert params.tracker_config == TrackerConfig() and params.depth_config == DepthLiftConfig()


def test_structural_parameters_are_read_only_and_thresholds_dynamic() -> None:
    read_only = {name for name, spec in SPECS_BY_NAME.items() if spec.read_only}
    assert read_only == {
        "model_path",
        "backend",
        "precision",
        "device",
        "input_size",
        "fit_aspect",
        "flip_test",
        "image_reliability",
        "use_compressed",
        "use_depth",
        "depth_sync",
        "depth_rectified",
        "tracking_imu_topic",
        "tracking_imu_to_camera",
    }


def test_updated_validates_and_keeps_other_values() -> None:
    params = from_values({**NodeParameters.defaults().as_values(), "model_path": "/m.pth"})
    changed = params.updated({"score_threshold": 1})
    assert changed.score_threshold == 1.0 and changed.max_persons == params.max_persons
    with pytest.raises(ParameterError):
        params.updated({"score_threshold": 3})


@pytest.mark.parametrize(
    ("config_type", "prefix"), [(TrackerConfig, "tracking_"), (DepthLiftConfig, "depth_")]
)
def test_config_parameters_are_generated_from_the_core_dataclass(config_type: type, prefix: str) -> None:
    """One source of truth: every field is a run-time parameter with the field's default and help."""
    help_texts = config_type.describe()
    for f in fields(config_type):
        spec = SPECS_BY_NAME[prefix + f.name]
        assert spec.default == f.default and type(spec.default) is type(f.default)
        assert spec.description == help_texts[f.name] and not spec.read_only
    generated = [
        s.name for s in PARAM_SPECS if s.name.startswith(prefix) and s.name[len(prefix) :] in help_texts
    ]
    assert len(generated) == len(fields(config_type))


def test_config_parameters_reach_the_core_configs_and_their_checks_name_the_parameter() -> None:
    params = from_values({**NodeParameters.defaults().as_values(), "model_path": "/m.pth"})
    changed = params.updated({"tracking_confirm_hits": 1.0, "tracking_lost_timeout_s": 4, "depth_window": 7})
    assert changed.tracker_config == TrackerConfig(confirm_hits=1, lost_timeout_s=4.0)
    assert changed.depth_config == DepthLiftConfig(window=7)
    assert (
        changed.as_values()["tracking_confirm_hits"] == 1
        and changed.score_threshold == params.score_threshold
    )
    # The dataclasses' own rules, across fields too, come back naming the ROS parameters.
    with pytest.raises(ParameterError) as info:
        params.updated({"tracking_low_score_threshold": 0.7})
    assert "'tracking_low_score_threshold'" in str(info.value) and "must not exceed" in str(info.value)
    with pytest.raises(ParameterError, match="'depth_window'.*odd"):
        params.updated({"depth_window": 4})
    with pytest.raises(ParameterError, match="'tracking_match_threshold'"):
        params.updated({"tracking_match_threshold": 0})
    # 'match_threshold' is also part of 'low_match_threshold': only the bad one is named.
    with pytest.raises(ParameterError) as info:
        params.updated({"tracking_low_match_threshold": 0})
    assert "'tracking_match_threshold'" not in str(info.value)
