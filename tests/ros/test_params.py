"""Parameter validation without ROS: types (whole numbers for floats), ranges, choices, read-only flags."""

from __future__ import annotations

import pytest

from centerpose_ros.params import SPECS_BY_NAME, NodeParameters, ParameterError, coerce, from_values


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
        ("image_reliability", "sensor_data", "reliable, best_effort"),
        ("flip_test", 1, "true or false"),
        ("score_threshold", True, "must be a number"),
    ],
)
def test_invalid_values_name_the_parameter(name: str, value: object, needle: str) -> None:
    with pytest.raises(ParameterError) as info:
        coerce(name, value)
    assert name in str(info.value) and needle in str(info.value)


def test_defaults_need_only_a_model_path() -> None:
    defaults = NodeParameters.defaults()
    with pytest.raises(ParameterError, match="model_path"):
        from_values(vars(defaults))
    params = from_values({**vars(defaults), "model_path": "/m.pth"})
    assert params.image_reliability == "reliable" and params.backend == "auto"


def test_structural_parameters_are_read_only_and_thresholds_dynamic() -> None:
    read_only = {name for name, spec in SPECS_BY_NAME.items() if spec.read_only}
    assert read_only == {
        "model_path",
        "backend",
        "device",
        "input_size",
        "flip_test",
        "image_reliability",
        "use_compressed",
    }


def test_updated_validates_and_keeps_other_values() -> None:
    params = from_values({**vars(NodeParameters.defaults()), "model_path": "/m.pth"})
    changed = params.updated({"score_threshold": 1})
    assert changed.score_threshold == 1.0 and changed.max_persons == params.max_persons
    with pytest.raises(ParameterError):
        params.updated({"score_threshold": 3})
