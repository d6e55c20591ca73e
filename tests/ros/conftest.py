"""Session fixtures of the ROS tests: seeded random weights and the reference Predictor."""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_INPUT_SIZE = 128  # keep in step with ros_helpers.TEST_INPUT_SIZE


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded random weights (varied outputs, see random_weights.py) in CenterNet checkpoint format."""
    from centerpose_core.model.random_weights import save_random_checkpoint

    return save_random_checkpoint(tmp_path_factory.mktemp("ros_model") / "random_seed0.pth", seed=0)


@pytest.fixture(scope="session")
def reference_predictor(random_checkpoint: Path):
    """The Predictor the node must agree with: same weights, same input size, in this process."""
    from centerpose_core.runtime import Predictor

    return Predictor(str(random_checkpoint), backend="torch", device="cpu", input_size=TEST_INPUT_SIZE)
