"""Runtimes and precisions side by side on one camera frame, at a square and a camera-shaped input.

Rows: torch eager, ONNX Runtime fp32 (the fixed 512x512 file and the dynamic height/width file)
and INT8 (QDQ, `export.quantize`: the uint8 file of `export --uint8`; with --symmetric-int8 also
the symmetric file, the export default, which TensorRT takes too),
OpenVINO fp32 / bf16 / INT8 (when openvino is installed; bf16
where the CPU has it, also without the polyphase upsampling rewrite of `runtime.openvino_upsampling`
to show what it saves), each at 512x512 (the 640x480 frame letterboxed) and at 512x384 (fitted to
the frame's 4:3 aspect). Per row: median stage times from the Predictor (pre-process, forward,
decode, post-process, total); the total as a multiple of the fp32 floor and of the row's own
precision's floor (the issue's 80.5 GFLOP at the matmul rate of that precision, each measured in
this same run and thread count: fp32 sgemm, bf16 matmul, int8 `_int_mm`; the same for both shapes:
what a 512x512 network cannot beat); the reference model's AP and AP cost where measured (README,
benchmarks/quant_accuracy.py); and at 512x512 the share of forward time in the 16 deformable
convolutions, from each runtime's own profiler (benchmarks/dcn_share.py).
The model's FLOPs at each shape are counted too (torch's counter + the deformable convs).

Speed does not depend on the weights, so by default the net is seeded and the INT8 copy is
calibrated on the real sample images; accuracy is measured by benchmarks/quant_accuracy.py.

    .venv/bin/python benchmarks/bench_runtimes.py [--threads 2] [--runs 10] [--skip-dcn-share] [IMAGE]
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
from centerpose_core.runtime.matmul_floor import matmul_gflops

ISSUE_GFLOP = 80.5
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_IMAGE = SHARED / "media" / "basketball1.png"  # 640x480, a camera's 4:3
DEFAULT_CALIB = SHARED / "coco_mini" / "images"
SHAPES = ((512, 512), (512, 384))  # (width, height)
FLOOR_PRECISIONS = ("fp32", "bf16", "int8")
UNREWRITTEN = "openvino bf16 (no upsampling rewrite)"
DCN_SHARE_SHAPE = "512x512"  # the shape whose rows get a profiling pass
REFERENCE_FP32_AP = 0.477


def measure_sgemm_gflops(threads: int, n: int = 2048, repeats: int = 10) -> float:
    """Best fp32 matmul throughput (GFLOP/s) with `threads` threads: torch's BLAS, as the fp32 floor."""
    return measure_matmul_gflops(threads, "fp32", n, repeats)


def measure_matmul_gflops(threads: int, precision: str, n: int = 2048, repeats: int = 10) -> float:
    """Best n x n matmul rate in `precision` with `threads` threads (`runtime.matmul_floor`)."""
    return matmul_gflops(precision, threads, n, repeats)


def count_model_gflop(model: torch.nn.Module, width: int, height: int) -> dict[str, float]:
    """Multiply-add FLOPs (x2) at width x height: torch's counter for everything it sees + the DCNs
    by hand."""
    from torch.utils.flop_counter import FlopCounterMode

    dcn_flop = 0.0

    def hook(module, inputs, output):
        nonlocal dcn_flop
        out_channels, in_channels, kh, kw = module.weight.shape
        dcn_flop += 2.0 * out_channels * in_channels * kh * kw * output.shape[-2] * output.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, ModulatedDeformConv)]
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, 3, height, width))
    for handle in handles:
        handle.remove()
    counted = counter.get_total_flops() / 1e9
    return {"counted": counted, "deform_conv": dcn_flop / 1e9, "total": counted + dcn_flop / 1e9}


