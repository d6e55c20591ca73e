"""DLA-34 backbone ("Deep Layer Aggregation", Yu et al., CVPR 2018), as used by CenterNet.

Hierarchical deep aggregation: `Tree`s of `BasicBlock`s whose outputs are merged by `Root`
nodes, six levels with strides 1, 2, 4, 8, 16, 32. Module and parameter names match
xingyizhou/CenterNet's `pose_dla_dcn.py` so its checkpoints load strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

BN_MOMENTUM = 0.1


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (the residual may come from outside)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if residual is None:
            residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Root(nn.Module):
    """Aggregation node: 1x1 conv-BN-ReLU over the concatenated children."""

    def __init__(self, in_channels: int, out_channels: int, residual: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.residual = residual

    def forward(self, *children: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(torch.cat(children, 1)))
        if self.residual:
            x = x + children[0]
        return self.relu(x)


class Tree(nn.Module):
    """A level of hierarchical aggregation: two subtrees (or blocks) merged by a Root.

    NOTE: as upstream, a tree with `levels > 1` owns a `project` layer whose output its first
    subtree ignores (that subtree recomputes its own residual); the layer is kept so the
    parameter layout matches the checkpoints, skipped at run time and frozen (it can never get
    a gradient, and DistributedDataParallel would otherwise wait for one).
    """

    def __init__(
        self,
        levels: int,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        level_root: bool = False,
        root_dim: int = 0,
    ) -> None:
        super().__init__()
        if root_dim == 0:
            root_dim = 2 * out_channels
        if level_root:
            root_dim += in_channels
        if levels == 1:
            self.tree1: nn.Module = BasicBlock(in_channels, out_channels, stride)
            self.tree2: nn.Module = BasicBlock(out_channels, out_channels, 1)
            self.root = Root(root_dim, out_channels)
        else:
            self.tree1 = Tree(levels - 1, in_channels, out_channels, stride, root_dim=0)
            self.tree2 = Tree(levels - 1, out_channels, out_channels, root_dim=root_dim + out_channels)
        self.level_root = level_root
        self.levels = levels
        self.downsample = nn.MaxPool2d(stride, stride=stride) if stride > 1 else None
        self.project = None
        if in_channels != out_channels:
            self.project = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=False),
                nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
            )
            if levels > 1:
                self.project.requires_grad_(False)

    def forward(
        self,
        x: torch.Tensor,
        residual: torch.Tensor | None = None,
        children: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample is not None else x
        if self.level_root:
            children.append(bottom)
        if self.levels == 1:
            residual = self.project(bottom) if self.project is not None else bottom
            x1 = self.tree1(x, residual)
            x2 = self.tree2(x1)
            return self.root(x2, x1, *children)
        x1 = self.tree1(x)
        children.append(x1)
        return self.tree2(x1, children=children)


@dataclass(frozen=True)
class FeatureInfo:
    """Channels and stride of one backbone output level."""

    channels: int
    reduction: int


class DLA(nn.Module):
    """DLA backbone returning the six level outputs (strides 1..32).

    `feature_info` declares each level's channels and stride so the neck does not hard-code them.
    """

    def __init__(self, levels: tuple[int, ...], channels: tuple[int, ...]) -> None:
        super().__init__()
        self.channels = channels
        self.feature_info = [FeatureInfo(c, 2**i) for i, c in enumerate(channels)]
        self.base_layer = nn.Sequential(
            nn.Conv2d(3, channels[0], kernel_size=7, stride=1, padding=3, bias=False),
            nn.BatchNorm2d(channels[0], momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
        )
        self.level0 = _conv_level(channels[0], channels[0], levels[0])
        self.level1 = _conv_level(channels[0], channels[1], levels[1], stride=2)
        self.level2 = Tree(levels[2], channels[1], channels[2], 2, level_root=False)
        self.level3 = Tree(levels[3], channels[2], channels[3], 2, level_root=True)
        self.level4 = Tree(levels[4], channels[3], channels[4], 2, level_root=True)
        self.level5 = Tree(levels[5], channels[4], channels[5], 2, level_root=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.base_layer(x)
        features = []
        for level in (self.level0, self.level1, self.level2, self.level3, self.level4, self.level5):
            x = level(x)
            features.append(x)
        return features


def _conv_level(in_channels: int, out_channels: int, convs: int, stride: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(in_channels, out_channels, 3, stride=stride if i == 0 else 1, padding=1, bias=False),
            nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        in_channels = out_channels
    return nn.Sequential(*layers)


def dla34() -> DLA:
    """DLA-34: levels (1, 1, 1, 2, 2, 1), channels (16, 32, 64, 128, 256, 512)."""
    return DLA(levels=(1, 1, 1, 2, 2, 1), channels=(16, 32, 64, 128, 256, 512))
