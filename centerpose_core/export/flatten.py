"""The pose network as tracers and converters want it: a tuple of tensors, not a dict."""

from __future__ import annotations

import torch
from torch import nn

from centerpose_core.constants import MASK_HEAD_NAMES, output_head_names


class HeadsAsTuple(nn.Module):
    """Flattens PoseNet's dict output into a tuple in `output_head_names` order (the six heads,
    then `seg_feat`, `seg` for a mask model): the ONNX output names, and the order the torch2trt
    backend reads the converted module's outputs back in."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(x)
        masks = all(name in outputs for name in MASK_HEAD_NAMES)
        return tuple(outputs[name] for name in output_head_names(masks))
