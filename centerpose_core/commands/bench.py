"""`centerpose bench`: median per-stage latency of the Predictor on one image."""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from centerpose_core.commands.common import add_model_arguments, build_predictor, check_model_arguments

STAGES = ("preprocess", "forward", "decode", "postprocess", "total")
# A mask model adds this stage (the kept persons' dynamic convolutions and their inverse warps).
MASK_STAGE = "masks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, size_flag="--size", random_weights=True)
    parser.add_argument("--runs", type=int, default=10, help="timed runs (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed warm-up runs")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--max-persons",
        type=int,
        default=None,
        help="keep this many persons (default: all K=100 candidates); a mask model computes their masks",
    )
    parser.add_argument(
        "--masks",
        action="store_true",
        help="with --random-weights: a model with the mask branch (adds the `masks` stage)",
    )
    parser.add_argument("image", type=Path, metavar="IMAGE")


def run(args: argparse.Namespace) -> int:
    import torch

    from centerpose_core.image_io import read_image

    check_model_arguments(args)
    if args.runs <= 0:
        raise ValueError(f"--runs must be positive, got {args.runs}")
    if args.max_persons is not None and args.max_persons <= 0:
        raise ValueError(f"--max-persons must be positive, got {args.max_persons}")
    if args.masks and not args.random_weights:
        raise ValueError("--masks goes with --random-weights (a checkpoint says itself whether it has masks)")
    if args.threads:
        torch.set_num_threads(args.threads)
    image = read_image(args.image)
    predictor = build_predictor(args)
    for _ in range(args.warmup):
        predictor.predict(image, max_persons=args.max_persons)
    stages = STAGES + ((MASK_STAGE,) if MASK_STAGE in predictor.last_timings else ())
    samples = {stage: [] for stage in stages}
    for _ in range(args.runs):
        predictor.predict(image, max_persons=args.max_persons)
        for stage in stages:
            samples[stage].append(predictor.last_timings[stage])
    report = {
        "backend": predictor.backend.name,
        "size": args.input_size,
        "runs": args.runs,
        "ms": {stage: round(statistics.median(values), 3) for stage, values in samples.items()},
    }
    print(json.dumps(report))
    return 0
