"""`centerpose bench`: median per-stage latency of the Predictor on one image.

`--all`: one JSON line per row of the auto rule (`runtime.precision.AUTO_RULES`) for this machine
and model: timed where the row can run here (with its total as a multiple of its precision's
matmul floor, `runtime.matmul_floor`), else why not, with its known AP cost and which row `auto`
picks; so a user sees why `auto` runs what it runs. The last line names the pick and the floors.
"""

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
        "--all",
        action="store_true",
        help="every backend x precision row of the auto rule for this machine (JSON line each): "
        "ms where it runs, why not where it does not, AP cost, and the one auto picks",
    )
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


def _medians(predictor, image, args: argparse.Namespace) -> dict[str, float]:
    """Median ms per stage over `args.runs` after `args.warmup` (a mask model adds `masks`)."""
    for _ in range(args.warmup):
        predictor.predict(image, max_persons=args.max_persons)
    stages = STAGES + ((MASK_STAGE,) if MASK_STAGE in predictor.last_timings else ())
    samples: dict[str, list[float]] = {stage: [] for stage in stages}
    for _ in range(args.runs):
        predictor.predict(image, max_persons=args.max_persons)
        for stage in stages:
            samples[stage].append(predictor.last_timings[stage])
    return {stage: round(statistics.median(values), 3) for stage, values in samples.items()}


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
    if args.all:
        return _run_all(args, image)
    predictor = build_predictor(args)
    report = {
        "backend": predictor.backend.name,
        "precision": predictor.precision,
        "size": args.input_size,
        "runs": args.runs,
        "ms": _medians(predictor, image, args),
    }
    print(json.dumps(report))
    return 0


def _run_all(args: argparse.Namespace, image) -> int:
    from centerpose_core.devices import resolve_device
    from centerpose_core.runtime.backends import choose_configuration
    from centerpose_core.runtime.precision import (
        AUTO_PRECISION,
        PrecisionError,
        ap_cost,
        inspect_model_file,
        probe_machine,
        table_rows,
    )

    model = args.model
    if getattr(args, "random_weights", False):
        from centerpose_core.model.random_weights import build_random_model

        model = build_random_model(seed=0)
    info = inspect_model_file(model)
    floors = _matmul_floors_ms(args, image)
    try:
        picked = choose_configuration(model, "auto", AUTO_PRECISION, args.device).describe()
    except PrecisionError as exc:
        picked = f"none: {exc}"
    for rule, why_not in table_rows(probe_machine(resolve_device(args.device)), info):
        row = {
            "backend": rule.backend,
            "precision": rule.precision,
            "when": rule.when,
            "auto": picked == f"{rule.backend} {rule.precision}",
            "ap_cost": ap_cost(rule.backend, rule.precision, info),
            "size": args.input_size,
        }
        if why_not is None:
            try:
                args.backend, args.precision = rule.backend, rule.precision
                predictor = build_predictor(args)
                row["ms"] = _medians(predictor, image, args)
                if rule.precision in floors:
                    row["x_own_floor"] = round(row["ms"]["total"] / floors[rule.precision], 2)
            except (ValueError, RuntimeError, ImportError, OSError) as exc:
                row["error"] = str(exc)
        else:
            row["runs_here"] = False
            row["why_not"] = why_not
        print(json.dumps(row), flush=True)
    print(json.dumps({"auto": picked, "floor_ms": {k: round(v, 1) for k, v in floors.items()}}))
    return 0


def _matmul_floors_ms(args: argparse.Namespace, image) -> dict[str, float]:
    """Each precision's floor for this image's network input (`runtime.matmul_floor`: the network's
    FLOPs at this machine's matmul rate in that precision), measured once before the rows."""
    from centerpose_core.input_shape import InputShape
    from centerpose_core.runtime.matmul_floor import MATMUL_PRECISIONS, floor_ms, matmul_gflops

    width, height = InputShape.of(args.input_size, args.fit_aspect).for_image(*image.shape[:2])
    return {
        precision: floor_ms(precision, width, height, matmul_gflops(precision, args.threads, repeats=3))
        for precision in MATMUL_PRECISIONS
    }
