"""CenterNet multi-pose network: DLA-34 backbone, DLAUp/IDAUp neck, six 3x3-1x1 heads.

"Objects as Points" (Zhou et al., 2019) with the DLA-34 + DCN configuration of the official
`multi_pose_dla_3x` model. Layout and names follow upstream's `DLASeg` so that its
state_dict (410 entries, 20,112,346 parameters) loads strictly.
"""

from __future__ import annotations

import torch
from torch import nn

from centerpose_core.constants import DOWN_RATIO, HEADS, MASK_HEADS
from centerpose_core.model.dla import dla34
from centerpose_core.model.neck import DLAUp, IDAUp

HEATMAP_PRIOR_BIAS = -2.19  # sigmoid(-2.19) ~= 0.1: CenterNet's focal-loss prior for heatmap heads


class PoseNet(nn.Module):
    """Image batch -> dict of head logits.

    Input: (B, 3, H, W) normalised BGR, H and W multiples of 32.
    Output (stride 4, H' = H / 4, W' = W / 4), raw logits (no sigmoid):
        hm        (B, 1, H', W')   person-center heatmap
        wh        (B, 2, H', W')   box width, height in output pixels
        hps       (B, 34, H', W')  keypoint (dx, dy) offsets from the center, 17 joints
        reg       (B, 2, H', W')   sub-pixel center offset
        hm_hp     (B, 17, H', W')  joint heatmaps
        hp_offset (B, 2, H', W')   sub-pixel joint offset (shared by all joints)
    With `masks=True` (the seed repo's whole-body branch) also:
        seg_feat  (B, 48, H', W')  mask features
        seg       (B, 432, H', W') per-center weights of a 3x3 conv 48 -> 1 (see `masks.py`)
    """

    def __init__(
        self, *, heads: dict[str, int] | None = None, head_conv: int = 256, masks: bool = False
    ) -> None:
        super().__init__()
        heads = dict(HEADS if heads is None else heads)
        if masks:
            heads.update(MASK_HEADS)
        self.heads = heads
        self.first_level = int(torch.log2(torch.tensor(float(DOWN_RATIO))).item())
        self.last_level = 5
        self.base = dla34()
        channels = [info.channels for info in self.base.feature_info]
        neck_channels = channels[self.first_level :]
        self.dla_up = DLAUp(self.first_level, neck_channels, [2**i for i in range(len(neck_channels))])
        n_ida = self.last_level - self.first_level
        self.ida_up = IDAUp(neck_channels[0], neck_channels[:n_ida], [2**i for i in range(n_ida)])
        for name, out_channels in heads.items():
            head = nn.Sequential(
                nn.Conv2d(neck_channels[0], head_conv, kernel_size=3, padding=1, bias=True),
                nn.ReLU(inplace=True),
                nn.Conv2d(head_conv, out_channels, kernel_size=1, stride=1, padding=0, bias=True),
            )
            _init_head(head, heatmap=name.startswith("hm"))
            setattr(self, name, head)

    @property
    def has_masks(self) -> bool:
        """True when the network carries the mask heads `seg_feat` and `seg`."""
        return all(name in self.heads for name in MASK_HEADS)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        aggregated = self.dla_up(self.base(x))
        maps = [aggregated[i].clone() for i in range(self.last_level - self.first_level)]
        self.ida_up(maps, 0, len(maps))
        return {name: getattr(self, name)(maps[-1]) for name in self.heads}


def _init_head(head: nn.Sequential, heatmap: bool) -> None:
    # As upstream: PyTorch's default conv init everywhere; heatmap heads start their last bias at
    # the focal-loss prior, regression heads start with zero biases.
    for module in head.modules():
        if isinstance(module, nn.Conv2d) and not heatmap:
            nn.init.zeros_(module.bias)
    if heatmap:
        head[-1].bias.data.fill_(HEATMAP_PRIOR_BIAS)


def build_pose_net(
    *, heads: dict[str, int] | None = None, head_conv: int = 256, masks: bool = False
) -> PoseNet:
    """The DLA-34 multi-pose network with CenterNet's default heads (hm, wh, hps, reg, hm_hp,
    hp_offset), plus the mask heads (seg_feat, seg) when `masks`."""
    return PoseNet(heads=heads, head_conv=head_conv, masks=masks)
