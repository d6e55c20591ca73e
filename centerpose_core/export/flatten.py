"""The pose network as tracers and converters want it: a tuple of tensors, not a dict."""

from __future__ import annotations

import torch
from torch import nn

from centerpose_core.constants import HEAD_NAMES


class HeadsAsTuple(nn.Module):
    """Flattens PoseNet's dict output into a tuple in `HEAD_NAMES` order (the ONNX output names,
    and the order the torch2trt backend reads the converted module's outputs back in)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(x)
        return tuple(outputs[name] for name in HEAD_NAMES)