def make_predictors(model: torch.nn.Module, args: argparse.Namespace) -> dict[tuple[str, str], Predictor]:
    """(shape label, row name) -> Predictor, in table order."""
    from centerpose_core.export.options import QuantizeOptions
    from centerpose_core.export.quantize import quantize_onnx

    source = args.model or model
    start = time.perf_counter()
    fixed = cached_onnx(source, ExportOptions(size=512, dcn="native", batch="1"), args.cache_dir)
    dynamic = cached_onnx(
        source, ExportOptions(size=512, dcn="native", batch="1", hw="dynamic"), args.cache_dir
    )
    int8 = dynamic.with_name(dynamic.stem + f".int8-{args.calib_images}.onnx")
    if not int8.is_file():
        options = QuantizeOptions(args.calib, max_images=args.calib_images, symmetric=False)
        quantize_onnx(dynamic, int8, options)
    symmetric = dynamic.with_name(dynamic.stem + f".int8-symmetric-{args.calib_images}.onnx")
    if args.symmetric_int8 and not symmetric.is_file():
        options = QuantizeOptions(args.calib, max_images=args.calib_images, symmetric=True)
        quantize_onnx(dynamic, symmetric, options)
    print(f"onnx fp32 {fixed}, {dynamic}; int8 {int8} ({time.perf_counter() - start:.0f} s)", flush=True)

    ort = {"backend": "onnxruntime", "num_threads": args.threads}
    rows: dict[str, tuple[object, dict]] = {}
    if not args.skip_torch:
        rows["torch fp32"] = (model, {"backend": "torch"})
    rows["onnxruntime fp32"] = (dynamic, {**ort, "precision": "fp32"})
    rows["onnxruntime int8"] = (int8, {**ort, "precision": "int8"})
    if args.symmetric_int8:
        rows["onnxruntime int8 symmetric"] = (symmetric, {**ort, "precision": "int8"})
    from centerpose_core.errors import MissingDependencyError

    try:
        from centerpose_core.runtime.openvino_backend import cpu_precisions, import_openvino

        import_openvino()
        precisions = cpu_precisions()
    except MissingDependencyError as exc:  # what import_openvino raises (not an ImportError)
        print(f"openvino rows skipped: {exc}", file=sys.stderr)
        precisions = ()
    ov = {"backend": "openvino", "num_threads": args.threads}
    if precisions:
        rows["openvino fp32"] = (dynamic, {**ov, "precision": "fp32"})
        if "bf16" in precisions:
            rows["openvino bf16"] = (dynamic, {**ov, "precision": "bf16"})
            rows[UNREWRITTEN] = (dynamic, {**ov, "precision": "bf16"})
        rows["openvino int8"] = (int8, {**ov, "precision": "int8"})
        if args.symmetric_int8:
            rows["openvino int8 symmetric"] = (symmetric, {**ov, "precision": "int8"})
    predictors: dict[tuple[str, str], Predictor] = {}
    for width, height in SHAPES:
        label = f"{width}x{height}"
        for name, (file, kwargs) in rows.items():
            predictors[(label, name)] = Predictor(file, input_size=(width, height), **kwargs)
            if name == UNREWRITTEN:
                _undo_upsampling_rewrite(predictors[(label, name)])
            if name == "onnxruntime fp32" and width == height:  # the issue's baseline: a fixed-size file
                fixed_row = (label, "onnxruntime fp32 (fixed file)")
                predictors[fixed_row] = Predictor(fixed, input_size=width, precision="fp32", **ort)
    return predictors


def _undo_upsampling_rewrite(predictor: Predictor) -> None:
    """The bf16 graph as OpenVINO reads it (the neck's transposed convolutions in the plugin's own
    bf16 kernel), to measure what `runtime.openvino_upsampling` saves in the same run."""
    backend = predictor.backend
    backend.model = backend.core.read_model(str(backend.path))
    backend.rewritten_upsamplings = 0
    backend._compiled.clear()


