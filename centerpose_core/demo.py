"""`python -m centerpose_core.demo`: the predict pipeline on a bundled image, no ROS needed.

Uses `CHECKPOINT` (env) when set; otherwise seeded random weights, with a loud warning that the
skeletons are meaningless until real weights are supplied.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from centerpose_core.cli import main as cli_main

SAMPLE_IMAGE = Path(__file__).with_name("assets") / "sample_person.jpg"

UNTRAINED_WARNING = """
======================================================================================
 WARNING: running with UNTRAINED, randomly initialised weights (seed 0).
 The boxes and skeletons drawn are meaningless. For real results pass CHECKPOINT=...:
   - the official CenterNet model `multi_pose_dla_3x.pth` (CenterNet model zoo,
     xingyizhou/CenterNet, MODEL_ZOO.md), which loads directly, or
   - your own weights from `training/train.py` (see README, "Training").
======================================================================================
"""


def random_checkpoint(path: Path) -> Path:
    """Write seeded random weights once (cached) so the demo runs with no download."""
    if path.is_file():
        return path
    from centerpose_core.model.random_weights import save_random_checkpoint

    return save_random_checkpoint(path, seed=0)


def main() -> int:
    out_dir = Path(os.environ.get("DEMO_OUT", "demo_out"))
    checkpoint = os.environ.get("CHECKPOINT")
    if not checkpoint:
        print(UNTRAINED_WARNING, file=sys.stderr)
        checkpoint = str(random_checkpoint(out_dir / "random_weights.pth"))
    code = cli_main(
        [
            "predict",
            "--model",
            checkpoint,
            "--json",
            str(out_dir / "predictions.json"),
            "--draw",
            str(out_dir),
            str(SAMPLE_IMAGE),
        ]
    )
    if code == 0:
        print(f"wrote {out_dir / 'predictions.json'} and {out_dir / (SAMPLE_IMAGE.stem + '_pose.jpg')}")
    if not os.environ.get("CHECKPOINT"):
        print(UNTRAINED_WARNING, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
