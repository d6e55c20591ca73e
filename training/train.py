#!/usr/bin/env python3
"""Train the CenterNet multi-pose DLA-34 on a COCO-format keypoint dataset.

    python training/train.py --config config/train_coco.yaml --out runs/coco
    torchrun --nproc_per_node 4 training/train.py --config config/train_coco.yaml --out runs/coco
    python training/train.py --config config/train_coco.yaml --out runs/coco --resume

Options come from the defaults (CenterNet's DLA-34 1x recipe), then the YAML file, then flags.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

# Runnable from a checkout without installation.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centerpose_core.train.config import (
    FLAT_ALIASES,
    TrainConfig,
    load_yaml,
    make_config,
    option_fields,
)

_DEFAULTS = TrainConfig()


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, argument_default=None
    )
    p.add_argument(
        "--config",
        help="YAML file of options (names as the flags, '-' or '_'; sections as nested mappings, "
        "e.g. augment: {flip: 0.5})",
    )
    data = p.add_argument_group("data")
    data.add_argument("--train-ann", help="COCO keypoint annotation json of the training set")
    data.add_argument("--train-images", help="folder of the training images")
    data.add_argument("--val-ann", help="COCO keypoint annotation json of the validation set (optional)")
    data.add_argument("--val-images", help="folder of the validation images")
    data.add_argument(
        "--input-size", type=int, help=f"square network input side (default {_DEFAULTS.input_size})"
    )
    data.add_argument(
        "--workers", type=int, help=f"data loader processes per rank (default {_DEFAULTS.workers})"
    )
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, help=f"number of epochs (default {_DEFAULTS.epochs})")
    opt.add_argument(
        "--batch-size",
        type=int,
        help=f"global batch size over all processes (default {_DEFAULTS.batch_size})",
    )
    opt.add_argument("--micro-batches", type=int, help="split each process's batch into N accumulated chunks")
    opt.add_argument("--lr", type=float, help="Adam learning rate (default 1.25e-4 x batch / 32)")
    opt.add_argument("--lr-step", help="comma-separated epochs after which lr drops x0.1 (default 90,120)")
    opt.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value (default off)")
    opt.add_argument("--amp", type=_bool, help="mixed precision on CUDA (default true)")
    opt.add_argument("--max-steps-per-epoch", type=int, help="cap optimiser steps per epoch (smoke tests)")
    opt.add_argument(
        "--repeat", type=int, help="iterate the training images N times per epoch (tiny datasets)"
    )
    opt.add_argument("--shuffle", type=_bool, help="reshuffle the training images every epoch (default true)")
    opt.add_argument(
        "--seed",
        type=int,
        help=f"seed of initialisation, shuffling and augmentation (default {_DEFAULTS.seed})",
    )
    run = p.add_argument_group("run")
    run.add_argument("--out", help=f"output folder: checkpoints, logs/ (default {_DEFAULTS.out})")
    run.add_argument(
        "--device", help="auto, cpu, cuda or cuda:N (default auto; torchrun uses cuda:LOCAL_RANK)"
    )
    run.add_argument(
        "--init",
        metavar="CKPT",
        help="start from a CenterNet checkpoint (non-strict: ctdet fills the backbone)",
    )
    run.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="CKPT",
        help="continue a run: model, optimizer, schedule, scaler, epoch, best AP "
        "(default: <out>/model_last.pth)",
    )
    run.add_argument(
        "--masks",
        type=_bool,
        nargs="?",
        const=True,
        help="also train the mask branch (seg_feat, seg) from the annotations' segmentation (default false)",
    )
    run.add_argument("--val-every", type=int, help=f"validate every N epochs (default {_DEFAULTS.val_every})")
    run.add_argument("--flip-test", type=_bool, help="validate with flip test (default false)")
    run.add_argument("--log-every", type=int, help="TensorBoard scalars every N steps (default 10)")
    run.add_argument("--progress", type=_bool, help="tqdm progress bar on rank 0 (default true)")
    for section, title in (("augment", "augmentation (training only)"), ("loss", "loss weights")):
        add_section_flags(p.add_argument_group(title), section)
    return p


def add_section_flags(group: argparse._ArgumentGroup, section: str) -> None:
    """`--section.field` for every field of a nested config section, plus its short flat alias.

    Flag names, types, defaults and help all come from the section's dataclass, so a new field
    needs no edit here; the YAML key is the same name nested under `section:`.
    """
    for name, spec in option_fields().items():
        if not name.startswith(f"{section}."):
            continue
        aliases = [f"--{flat.replace('_', '-')}" for flat, dotted in FLAT_ALIASES.items() if dotted == name]
        kind = _bool if isinstance(spec.default, bool) else type(spec.default)
        group.add_argument(
            f"--{name.replace('_', '-')}",
            *aliases,
            dest=name,
            type=kind,
            metavar=kind.__name__.lstrip("_").upper(),
            help=f"{spec.metadata.get('help', '')} (default {str(spec.default).lower()})",
        )


def config_from_args(argv: list[str] | None = None) -> TrainConfig:
    args = vars(build_parser().parse_args(argv))
    config_file = args.pop("config")
    from_file = load_yaml(config_file) if config_file else {}
    return make_config(from_file, args)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        config = config_from_args(argv)
    except (ValueError, FileNotFoundError) as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    from centerpose_core.model.checkpoint import CheckpointError
    from centerpose_core.train.loop import train

    try:
        result = train(config)
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:  # diverged: the weights of the failing step were not touched
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
