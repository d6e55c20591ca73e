"""The matmul floor of a precision: the network's FLOPs at the rate this machine multiplies
matrices in that precision, what no runtime running the network in it can beat on these threads.

Issue 20 measures each configuration against its own precision's floor (fp32 sgemm, bf16 matmul on
AVX512-BF16 / AMX where present, int8 `torch._int_mm` on VNNI where present).
"""

from __future__ import annotations

import time

import torch

MODEL_GFLOP_512 = 80.5  # DLA-34 CenterPose at 512x512 (issue 13's count; 14.2 of it in the 16 DCNs)
MATMUL_PRECISIONS = ("fp32", "bf16", "int8")


def model_gflop(width: int, height: int) -> float:
    """The network's GFLOP at width x height (a fully convolutional net: proportional to the area)."""
    return MODEL_GFLOP_512 * width * height / (512 * 512)


def matmul_gflops(precision: str, threads: int | None = None, n: int = 2048, repeats: int = 5) -> float:
    """Best n x n matmul rate (GFLOP/s; int8: GOP/s) in `precision` with `threads` torch threads
    (None: torch's current setting)."""
    if precision not in MATMUL_PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(MATMUL_PRECISIONS)}, got {precision!r}")
    if threads is not None:
        torch.set_num_threads(threads)
    if precision == "int8":
        a = torch.randint(-128, 127, (n, n), dtype=torch.int8)
        b = torch.randint(-128, 127, (n, n), dtype=torch.int8)

        def matmul():
            return torch._int_mm(a, b)
    else:
        dtype = torch.float32 if precision == "fp32" else torch.bfloat16
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)

        def matmul():
            return torch.mm(a, b)

    matmul()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def floor_ms(precision: str, width: int, height: int, gflops: float) -> float:
    """Milliseconds the network needs at `gflops` (the precision's measured matmul rate)."""
    return model_gflop(width, height) / gflops * 1e3
