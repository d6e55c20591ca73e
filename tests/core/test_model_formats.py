"""The model-format registry: suffixes, backend names, what each backend accepts, 'auto' devices."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import torch

from centerpose_core.devices import resolve_device
from centerpose_core.model_formats import (
    BACKEND_NAMES,
    BACKENDS,
    CHECKPOINT,
    MODULE,
    ONNX,
    TENSORRT_ENGINE,
    TORCH2TRT_MODULE,
    backend_spec,
    check_backend_accepts,
    model_format,
    native_backend,
)


@pytest.mark.parametrize(
    ("model", "fmt"),
    [
        ("multi_pose_dla_3x.pth", CHECKPOINT),
        (Path("weights/model_best.PT"), CHECKPOINT),
        ("no_suffix", CHECKPOINT),
        ("pose.onnx", ONNX),
        (Path("POSE.ONNX"), ONNX),
        ("robot.engine", TENSORRT_ENGINE),
        ("robot.plan", TENSORRT_ENGINE),
        ("robot.trt", TENSORRT_ENGINE),
        ("converted.trtm", TORCH2TRT_MODULE),
        (torch.nn.Identity(), MODULE),
    ],
)
def test_format_by_suffix(model, fmt):
    assert model_format(model) == fmt


def test_each_format_has_the_backend_that_runs_it_as_is():
    assert native_backend(CHECKPOINT) == native_backend(MODULE) == "torch"
    assert native_backend(ONNX) == "onnxruntime"
    assert native_backend(TENSORRT_ENGINE) == "tensorrt"
    assert native_backend(TORCH2TRT_MODULE) == "torch2trt"


def test_backend_names_are_the_registry_plus_auto():
    assert BACKEND_NAMES == ("auto", "tensorrt", "onnxruntime", "torch", "torch2trt", "openvino")
    with pytest.raises(ValueError, match=r"unknown backend 'tflite'; choose one of auto, tensorrt"):
        backend_spec("tflite")


def test_a_backend_refuses_a_format_it_cannot_run_and_names_those_that_can():
    with pytest.raises(
        ValueError, match=r"pose\.onnx \(onnx\) .* backend 'torch'; use backend 'tensorrt' or 'onnxruntime'"
    ):
        check_backend_accepts("torch", "pose.onnx")
    with pytest.raises(ValueError, match=r"use backend 'tensorrt'$"):
        check_backend_accepts("onnxruntime", "robot.engine")
    check_backend_accepts("tensorrt", "pose.onnx")  # builds the engine itself
    check_backend_accepts("onnxruntime", "model.pth")  # exports on first use


@pytest.mark.parametrize("spec", BACKENDS, ids=lambda spec: spec.name)
def test_every_factory_exists_and_takes_the_common_arguments(spec):
    module_name, function_name = spec.factory.split(":")
    factory = getattr(importlib.import_module(module_name), function_name)
    parameters = inspect.signature(factory).parameters
    assert list(parameters)[0] == "model"
    assert parameters["device"].kind is parameters["input_size"].kind is inspect.Parameter.KEYWORD_ONLY


def test_auto_device():
    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
