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
