"""`centerpose predict`: persons in image files, as JSON and/or drawn images."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from centerpose_core.commands.common import add_model_arguments, build_predictor
from centerpose_core.constants import DEFAULT_TOP_K


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--threshold", type=float, default=0.3, help="minimum person score (0 keeps all)")
    parser.add_argument(
        "--max-persons", type=int, default=DEFAULT_TOP_K, help="at most this many persons per image"
    )
    parser.add_argument("--json", type=Path, help="write results as JSON here ('-' for stdout)")
    parser.add_argument("--draw", type=Path, help="write annotated images into this directory")
    parser.add_argument(
        "--keypoint-threshold", type=float, default=0.0, help="minimum keypoint score to draw a joint"
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")


def run(args: argparse.Namespace) -> int:
    from centerpose_core.image_io import read_image
    from centerpose_core.viz import draw_persons

    if args.max_persons <= 0:
        raise ValueError(f"--max-persons must be positive, got {args.max_persons}")
    images = [read_image(path) for path in args.images]  # fail on a bad file before loading the model
    predictor = build_predictor(args, top_k=max(DEFAULT_TOP_K, args.max_persons))
    print(f"running {predictor.describe()}", file=sys.stderr)
    results = []
    for path, image in zip(args.images, images):
        persons = predictor.predict(image, threshold=args.threshold, max_persons=args.max_persons)
        results.append({"image": str(path), "persons": [p.to_json() for p in persons]})
        if args.draw is not None:
            args.draw.mkdir(parents=True, exist_ok=True)
            import cv2

            out_path = args.draw / f"{path.stem}_pose.jpg"
            cv2.imwrite(
                str(out_path), draw_persons(image, persons, keypoint_threshold=args.keypoint_threshold)
            )
        print(f"{path}: {len(persons)} person(s)", file=sys.stderr)
    if args.json is not None:
        text = json.dumps(results, indent=1)
        if str(args.json) == "-":
            print(text)
        else:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(text + "\n")
    return 0
