"""Device names: what 'auto' means, in one place (the Predictor, the CLI, the ROS node, training)."""

from __future__ import annotations

AUTO_DEVICE = "auto"


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda:0' when torch sees a CUDA GPU, else 'cpu'; any other name is returned as is."""
    if device != AUTO_DEVICE:
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"
