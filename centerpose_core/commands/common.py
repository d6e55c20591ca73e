"""Argument helpers shared by the inference commands (predict, bench, eval)."""

from __future__ import annotations

import argparse
from pathlib import Path

from centerpose_core.model_formats import BACKEND_NAMES


def add_model_arguments(
    parser: argparse.ArgumentParser, *, require_model: bool = True, size_flag: str = "--input-size"
) -> None:
    parser.add_argument(
        "--model",
        required=require_model,
        type=Path,
        help="checkpoint (.pth) or exported model (.onnx / TensorRT engine)",
    )
    parser.add_argument("--backend", default="torch", choices=BACKEND_NAMES, help="inference backend")
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device for the torch backend and decode ('auto': cuda:0 if present)",
    )
    parser.add_argument(
        size_flag, dest="input_size", type=int, default=512, help="network input side (multiple of 32)"
    )
    parser.add_argument("--flip", action="store_true", help="flip test: average with the mirrored image")
