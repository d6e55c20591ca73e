"""GPU check: the CUDA, TensorRT and training paths on one GPU, in one command, as one table.

    .venv/bin/python benchmarks/gpu_check.py                 # on a machine with a CUDA GPU (< 5 min)
    .venv/bin/python benchmarks/gpu_check.py --device cuda:1 # another GPU
    .venv/bin/python benchmarks/gpu_check.py --skip-gpu      # CPU-only: every check's code runs on the
                                                            # CPU against itself ("dry"), GPU-only ones skip

Checks (issue 11): torch on the GPU vs the CPU (heads within 1e-3, persons identical where decode's
decisions are clear of rounding) with flip test and a batch; the batch equals single images; decode
on the GPU equals decode on the CPU; one AMP training step (loss finite, samples/s at 512); and,
when `tensorrt` is importable: an FP32 engine at 256 vs ONNX Runtime on the CPU (heads < 1e-3), an
FP16 engine at 512 (top persons within 2 px of torch FP32), the engine cache hit on a second build,
a stale-version engine refused, flip test + batch on a batch-1 engine, and INT8 calibration called
with its table re-keyed when the images change. GPU times are CUDA-event medians.

Needs only what the project installs (torch; onnx / onnxruntime for the engine rows), no network,
no ROS; installs nothing. Exit code 1 when a check fails. Seeded networks and the tie-aware
comparisons come from tests/ (seeded_nets, decode_margins), which travel with the checkout.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from decode_margins import assert_same_persons, clear_decisions  # noqa: E402
from seeded_nets import center_square, seeded_pose_net  # noqa: E402

from centerpose_core.affine import preprocess  # noqa: E402
from centerpose_core.decode import decode_multi_pose  # noqa: E402
from centerpose_core.flip import fill_mirrored_half  # noqa: E402
from centerpose_core.runtime import Predictor  # noqa: E402

SHARED_IMAGES = ROOT.parent / "shared" / "data" / "coco_mini" / "images"
# GPU vs CPU float32 (TF32 off) differ by ~1e-5 in a logit; decisions closer than this are not compared.
SCORE_MARGIN = 3e-4
PIXEL_MARGIN = 3e-3


@dataclass
class Row:
    check: str
    status: str  # PASS, FAIL, SKIP, DRY (ran on the CPU against itself)
    value: str = ""
    ms: float | None = None


@dataclass
class Context:
    device: str  # the GPU, or "cpu" in --skip-gpu mode
    dry: bool
    size: int
    work: Path
    net: torch.nn.Module
    images: list[np.ndarray]


def gpu_time_ms(device: str, fn: Callable[[], object], runs: int = 5) -> float:
    """Median wall time of `fn` in ms: CUDA events on a GPU, perf_counter on the CPU (no warm-up
    run there: the CPU pass is a dry run of the code)."""
    if device.startswith("cuda"):
        fn()  # warm-up
    times = []
    for _ in range(runs):
        if device.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def load_images(count: int, seed: int = 0) -> list[np.ndarray]:
    """Real photos (square crops) when the shared data is beside the checkout, else synthetic figures."""
    import cv2

    paths = sorted(SHARED_IMAGES.glob("*.jpg"))[:count]
    if len(paths) == count:
        return [center_square(cv2.imread(str(p))) for p in paths]
    from centerpose_core.data.synthetic import SyntheticConfig, generate_image

    rng = np.random.default_rng(seed)
    return [generate_image(rng, SyntheticConfig(image_size=(320, 320)))[0] for _ in range(count)]


def compare_persons(
    reference: Predictor, expected: list, actual: list, images: list, *, min_ranked: int = 1
) -> int:
    """Persons equal wherever decode's decisions are clear of rounding; returns the persons compared."""
    maps = reference.head_maps(images)
    compared = 0
    for index, image in enumerate(images):
        clear = clear_decisions(maps, 20, image=index, score_margin=SCORE_MARGIN, pixel_margin=PIXEL_MARGIN)
        pixels = PIXEL_MARGIN * max(image.shape[:2]) / reference.output_size
        assert_same_persons(
            expected[index],
            actual[index],
            clear,
            min_ranked=min_ranked,
            score_tolerance=SCORE_MARGIN,
            pixel_tolerance=max(pixels, 1e-3),
        )
        compared += clear.ranked
    return compared


