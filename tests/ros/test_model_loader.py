"""The node's structural model parameters reach its Predictor (no DDS needed: the loader alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from centerpose_ros.model_loader import load_predictor
from centerpose_ros.params import NodeParameters

pytestmark = pytest.mark.ros


def test_fit_aspect_gives_a_camera_shaped_network_input(random_checkpoint: Path) -> None:
    """640x480 at input_size 128: the fitted input is 128x96 (96 = 480 * 128 / 640, a multiple of
    32), so the stride-4 maps are 32 wide and 24 high; without fit_aspect, the 128x128 square."""
    frame = np.zeros((480, 640, 3), np.uint8)
    base = {"model_path": str(random_checkpoint), "input_size": 128, "backend": "torch", "device": "cpu"}
    for fit_aspect, map_shape in ((True, (24, 32)), (False, (32, 32))):
        params = NodeParameters.defaults().updated({**base, "fit_aspect": fit_aspect})
        predictor, _ = load_predictor(params)
        assert predictor.head_maps([frame])["hm"].shape[-2:] == map_shape, f"fit_aspect={fit_aspect}"


def _openvino_capabilities() -> set[str]:
    ov = pytest.importorskip("openvino")
    return set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def test_auto_names_the_backend_and_precision_it_chose(
    random_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """backend and precision 'auto' on a CPU with OpenVINO: OpenVINO, in bf16 exactly where its
    OPTIMIZATION_CAPABILITIES (read here directly) list BF16; the name the ready line and
    /diagnostics carry says so."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("checks the CPU rows of the auto rule")
    expected = "bf16" if "BF16" in _openvino_capabilities() else "fp32"
    monkeypatch.setenv("CENTERPOSE_CACHE", str(tmp_path))  # the checkpoint's ONNX export goes here
    params = NodeParameters.defaults().updated(
        {"model_path": str(random_checkpoint), "input_size": 64, "device": "cpu"}
    )
    predictor, name = load_predictor(params)
    assert name == f"openvino/{expected}/cpu" and predictor.precision == expected


def test_a_precision_the_machine_cannot_run_is_one_load_error(random_checkpoint: Path) -> None:
    from centerpose_ros.model_loader import ModelLoadError

    params = NodeParameters.defaults().updated(
        {"model_path": str(random_checkpoint), "input_size": 64, "backend": "torch", "precision": "bf16"}
    )
    with pytest.raises(ModelLoadError) as info:
        load_predictor(params)
    message = str(info.value)
    assert "\n" not in message and "precision bf16" in message and "torch runs fp32 only" in message