def reference_ap(backend: str, precision: str) -> tuple[float | None, float | None]:
    """(AP, AP cost in points) of the reference model (README, benchmarks/quant_accuracy.py: 256 px
    held-out synthetic set, fp32 AP 0.477) where measured; INT8 here is calibrated on the 4
    samples, not the measured file, so unknown."""
    from centerpose_core.runtime.precision import MEASURED_AP_COST

    cost = None if precision == "int8" else MEASURED_AP_COST.get((backend, precision))
    return (None, None) if cost is None else (round(REFERENCE_FP32_AP + cost / 100, 3), cost)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", default=str(DEFAULT_IMAGE))
    parser.add_argument("--model", default=None, help="checkpoint (default: seeded random weights)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10, help="rounds (one predict per row each)")
    parser.add_argument("--torch-runs", type=int, default=5, help="torch eager: only the first N rounds")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--calib", default=str(DEFAULT_CALIB), help="INT8 calibration images")
    parser.add_argument("--calib-images", type=int, default=4)
    parser.add_argument(
        "--cache-dir", default=None, help="ONNX export cache (default ~/.cache/centerpose/onnx)"
    )
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument(
        "--symmetric-int8",
        action="store_true",
        help="also rows for the symmetric INT8 file (export --symmetric, TensorRT's Q/DQ form)",
    )
    parser.add_argument(
        "--skip-dcn-share", action="store_true", help="no per-layer profiling pass (the DCN %% column)"
    )
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
        "threads": args.threads,
        "cpu_load_before": os.getloadavg()[0],
    }
    gflop = {f"{w}x{h}": count_model_gflop(model, w, h) for w, h in SHAPES}
    results["model_gflop"] = gflop
    print(f"model GFLOP: {json.dumps({k: round(v['total'], 1) for k, v in gflop.items()})}", flush=True)

    predictors = make_predictors(model, args)
    for predictor in predictors.values():
        for _ in range(args.warmup):
            predictor.predict(image)
    # The machine may be shared: rows run round-robin (one predict each per round) with a matmul
    # sample of each precision per round, so every row and the floors see the same load; medians
    # are reported, and the best run against the best matmul as the less load-sensitive pair.
    samples: dict[tuple[str, str], dict[str, list[float]]] = {key: {} for key in predictors}
    matmul: dict[str, list[float]] = {precision: [] for precision in FLOOR_PRECISIONS}

    def sample_floors() -> None:
        for precision in FLOOR_PRECISIONS:
            matmul[precision].append(measure_matmul_gflops(args.threads, precision, repeats=3))

    for round_index in range(args.runs):
        sample_floors()
        for key, predictor in predictors.items():
            if key[1] == "torch fp32" and round_index >= args.torch_runs:
                continue
            predictor.predict(image)
            for stage, ms in predictor.last_timings.items():
                samples[key].setdefault(stage, []).append(ms)
    sample_floors()
    stages = {key: {k: statistics.median(v) for k, v in timing.items()} for key, timing in samples.items()}
    best_total = {key: min(timing["total"]) for key, timing in samples.items()}

    # Each precision's floor: the issue's 80.5 GFLOP at that precision's matmul rate (median, peak).
    floors = {
        precision: (ISSUE_GFLOP / statistics.median(rates) * 1e3, ISSUE_GFLOP / max(rates) * 1e3)
        for precision, rates in matmul.items()
    }
    floor, best_floor = floors["fp32"]
    shares = {}
    if not args.skip_dcn_share:
        from dcn_share import dcn_share

        for key, predictor in predictors.items():
            if key[0] == DCN_SHARE_SHAPE:
                shares[key] = dcn_share(predictor, image)
    summary = {}
    for (shape, name), timing in stages.items():
        predictor = predictors[(shape, name)]
        precision = predictor.precision
        own, best_own = floors[precision]
        ap, cost = reference_ap(predictor.backend.name, precision)
        share = shares.get((shape, name))
        summary[f"{shape} {name}"] = {
            "precision": precision,
            "stages_ms": timing,
            "x_floor": timing["total"] / floor,
            "x_own_floor": timing["total"] / own,
            "best_total_ms": best_total[(shape, name)],
            "best_x_floor": best_total[(shape, name)] / best_floor,
            "best_x_own_floor": best_total[(shape, name)] / best_own,
            "reference_ap": ap,
            "ap_cost": cost,
            "dcn": share,
        }
    results.update(matmul_gflops=matmul, summary=summary, cpu_load_after=os.getloadavg()[0])
    results["floor_ms"] = {p: {"median": a, "peak": b} for p, (a, b) in floors.items()}

    for precision, rates in matmul.items():
        median_floor, peak_floor = floors[precision]
        print(
            f"matmul {precision}, {args.threads} threads, {len(rates)} samples: median "
            f"{statistics.median(rates):.1f}, peak {max(rates):.1f} G(FL)OP/s -> {precision} floor "
            f"{median_floor:.0f} ms (median), {peak_floor:.0f} ms (peak)"
        )
    print(
        "for the issue's 80.5 GFLOP (counted here: "
        + ", ".join(f"{k} {v['total']:.1f}, of which DCN {v['deform_conv']:.1f}" for k, v in gflop.items())
        + ")"
    )
    columns = ("pre", "forward", "decode", "post", "total ms", "x fp32 fl", "x own fl", "best ms",
               "best x own", "AP", "AP cost", "DCN %")  # fmt: skip
    header = f"| {'input':<7} | {'runtime (medians)':<38} | " + " | ".join(f"{c:>9}" for c in columns) + " |"
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for (shape, name), timing in stages.items():
        row = summary[f"{shape} {name}"]
        cells = [timing[k] for k in ("preprocess", "forward", "decode", "postprocess", "total")]
        line = f"| {shape:<7} | {name:<38} | " + " | ".join(f"{v:>9.1f}" for v in cells)
        line += f" | {row['x_floor']:>9.2f} | {row['x_own_floor']:>9.2f} | {row['best_total_ms']:>9.1f}"
        line += f" | {row['best_x_own_floor']:>9.2f} | {_cell(row['reference_ap'], '.3f')}"
        line += f" | {_cell(row['ap_cost'], '+.1f')}"
        line += f" | {_cell(None if row['dcn'] is None else 100 * row['dcn']['share'], '.1f')} |"
        print(line)
    print(
        f"cpu load average before/after: {results['cpu_load_before']:.2f} / {results['cpu_load_after']:.2f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _cell(value: float | None, spec: str) -> str:
    return f"{'-' if value is None else format(value, spec):>9}"


if __name__ == "__main__":
    sys.exit(main())