# ---------------------------------------------------------------------------------------- torch


def check_torch_device_vs_cpu(ctx: Context) -> list[Row]:
    size = min(ctx.size, 256)
    cpu = Predictor(ctx.net, device="cpu", input_size=size, flip_test=True)
    dev = Predictor(ctx.net, device=ctx.device, input_size=size, flip_test=True)
    batch = np.zeros((2 * len(ctx.images), 3, size, size), np.float32)  # flip test: N images, N mirrors
    for index, image in enumerate(ctx.images):
        preprocess(image, size, out=batch[index])
    fill_mirrored_half(batch)
    expected = cpu.backend(batch)
    actual = dev.backend(batch)
    worst = max(float((actual[h].cpu() - expected[h]).abs().max()) for h in expected)
    ms = gpu_time_ms(ctx.device, lambda: dev.backend(batch))
    rows = [
        Row(
            f"torch heads {ctx.device} vs cpu (flip, batch {len(batch)}, {size})",
            _status(ctx, worst < 1e-3),
            f"max|diff| {worst:.2e}",
            ms,
        )
    ]
    persons = compare_persons(cpu, cpu.predict_batch(ctx.images), dev.predict_batch(ctx.images), ctx.images)
    rows.append(
        Row(
            f"torch persons {ctx.device} == cpu (flip, batch)",
            _status(ctx, True),
            f"{persons} clear persons equal",
        )
    )
    singles = [dev.predict(image) for image in ctx.images]
    compare_persons(dev, dev.predict_batch(ctx.images), singles, ctx.images)
    rows.append(
        Row(f"torch batch == single images on {ctx.device}", _status(ctx, True), f"{len(ctx.images)} images")
    )
    return rows


def check_decode_device_vs_cpu(ctx: Context) -> list[Row]:
    size = min(ctx.size, 256)
    predictor = Predictor(ctx.net, device="cpu", input_size=size)
    maps = predictor.head_maps(ctx.images)
    on_cpu = decode_multi_pose(maps)
    on_device = decode_multi_pose({k: v.to(ctx.device) for k, v in maps.items()})
    worst_score = float((on_device["scores"].cpu() - on_cpu["scores"]).abs().max())
    ranked = min(clear_decisions(maps, 20, image=i).ranked for i in range(len(ctx.images)))
    boxes = (
        float((on_device["boxes"][:, :ranked].cpu() - on_cpu["boxes"][:, :ranked]).abs().max())
        if ranked
        else 0.0
    )
    ok = worst_score < 1e-6 and boxes < 1e-4
    ms = gpu_time_ms(ctx.device, lambda: decode_multi_pose({k: v.to(ctx.device) for k, v in maps.items()}))
    return [
        Row(
            f"decode {ctx.device} == cpu",
            _status(ctx, ok),
            f"scores {worst_score:.1e}, top-{ranked} boxes {boxes:.1e}",
            ms,
        )
    ]


