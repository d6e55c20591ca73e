"""benchmarks/gpu_check.py stays runnable: its "skip the GPU parts" mode runs every torch check's code
on the CPU (against itself) and must come out green; on a machine with a GPU the full check runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
TORCH_ROWS = ("torch heads", "torch persons", "torch batch == single", "decode", "training step")
TENSORRT_ROWS = (
    "fp32 (256)",
    "fp16 (512)",
    "cache hit",
    "stale-version",
    "batch-1 engine",
    "int8 calibration",
)


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_skip_gpu_mode_runs_every_check_green_on_the_cpu():
    result = _run("--skip-gpu")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("gpu_check: GPU none (--skip-gpu")
    rows = {line.split("  ")[0].strip(): line for line in lines[3:]}
    for name in TORCH_ROWS:
        (row,) = [line for key, line in rows.items() if key.startswith(name)]
        assert " DRY " in row, row
    for name in TENSORRT_ROWS:
        (row,) = [line for key, line in rows.items() if name in key]
        assert " SKIP " in row, row


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_full_check_refuses_in_one_line():
    result = _run(timeout=120)
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "gpu_check: no CUDA GPU (torch.cuda.is_available() is False); CPU-only: use --skip-gpu"
    )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_full_gpu_check_passes():
    result = _run()
    assert result.returncode == 0, result.stdout + result.stderr
