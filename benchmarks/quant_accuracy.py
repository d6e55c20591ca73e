"""What INT8 and bf16 cost in accuracy: keypoint AP of one trained checkpoint per runtime and precision.

One fp32 ONNX file (native DeformConv, dynamic batch/height/width) and its INT8 QDQ copy
(`centerpose_core.export.quantize`, three calibrations on a folder of training images: minmax over
32 and over 8 images, 99.9th percentile over 32) run as:
torch fp32, ONNX Runtime fp32 / INT8, OpenVINO fp32 / bf16 / INT8 / INT8 with bf16 for what stays
float (OpenVINO rows when it is installed, bf16 rows where the CPU has native bf16).

For each configuration:
  * keypoint AP, AP50, AP75 (pycocotools COCOeval through `train.evaluate.evaluate_predictor`, the
    same code as `centerpose eval`) on a held-out synthetic set;
  * on the held-out set: the share of torch fp32's persons scoring >= 0.3 (the node's default
    publishing threshold) that the configuration reproduces within 1 px (defined below);
  * on the real images (COCO / OCHuman samples) at a 512x512 input: the share of torch fp32's
    top-20 persons per image that the configuration reproduces within 1 px. A reference person is
    reproduced when some person of the configuration (any of its 100 decoded) has all 17 keypoints
    within 1 pixel of the reference's, distances measured in network-input pixels (image pixels
    divided by the letterbox scale, max(H, W) / 512). Also the median over reference persons of
    that best max-keypoint distance.

Camera-shaped input on the trained model: the held-out images widened to 384x256 (--widened) (3:2, the right
side filled with the background colour; same persons, same pixel scale as in training), AP with
the square 384x384 input (letterboxed) vs the fitted 384x256 input, for torch fp32, ONNX Runtime
INT8 and OpenVINO bf16.

The reference model is trained by benchmarks/train_quant_reference.sh; the numbers are in the
README (INT8 / bf16 on the CPU).

    .venv/bin/python benchmarks/quant_accuracy.py [--model runs/quant_ref/phase1/model_best.pth]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "runs" / "quant_ref"
SHARED = ROOT.parent / "shared" / "data"
REAL_IMAGE_DIRS = (SHARED / "coco_mini" / "images", SHARED / "ochuman_mini" / "images")
TOP = 20
HELDOUT_MIN_SCORE = 0.3
WITHIN_PX = 1.0
PADDED_ROWS = ("torch fp32", "onnxruntime int8 p99.9/32", "openvino bf16")


def default_model() -> Path:
    """Phase 2 (256 px fine-tune) when it exists, else phase 1."""
    phase2 = REF / "phase2" / "model_best.pth"
    return phase2 if phase2.is_file() else REF / "phase1" / "model_best.pth"


def configurations(fp32_onnx: Path, int8: dict[str, Path], threads: int) -> dict[str, tuple[object, dict]]:
    """name -> (model, Predictor keyword arguments), in table order; `int8`: calibration label -> file."""
    ort = {"backend": "onnxruntime", "num_threads": threads}
    configs: dict[str, tuple[object, dict]] = {"onnxruntime fp32": (fp32_onnx, {**ort, "precision": "fp32"})}
    configs.update(
        {f"onnxruntime int8 {label}": (path, {**ort, "precision": "int8"}) for label, path in int8.items()}
    )
    from centerpose_core.errors import MissingDependencyError

    try:
        from centerpose_core.runtime.openvino_backend import cpu_precisions, import_openvino

        import_openvino()
    except MissingDependencyError as exc:  # what import_openvino raises (not an ImportError)
        print(f"openvino rows skipped: {exc}", file=sys.stderr)
        return configs
    ov = {"backend": "openvino", "num_threads": threads}
    configs["openvino fp32"] = (fp32_onnx, {**ov, "precision": "fp32"})
    bf16 = "bf16" in cpu_precisions()
    if bf16:
        configs["openvino bf16"] = (fp32_onnx, {**ov, "precision": "bf16"})
    for label, path in int8.items():
        configs[f"openvino int8 {label}"] = (path, {**ov, "precision": "int8"})
    return configs


def max_keypoint_distance(reference, candidates, scale: float) -> float:
    """Smallest, over the candidate persons, of the largest keypoint distance to `reference`
    (network-input pixels)."""
    if not candidates:
        return float("inf")
    ref = reference.keypoints[None, :, :2]
    got = np.stack([c.keypoints[:, :2] for c in candidates])
    return float(np.linalg.norm(got - ref, axis=2).max(axis=1).min() / scale)


def agreement(
    reference_persons, candidate_persons, scales, prefix: str, min_score: float = 0.0
) -> dict[str, float]:
    """Share of the reference's top-20 persons (those scoring >= min_score) reproduced within 1 px."""
    distances = [
        max_keypoint_distance(person, candidates, scale)
        for persons, candidates, scale in zip(reference_persons, candidate_persons, scales)
        for person in persons[:TOP]
        if person.score >= min_score
    ]
    if not distances:
        return {}
    return {
        f"{prefix}persons": len(distances),
        f"{prefix}within_1px": sum(d <= WITHIN_PX for d in distances) / len(distances),
        f"{prefix}median_px": statistics.median(distances),
    }


