"""`centerpose eval`: COCO keypoint AP of any model file on a COCO-format set, as one JSON object."""

from __future__ import annotations

import argparse
import json

from centerpose_core.commands.common import add_model_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the model over every image of a COCO keypoint set (the same decode as predict) and "
        "score it with pycocotools COCOeval(iouType='keypoints'); a model with masks is also scored "
        "with iouType='segm' (segm_AP, ...). Prints one JSON object."
    )
    add_model_arguments(parser)
    parser.add_argument("--ann", required=True, help="COCO keypoint annotation json")
    parser.add_argument("--images", required=True, help="folder of the images named in the json")
    parser.add_argument("--batch-size", type=int, default=8, help="images per forward pass (default 8)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from centerpose_core.commands.common import build_predictor
    from centerpose_core.errors import UserError
    from centerpose_core.model.checkpoint import CheckpointError
    from centerpose_core.train.evaluate import SEGM_SUMMARY_STATS, SUMMARY_STATS, evaluate_predictor

    for label, path, want_dir in (
        ("--model", args.model, False),
        ("--ann", args.ann, False),
        ("--images", args.images, True),
    ):
        p = Path(path)
        if not (p.is_dir() if want_dir else p.is_file()):
            raise UserError(f"{label} {path}: {'folder' if want_dir else 'file'} not found")
    if args.batch_size <= 0:
        raise UserError(f"--batch-size must be positive, got {args.batch_size}")
    try:
        predictor = build_predictor(args)
        stats = evaluate_predictor(predictor, args.ann, args.images, batch_size=args.batch_size)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    result = {k: round(stats[k], 6) for k in SUMMARY_STATS}
    segm = {f"segm_{k}": stats[f"segm_{k}"] for k in SEGM_SUMMARY_STATS if f"segm_{k}" in stats}
    result.update({k: round(v, 6) for k, v in segm.items()})
    result.update(
        {
            "images": int(stats["images"]),
            "images_per_s": round(stats["images_per_s"], 3),
            "backend": predictor.backend.name,
            "precision": predictor.precision,
            "flip": bool(args.flip),
            "input_size": args.input_size,
            "fit_aspect": bool(args.fit_aspect),
        }
    )
    print(json.dumps(result))
    return 0