def check_amp_training_step(ctx: Context) -> list[Row]:
    from centerpose_core.data.codec import PoseTargetCodec
    from centerpose_core.data.synthetic import SyntheticConfig, generate_image
    from centerpose_core.losses import MultiPoseLoss
    from centerpose_core.model import build_pose_net

    size, count = (ctx.size, 4) if not ctx.dry else (32, 2)
    rng = np.random.default_rng(0)
    codec = PoseTargetCodec(size // 4)
    to_output = np.array([[0.25, 0, 0], [0, 0.25, 0]], np.float32)
    images, targets = [], []
    for _ in range(count):
        image, persons = generate_image(rng, SyntheticConfig(image_size=(size, size)))
        boxes = np.array(
            [
                [p["bbox"][0], p["bbox"][1], p["bbox"][0] + p["bbox"][2], p["bbox"][1] + p["bbox"][3]]
                for p in persons
            ],
            np.float32,
        ).reshape(-1, 4)
        keypoints = np.array([p["keypoints"] for p in persons], np.float32).reshape(-1, 17, 3)
        targets.append(codec.encode(boxes, keypoints, to_output))
        images.append(preprocess(image, size)[0])
    device = torch.device(ctx.device)
    batch = {k: torch.from_numpy(np.stack([t[k] for t in targets])).to(device) for k in targets[0]}
    inputs = torch.from_numpy(np.stack(images)).to(device)
    model = build_pose_net().to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1.25e-4)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    loss_fn = MultiPoseLoss()
    losses = []

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss, _ = loss_fn(model(inputs), batch)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))

    ms = gpu_time_ms(ctx.device, step, runs=3 if not ctx.dry else 1)
    finite = all(np.isfinite(losses))
    mode = "AMP fp16" if amp else "fp32"
    return [
        Row(
            f"training step {mode} ({size}, batch {count})",
            _status(ctx, finite),
            f"loss {losses[-1]:.3f}, {count / ms * 1e3:.1f} samples/s",
            ms,
        )
    ]


# ---------------------------------------------------------------------------------------- TensorRT


def tensorrt_rows(ctx: Context) -> list[Row]:
    names = [
        "tensorrt fp32 (256) vs onnxruntime cpu",
        "tensorrt fp16 (512) top persons within 2 px",
        "tensorrt engine cache hit on second build",
        "tensorrt stale-version engine refused",
        "tensorrt flip + batch on a batch-1 engine",
        "tensorrt int8 calibration + table re-keyed",
    ]
    if ctx.dry:
        return [Row(name, "SKIP", "--skip-gpu") for name in names]
    if importlib.util.find_spec("tensorrt") is None:
        return [Row(name, "SKIP", "tensorrt not importable") for name in names]
    checks = [
        check_trt_fp32,
        check_trt_fp16,
        check_trt_cache_hit,
        check_trt_stale,
        check_trt_flip_batch,
        check_trt_int8,
    ]
    rows = []
    for name, check in zip(names, checks):
        rows.extend(run_check(name, lambda check=check, name=name: check(ctx, name)))
    return rows


def _onnx(ctx: Context, size: int, batch: str) -> Path:
    import tensorrt as trt

    from centerpose_core.export.cache import cached_onnx
    from centerpose_core.export.options import ExportOptions
    from centerpose_core.export.tensorrt import dcn_form_for

    options = ExportOptions(size=size, dcn=dcn_form_for(trt.__version__), batch=batch)
    return cached_onnx(ctx.net, options, ctx.work / "onnx")


def _engine_predictor(ctx: Context, onnx_path: Path, size: int, precision: str, **kw) -> Predictor:
    return Predictor(
        onnx_path,
        backend="tensorrt",
        device=ctx.device,
        input_size=size,
        precision=precision,
        cache_dir=ctx.work / "engines",
        **kw,
    )


def check_trt_fp32(ctx: Context, name: str) -> list[Row]:
    from centerpose_core.affine import preprocess
    from centerpose_core.runtime.onnxruntime_backend import OnnxRuntimeBackend

    onnx_path = _onnx(ctx, 256, "dynamic")
    engine = _engine_predictor(ctx, onnx_path, 256, "fp32", max_batch=2).backend
    batch = np.stack([preprocess(image, 256)[0] for image in ctx.images[:2]])
    expected = OnnxRuntimeBackend(onnx_path, input_size=256)(batch)
    actual = engine(batch)
    worst = max(float((actual[h].cpu() - expected[h]).abs().max()) for h in expected)
    ms = gpu_time_ms(ctx.device, lambda: engine(batch))
    return [Row(name, _status(ctx, worst < 1e-3), f"max|diff| {worst:.2e}", ms)]


