"""Model arguments shared by the inference commands (predict, bench, eval, track), and the
Predictor they describe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from centerpose_core.constants import DEFAULT_INPUT_SIZE
from centerpose_core.model_formats import AUTO, BACKEND_NAMES, PRECISIONS

if TYPE_CHECKING:
    from centerpose_core.runtime import Predictor


def add_model_arguments(
    parser: argparse.ArgumentParser,
    *,
    size_flag: str = "--input-size",
    random_weights: bool = False,
) -> None:
    """--model, --backend, --precision, --device, the input size, --fit-aspect, --flip and
    --masks-whole-map (and --random-weights when offered)."""
    parser.add_argument(
        "--model",
        required=not random_weights,
        type=Path,
        help="checkpoint (.pth) or exported model (.onnx / TensorRT engine)",
    )
    if random_weights:
        parser.add_argument(
            "--random-weights", action="store_true", help="seeded random weights instead of --model"
        )
    parser.add_argument(
        "--backend",
        default=AUTO,
        choices=BACKEND_NAMES,
        help="inference backend ('auto', the default: the node's rule, e.g. OpenVINO on a CPU with it "
        "installed, a checkpoint exported to ONNX once and cached; 'torch': the fp32 reference)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="arithmetic precision ('auto': the fastest whose accuracy cost is known on this machine, "
        "see the README's rule table; one the backend or machine cannot run is an error)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device for the torch backend and decode ('auto': cuda:0 if present)",
    )
    parser.add_argument(
        size_flag,
        dest="input_size",
        type=int,
        default=DEFAULT_INPUT_SIZE,
        help="network input side (multiple of 32)",
    )
    parser.add_argument(
        "--fit-aspect",
        action="store_true",
        help="network input fitted to each image's aspect, the longer side the input size "
        "(640x480 at 512: 512x384; torch, onnxruntime, openvino backends)",
    )
    parser.add_argument("--flip", action="store_true", help="flip test: average with the mirrored image")
    parser.add_argument(
        "--masks-whole-map",
        action="store_true",
        help="models with masks: each person's mask over the whole map (the seed repo's rule) instead of "
        "cut to the person's box (the default: more accurate on our models, and cheaper)",
    )


def check_model_arguments(args: argparse.Namespace) -> None:
    """Exactly one of --model and --random-weights, where both are offered (cheap: call it early)."""
    offered = getattr(args, "random_weights", None) is not None
    if offered and (args.model is None) == (not args.random_weights):
        raise ValueError("give exactly one of --model PATH or --random-weights")


def build_predictor(args: argparse.Namespace, **options) -> Predictor:
    """The Predictor the model arguments describe; `options` go to it (e.g. `top_k`)."""
    from centerpose_core.runtime import Predictor

    check_model_arguments(args)
    model = args.model
    if getattr(args, "random_weights", False):
        from centerpose_core.model.random_weights import build_random_model

        model = build_random_model(seed=0, masks=bool(getattr(args, "masks", False)))
    return Predictor(
        model,
        backend=args.backend,
        device=args.device,
        precision=args.precision,
        input_size=args.input_size,
        fit_aspect=args.fit_aspect,
        flip_test=args.flip,
        masks_in_box=not getattr(args, "masks_whole_map", False),
        **options,
    )
