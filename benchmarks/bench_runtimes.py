"""Runtimes side by side on one image: torch eager vs ONNX Runtime (native DeformConv, decomposed DCN).

Prints per-stage medians (pre-process, forward, decode, post-process, total) from the Predictor,
the ratio of each backend to torch eager, and ONNX Runtime's end-to-end time as a multiple of the
fp32 FLOP floor = model GFLOP / sgemm GFLOP/s, with sgemm measured in this same run and thread
count. The model's FLOPs are counted here too (torch's counter + the deformable convs, which it
does not see), next to the issue's 80.5 GFLOP.

    .venv/bin/python benchmarks/bench_runtimes.py [--size 512] [--threads 2] [--runs 10] [IMAGE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import torch

from centerpose_core.export.cache import cached_onnx
from centerpose_core.export.options import ExportOptions
from centerpose_core.model import build_pose_net
from centerpose_core.model.dcn import ModulatedDeformConv
from centerpose_core.runtime import Predictor

ISSUE_GFLOP = 80.5
DEFAULT_IMAGE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "media" / "messi5.jpg"


def measure_sgemm_gflops(threads: int, n: int = 2048, repeats: int = 10) -> float:
    """Best fp32 matmul throughput (GFLOP/s) with `threads` threads: torch's BLAS, as the fp32 floor."""
    torch.set_num_threads(threads)
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def count_model_gflop(model: torch.nn.Module, size: int) -> dict[str, float]:
    """Multiply-add FLOPs (x2) at `size`: torch's counter for everything it sees + the DCNs by hand."""
    from torch.utils.flop_counter import FlopCounterMode

    dcn_flop = 0.0

    def hook(module, inputs, output):
        nonlocal dcn_flop
        out_channels, in_channels, kh, kw = module.weight.shape
        dcn_flop += 2.0 * out_channels * in_channels * kh * kw * output.shape[-2] * output.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, ModulatedDeformConv)]
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, 3, size, size))
    for handle in handles:
        handle.remove()
    counted = counter.get_total_flops() / 1e9
    return {"counted": counted, "deform_conv": dcn_flop / 1e9, "total": counted + dcn_flop / 1e9}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", default=str(DEFAULT_IMAGE))
    parser.add_argument("--model", default=None, help="checkpoint (default: seeded random weights)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10, help="rounds (one predict per backend each)")
    parser.add_argument("--torch-runs", type=int, default=5, help="torch eager: only the first N rounds")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--cache-dir", default=None, help="ONNX export cache (default ~/.cache/centerpose/onnx)"
    )
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    image = cv2.imread(args.image)
    if image is None:
        print(f"bench_runtimes: cannot read image {args.image}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    if args.model:
        from centerpose_core.model.checkpoint import load_model

        model = load_model(args.model).eval()
    else:
        torch.manual_seed(0)
        model = build_pose_net().eval()

    results: dict[str, object] = {
        "image": args.image,
        "image_shape": list(image.shape),
        "size": args.size,
        "threads": args.threads,
        "cpu_load_before": os.getloadavg()[0],
    }
    results["model_gflop"] = count_model_gflop(model, args.size)
    print(f"model GFLOP at {args.size}: {json.dumps(results['model_gflop'])}", flush=True)

    # The machine may be shared: backends run round-robin (one predict each per round) with an sgemm
    # sample per round, so every backend and the floor see the same load; medians are reported, and
    # the best run against the best sgemm as the less load-sensitive pair.
    source = args.model or model
    predictors: dict[str, Predictor] = {}
    for dcn in ("native", "decomposed"):
        start = time.perf_counter()
        path = cached_onnx(source, ExportOptions(size=args.size, dcn=dcn, batch="1"), args.cache_dir)
        print(f"onnx {dcn}: {path} ({time.perf_counter() - start:.1f} s to export or find)", flush=True)
        predictors[f"onnxruntime-{dcn}"] = Predictor(
            path, backend="onnxruntime", input_size=args.size, num_threads=args.threads
        )
    if not args.skip_torch:
        predictors["torch"] = Predictor(model, backend="torch", input_size=args.size)
    for predictor in predictors.values():
        for _ in range(args.warmup):
            predictor.predict(image)
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in predictors}
    sgemm_samples = []
    for round_index in range(args.runs):
        sgemm_samples.append(measure_sgemm_gflops(args.threads, repeats=3))
        for name, predictor in predictors.items():
            if name == "torch" and round_index >= args.torch_runs:
                continue
            predictor.predict(image)
            for stage, ms in predictor.last_timings.items():
                samples[name].setdefault(stage, []).append(ms)
    sgemm_samples.append(measure_sgemm_gflops(args.threads, repeats=3))
    stages = {name: {k: statistics.median(v) for k, v in timing.items()} for name, timing in samples.items()}
    best_total = {name: min(timing["total"]) for name, timing in samples.items()}

    counted = results["model_gflop"]["total"]
    sgemm_median, sgemm_peak = statistics.median(sgemm_samples), max(sgemm_samples)
    floor, best_floor = ISSUE_GFLOP / sgemm_median * 1e3, ISSUE_GFLOP / sgemm_peak * 1e3
    results.update(sgemm_gflops=sgemm_samples, stages_ms=stages, best_total_ms=best_total)
    results["cpu_load_after"] = os.getloadavg()[0]
    summary = {}
    for name, timing in stages.items():
        row = {
            "total_ms": timing["total"],
            "x_floor": timing["total"] / floor,
            "best_total_ms": best_total[name],
            "best_x_floor": best_total[name] / best_floor,
        }
        if "torch" in stages:
            row["speedup_vs_torch"] = stages["torch"]["total"] / timing["total"]
        summary[name] = row
    results["summary"] = summary
    results["fp32_floor_ms"] = {"median_sgemm": floor, "peak_sgemm": best_floor}

    print(
        f"sgemm fp32, {args.threads} threads, {len(sgemm_samples)} samples: median {sgemm_median:.1f}, "
        f"peak {sgemm_peak:.1f} GFLOP/s -> floor {floor:.0f} ms (median), {best_floor:.0f} ms (peak) "
        f"for 80.5 GFLOP ({counted:.1f} counted here)"
    )
    columns = (("pre", 8), ("forward", 10), ("decode", 9), ("post", 8), ("total", 9), ("x floor", 9))
    header = f"{'backend (medians, ms)':<24}" + "".join(f"{name:>{width}}" for name, width in columns)
    header += f"{'vs torch':>10}{'best':>9}{'best x floor':>14}"
    print(header)
    for name, timing in stages.items():
        row = summary[name]
        speed = f"{row['speedup_vs_torch']:.2f}x" if "speedup_vs_torch" in row else "-"
        print(
            f"{name:<24}{timing['preprocess']:>8.1f}{timing['forward']:>10.1f}{timing['decode']:>9.1f}"
            f"{timing['postprocess']:>8.2f}{timing['total']:>9.1f}{row['x_floor']:>9.2f}{speed:>10}"
            f"{row['best_total_ms']:>9.1f}{row['best_x_floor']:>14.2f}"
        )
    print(
        f"cpu load average before/after: {results['cpu_load_before']:.2f} / {results['cpu_load_after']:.2f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _rounded(timing: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timing.items()}


if __name__ == "__main__":
    sys.exit(main())
