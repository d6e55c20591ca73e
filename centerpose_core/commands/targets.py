"""`centerpose targets`: write the network input and every training target of each image, to inspect them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from centerpose_core.data.codec import TARGET_NAMES

NPZ_KEYS = ("input", *TARGET_NAMES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "For each image of a COCO keypoint set, with validation behaviour (no augmentation), "
        "write <image stem>.npz holding `input` and the targets under CenterNet's names "
        f"({', '.join(TARGET_NAMES)}); with --masks also `seg` (the mask branch's target)."
    )
    parser.add_argument("--ann", required=True, help="COCO keypoint annotation json")
    parser.add_argument("--images", required=True, help="folder of the images named in the json")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--input-size", type=int, default=512, help="network input side (default 512)")
    parser.add_argument(
        "--draw", action="store_true", help="also write <stem>_hm.png and <stem>_hm_hp.png overlays"
    )
    parser.add_argument(
        "--masks",
        action="store_true",
        help="also the mask target `seg` (32, H', W'; 255 = ignored slot) from the annotations' "
        "segmentation; with --draw, <stem>_seg.png",
    )


def overlay(input_chw: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """The de-normalised input (BGR uint8) with a heatmap (H', W') in [0, 1] blended on top in red-yellow."""
    import cv2

    from centerpose_core.constants import MEAN_BGR, STD_BGR

    image = np.clip((input_chw.transpose(1, 2, 0) * STD_BGR + MEAN_BGR) * 255, 0, 255).astype(np.uint8)
    size = image.shape[1], image.shape[0]
    heat = cv2.resize(np.clip(heatmap, 0, 1), size, interpolation=cv2.INTER_NEAREST)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_HOT)
    alpha = heat[:, :, None] * 0.7
    return (image * (1 - alpha) + colour * alpha).astype(np.uint8)


def run(args: argparse.Namespace) -> int:
    import cv2

    from centerpose_core.data.dataset import CocoKeypointDataset
    from centerpose_core.errors import UserError

    if not Path(args.ann).is_file():
        raise UserError(f"--ann {args.ann}: file not found")
    if not Path(args.images).is_dir():
        raise UserError(f"--images {args.images}: folder not found")
    dataset = CocoKeypointDataset(
        args.ann, args.images, input_size=args.input_size, train=False, masks=args.masks
    )
    keys = NPZ_KEYS + (("seg",) if args.masks else ())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, record in enumerate(dataset.records):
        sample = dataset[index]
        stem = Path(record.file_name).stem
        path = out / f"{stem}.npz"
        np.savez_compressed(path, **{k: sample[k] for k in keys})
        written.append(str(path))
        if args.draw:
            cv2.imwrite(str(out / f"{stem}_hm.png"), overlay(sample["input"], sample["hm"][0]))
            cv2.imwrite(str(out / f"{stem}_hm_hp.png"), overlay(sample["input"], sample["hm_hp"].max(axis=0)))
            if args.masks:
                union = (sample["seg"] == 1).any(axis=0).astype(np.float32)
                cv2.imwrite(str(out / f"{stem}_seg.png"), overlay(sample["input"], union))
    print(json.dumps({"images": len(written), "out": str(out)}))
    return 0