def check_trt_fp16(ctx: Context, name: str) -> list[Row]:
    onnx_path = _onnx(ctx, 512, "dynamic")
    reference = Predictor(ctx.net, device=ctx.device, input_size=512)
    engine = _engine_predictor(ctx, onnx_path, 512, "fp16")
    worst, matched = 0.0, 0
    for image in ctx.images:
        expected, actual = reference.predict(image)[:5], engine.predict(image)[:20]
        scale = max(image.shape[:2]) / 512
        for person in expected:
            center = (person.bbox[:2] + person.bbox[2:]) / 2
            distance = min(np.abs((p.bbox[:2] + p.bbox[2:]) / 2 - center).max() for p in actual)
            worst = max(worst, distance / scale)
            matched += 1
    batch = np.zeros((1, 3, 512, 512), np.float32)
    ms = gpu_time_ms(ctx.device, lambda: engine.backend(batch))
    return [Row(name, _status(ctx, worst <= 2.0), f"{matched} persons, worst {worst:.2f} input px", ms)]


def check_trt_cache_hit(ctx: Context, name: str) -> list[Row]:
    from centerpose_core.export.options import BuildOptions
    from centerpose_core.export.tensorrt import build_or_load_engine

    onnx_path = _onnx(ctx, 256, "dynamic")
    options = BuildOptions(precision="fp32", max_batch=2)
    build_or_load_engine(
        onnx_path, input_size=256, options=options, cache_dir=ctx.work / "engines", device=ctx.device
    )
    t0 = time.perf_counter()
    _, path, built = build_or_load_engine(
        onnx_path, input_size=256, options=options, cache_dir=ctx.work / "engines", device=ctx.device
    )
    ms = (time.perf_counter() - t0) * 1e3
    return [Row(name, _status(ctx, not built), f"{path.name[:40]}... reused", ms)]


def check_trt_stale(ctx: Context, name: str) -> list[Row]:
    from dataclasses import replace

    from centerpose_core.export.tensorrt import StaleEngineError, read_engine, write_engine
    from centerpose_core.runtime.tensorrt_backend import load_engine_file

    engines = sorted((ctx.work / "engines").glob("*.engine"))
    key, data = read_engine(engines[0])
    stale = write_engine(ctx.work / "stale.engine", replace(key, tensorrt_version="0.0.1"), data)
    try:
        load_engine_file(stale, device=ctx.device, input_size=key.input_size)
    except StaleEngineError as exc:
        return [Row(name, "PASS", str(exc).split("(")[1].split(";")[0][:60])]
    return [Row(name, "FAIL", "a stale engine was loaded")]


def check_trt_flip_batch(ctx: Context, name: str) -> list[Row]:
    onnx_path = _onnx(ctx, 256, "1")
    flip = _engine_predictor(ctx, onnx_path, 256, "fp32", flip_test=True)
    batch_persons = flip.predict_batch(ctx.images)  # 2N images through a batch-1 engine
    singles = [flip.predict(image) for image in ctx.images]
    compare_persons(flip, batch_persons, singles, ctx.images)
    reference = Predictor(ctx.net, device=ctx.device, input_size=256, flip_test=True)
    counted = compare_persons(reference, reference.predict_batch(ctx.images), batch_persons, ctx.images)
    return [Row(name, "PASS", f"{len(ctx.images)} images (x2 flipped), {counted} persons == torch")]


