"""The weights of CenterNet's multi-pose loss terms (its `opts.py` defaults), in one place.

Torch-free on purpose: training configs hold it and are parsed before torch is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LossWeights:
    """Weight of each term of `losses.MultiPoseLoss`; a term whose weight is 0 is not computed."""

    hm: float = field(default=1.0, metadata={"help": "center heatmap focal loss"})
    wh: float = field(default=0.1, metadata={"help": "box size L1"})
    # Not `off`: YAML reads a key `off` as the boolean false.
    offset: float = field(
        default=1.0, metadata={"help": "center offset L1 and joint offset L1 (the original's off_weight)"}
    )
    hp: float = field(default=1.0, metadata={"help": "keypoint-from-center L1"})
    hm_hp: float = field(default=1.0, metadata={"help": "joint heatmap focal loss"})
    seg: float = field(
        default=1.0, metadata={"help": "mask Lovász hinge (mask models only; the seed adds it unweighted)"}
    )