def widened_heldout(heldout: Path, out: Path, width: int) -> Path:
    """The held-out set with every image widened on the right to `width` pixels in its top-right
    pixel's colour (the synthetic background): the same persons in a non-square frame."""
    coco = json.loads((heldout / "annotations.json").read_text())
    (out / "images").mkdir(parents=True, exist_ok=True)
    for entry in coco["images"]:
        pixels = cv2.imread(str(heldout / "images" / entry["file_name"]))
        extra = width - pixels.shape[1]
        if extra < 0:
            raise ValueError(f"{entry['file_name']}: wider than {width}")
        color = [int(v) for v in pixels[0, -1]]
        widened = cv2.copyMakeBorder(pixels, 0, 0, 0, extra, cv2.BORDER_CONSTANT, value=color)
        cv2.imwrite(str(out / "images" / entry["file_name"]), widened)
        entry["width"] = width
    (out / "annotations.json").write_text(json.dumps(coco))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the reference model)")
    parser.add_argument("--size", type=int, default=256, help="held-out evaluation input side")
    parser.add_argument(
        "--heldout", default=str(REF / "heldout256"), help="COCO-format set: DIR/annotations.json, DIR/images"
    )
    parser.add_argument("--calib", default=str(REF / "train256" / "images"), help="calibration images")
    parser.add_argument("--calib-images", type=int, default=32)
    parser.add_argument("--real-size", type=int, default=512, help="input side on the real images")
    parser.add_argument(
        "--widened", type=int, default=384, help="camera-shaped rows: held-out images widened to this width"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out-dir", default=str(REF / "quant_accuracy"), help="ONNX files are written here")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    from centerpose_core.export.onnx_export import export_onnx
    from centerpose_core.export.options import ExportOptions, QuantizeOptions
    from centerpose_core.export.quantize import quantize_onnx
    from centerpose_core.model.checkpoint import load_model
    from centerpose_core.runtime import Predictor
    from centerpose_core.train.evaluate import evaluate_predictor

    checkpoint = Path(args.model) if args.model else default_model()
    heldout = Path(args.heldout)
    for label, path in (("--model", checkpoint), ("--heldout annotations", heldout / "annotations.json")):
        if not path.is_file():
            print(f"quant_accuracy: {label} {path}: file not found", file=sys.stderr)
            return 2
    torch.set_num_threads(args.threads)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    options = ExportOptions(size=args.size, dcn="native", batch="dynamic", hw="dynamic")
    fp32_onnx = export_onnx(checkpoint, out_dir / "model.onnx", options).path
    # INT8 calibrations: minmax over --calib-images (the export default until issue 20), minmax over 8,
    # and the 99.9th percentile over --calib-images (minmax ranges widen with outlier images).
    calibrations = {
        f"minmax/{args.calib_images}": QuantizeOptions(
            args.calib, max_images=args.calib_images, method="minmax", symmetric=False
        ),
        "minmax/8": QuantizeOptions(args.calib, max_images=8, method="minmax", symmetric=False),
        f"p99.9/{args.calib_images}": QuantizeOptions(
            args.calib, max_images=args.calib_images, method="percentile", percentile=99.9, symmetric=False
        ),
    }
    int8 = {}
    for index, (label, quantize_options) in enumerate(calibrations.items()):
        quantized = quantize_onnx(fp32_onnx, out_dir / f"model.int8-{index}.onnx", quantize_options)
        int8[label] = quantized.path
    print(
        f"exported {fp32_onnx}, quantized {', '.join(map(str, int8.values()))} "
        f"({', '.join(int8)} calibration images at {args.size}, {len(quantized.fp32_nodes)} nodes fp32) "
        f"in {time.perf_counter() - start:.0f} s",
        flush=True,
    )

    model = load_model(checkpoint, map_location="cpu").eval()
    configs = {
        "torch fp32": (model, {"backend": "torch"}),
        **configurations(fp32_onnx, int8, args.threads),
    }
    real_paths = [p for folder in REAL_IMAGE_DIRS for p in sorted(folder.glob("*.jpg"))]
    real_images = [cv2.imread(str(p)) for p in real_paths]
    scales = [max(image.shape[:2]) / args.real_size for image in real_images]

    heldout_images = [cv2.imread(str(p)) for p in sorted((heldout / "images").glob("*.png"))]
    rows: dict[str, dict[str, float]] = {}
    reference_persons = reference_heldout = None
    for name, (source, kwargs) in configs.items():
        start = time.perf_counter()
        heldout_predictor = Predictor(source, input_size=args.size, **kwargs)
        stats = evaluate_predictor(
            heldout_predictor, heldout / "annotations.json", heldout / "images", batch_size=4
        )
        row = {k: stats[k] for k in ("AP", "AP50", "AP75", "AR")}
        # In-distribution agreement: held-out persons torch fp32 scores >= 0.3 (the node's default
        # publishing threshold), in held-out input pixels (images at the input size: scale 1).
        found = [heldout_predictor.predict(image) for image in heldout_images]
        reference_heldout = reference_heldout or found
        scale_1 = [max(image.shape[:2]) / args.size for image in heldout_images]
        row.update(agreement(reference_heldout, found, scale_1, "heldout_", min_score=HELDOUT_MIN_SCORE))
        if real_images:
            real_predictor = Predictor(source, input_size=args.real_size, **kwargs)
            persons = [real_predictor.predict(image) for image in real_images]
            if reference_persons is None:
                reference_persons = persons
            row.update(agreement(reference_persons, persons, scales, ""))
        row["seconds"] = time.perf_counter() - start
        rows[name] = row
        print(f"{name}: {json.dumps({k: round(v, 4) for k, v in row.items()})}", flush=True)

    widened = widened_heldout(heldout, out_dir / f"heldout_{args.widened}", args.widened)
    shaped: dict[str, dict[str, float]] = {}
    for name in PADDED_ROWS:
        if name not in configs:
            continue
        source, kwargs = configs[name]
        shaped[name] = {
            label: evaluate_predictor(
                Predictor(source, input_size=args.widened, fit_aspect=fit, **kwargs),
                widened / "annotations.json",
                widened / "images",
                batch_size=4,
            )["AP"]
            for label, fit in (("square", False), ("fitted", True))
        }
        print(f"{name} on {widened}: {json.dumps(shaped[name])}", flush=True)

    base = rows["torch fp32"]["AP"]
    print()
    print(
        f"checkpoint {checkpoint}; held-out {heldout} ({int(stats['images'])} images) "
        f"at {args.size}x{args.size}; "
        f"real images: {len(real_images)} at {args.real_size}x{args.real_size}, top-{TOP} of torch fp32"
    )
    header = f"| {'configuration':<28} | {'AP':>6} | {'AP50':>6} | {'AP75':>6} | {'AR':>6} | {'dAP pts':>7} |"
    header += f" {'held-out >=0.3 within 1 px':>26} | {'real top-20 within 1 px':>23} | {'median px':>9} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for name, row in rows.items():
        line = f"| {name:<28} |" + "".join(f" {row[k]:>6.3f} |" for k in ("AP", "AP50", "AP75", "AR"))
        line += f" {100 * (row['AP'] - base):>+7.1f} |"
        line += f" {100 * row.get('heldout_within_1px', float('nan')):>24.1f} % |"
        if "within_1px" in row:
            line += f" {100 * row['within_1px']:>21.1f} % | {row['median_px']:>9.2f} |"
        print(line)
    print()
    height = json.loads((widened / "annotations.json").read_text())["images"][0]["height"]
    fitted = f"{args.widened}x{-(-height // 32) * 32}"  # the longer side is the input side: scale 1
    print(f"camera-shaped input: held-out widened to {args.widened}x{height}, AP")
    header = f"| {'configuration':<28} | {'square ' + str(args.widened) + 'x' + str(args.widened):>14} |"
    header += f" {'fitted ' + fitted:>14} | {'dAP pts':>7} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for name, ap in shaped.items():
        delta = 100 * (ap["fitted"] - ap["square"])
        print(f"| {name:<28} | {ap['square']:>14.3f} | {ap['fitted']:>14.3f} | {delta:>+7.1f} |")
    if args.json:
        results = {"checkpoint": str(checkpoint), "rows": rows, "camera_shaped": shaped}
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