def check_trt_int8(ctx: Context, name: str) -> list[Row]:
    import cv2
    import tensorrt as trt

    from centerpose_core.export.options import BuildOptions
    from centerpose_core.export.tensorrt import build_engine_bytes, has_int8_calibrator

    if not has_int8_calibrator(trt):
        return [Row(name, "SKIP", f"TensorRT {trt.__version__}: no calibrators (Q/DQ files only)")]
    onnx_path = _onnx(ctx, 128, "dynamic")
    table = ctx.work / "calib.cache"
    keys = []
    for seed in (1, 2):
        folder = ctx.work / f"calib{seed}"
        folder.mkdir(exist_ok=True)
        for i, image in enumerate(load_images(4, seed=seed)):
            cv2.imwrite(str(folder / f"{i}.png"), image)
        options = BuildOptions(
            precision="int8",
            calibration_folder=str(folder),
            calibration_cache=str(table),
            calibration_batch=2,
        )
        t0 = time.perf_counter()
        build_engine_bytes(onnx_path, options, 128, ctx.device, work_dir=ctx.work)
        ms = (time.perf_counter() - t0) * 1e3
        keys.append(table.read_bytes().split(b"\n")[1])
    ok = table.is_file() and keys[0] != keys[1]
    return [Row(name, _status(ctx, ok), "table written, re-keyed for new images", ms)]


# ---------------------------------------------------------------------------------------- runner


def _status(ctx: Context, ok: bool) -> str:
    if not ok:
        return "FAIL"
    return "DRY" if ctx.dry else "PASS"


def run_check(name: str, check: Callable[[], list[Row]]) -> list[Row]:
    try:
        return check()
    except Exception as exc:  # a check that breaks is a failed row, never a crash of the table
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return [
            Row(
                name,
                "FAIL",
                f"{type(exc).__name__}: {first[:90]} ({Path(where.filename).name}:{where.lineno})",
            )
        ]


def print_table(rows: list[Row], header: str) -> None:
    width = max(len(r.check) for r in rows)
    print(header)
    print(f"{'check':<{width}}  {'status':<6}  {'ms':>9}  value")
    print("-" * (width + 40))
    for r in rows:
        ms = f"{r.ms:9.2f}" if r.ms is not None else " " * 9
        print(f"{r.check:<{width}}  {r.status:<6}  {ms}  {r.value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="the GPU to check (cuda, cuda:1, ...)")
    parser.add_argument("--skip-gpu", action="store_true", help="CPU-only: run every check's code on the CPU")
    parser.add_argument("--size", type=int, default=512, help="training-step input size (512)")
    args = parser.parse_args(argv)

    if not args.skip_gpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU (torch.cuda.is_available() is False); CPU-only: use --skip-gpu")
        return 1
    device = "cpu" if args.skip_gpu else str(torch.device(args.device))
    if device.startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = False  # FP32 means FP32 for the 1e-3 comparisons
        torch.backends.cuda.matmul.allow_tf32 = False
        gpu = f"{torch.cuda.get_device_name(device)} ({device})"
    else:
        gpu = "none (--skip-gpu: dry run on the CPU)"
    trt = "not importable"
    if importlib.util.find_spec("tensorrt") is not None:
        try:
            import tensorrt

            trt = tensorrt.__version__
        except Exception as exc:  # a broken install is reported, not raised
            trt = f"broken ({type(exc).__name__})"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="centerpose-gpu-check-") as work:
        ctx = Context(
            device=device,
            dry=args.skip_gpu,
            size=args.size if not args.skip_gpu else 64,
            work=Path(work),
            net=seeded_pose_net(),
            images=load_images(2 if args.skip_gpu else 3),
        )
        rows: list[Row] = []
        rows += run_check("torch device vs cpu", lambda: check_torch_device_vs_cpu(ctx))
        rows += run_check("decode device vs cpu", lambda: check_decode_device_vs_cpu(ctx))
        rows += run_check("training step", lambda: check_amp_training_step(ctx))
        rows += tensorrt_rows(ctx)
    elapsed = time.perf_counter() - started
    header = f"gpu_check: GPU {gpu}; torch {torch.__version__}; tensorrt {trt}; {elapsed:.0f} s"
    print_table(rows, header)
    failed = [r for r in rows if r.status == "FAIL"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
