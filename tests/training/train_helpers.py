"""Helpers of the training tests: child-process environment and the train.py command line."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO / "training" / "train.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env() -> dict[str, str]:
    """Environment for child training processes: loopback only, one thread each, quiet."""
    env = dict(os.environ)
    env.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "GLOO_SOCKET_IFNAME": "lo",
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        }
    )
    return env


def train_command(ann: Path, images: Path, out: Path, *extra: str) -> list[str]:
    """`python training/train.py` on a synthetic set at 64x64 with CPU-friendly defaults."""
    return [
        sys.executable,
        str(TRAIN_SCRIPT),
        "--train-ann",
        str(ann),
        "--train-images",
        str(images),
        "--out",
        str(out),
        "--input-size",
        "64",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--progress",
        "false",
        "--lr",
        "1e-3",
        "--rand-crop",
        "false",
        "--aug-scale",
        "0",
        "--aug-shift",
        "0",
        "--color-aug",
        "false",
        *extra,
    ]
