"""Mask agreement per backend and precision: each runtime's person masks against eager torch fp32.

The dynamic convolution of the mask branch runs in the one shared decode, so backends differ only
by their head maps. This prints, per row, the mean mask IoU of torch fp32's kept persons (matched
to the row's persons by box center, within one output-map pixel, greedily in score order; an
unmatched person counts 0)
and how many were matched, on the real test images (shared coco_mini + ochuman_mini).

    .venv/bin/python benchmarks/mask_agreement.py --size 512            # seeded random mask weights
    .venv/bin/python benchmarks/mask_agreement.py --checkpoint masks.pth

Rows: onnxruntime fp32 / INT8 (QDQ), OpenVINO fp32 / bf16 (where the CPU has it) / INT8, and
TensorRT fp32 / fp16 when TensorRT and a GPU are present.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def center(person) -> np.ndarray:
    return np.array([(person.bbox[0] + person.bbox[2]) / 2, (person.bbox[1] + person.bbox[3]) / 2])


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def agreement(reference: list, other: list, tolerance: float) -> tuple[list[float], int]:
    """Mask IoU of each reference person with the nearest unmatched center within `tolerance`
    source pixels (0 when none)."""
    free = list(range(len(other)))
    ious, matched = [], 0
    for person in reference:
        distance = {j: float(np.linalg.norm(center(person) - center(other[j]))) for j in free}
        best = min(distance, key=distance.get, default=None)
        if best is not None and distance[best] <= tolerance:
            free.remove(best)
            ious.append(mask_iou(person.mask, other[best].mask))
            matched += 1
        else:
            ious.append(0.0)
    return ious, matched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", type=Path, help="a mask checkpoint (default: seeded random mask weights)"
    )
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--max-persons", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "centerpose_mask_agreement"
    )
    parser.add_argument("--calib-images", type=int, default=4)
    args = parser.parse_args()

    import torch

    from centerpose_core.export.cache import cached_onnx
    from centerpose_core.export.options import ExportOptions, QuantizeOptions
    from centerpose_core.export.quantize import quantize_onnx
    from centerpose_core.model.checkpoint import load_model
    from centerpose_core.model.random_weights import build_random_model
    from centerpose_core.runtime import Predictor

    model = (
        load_model(args.checkpoint, require_masks=True)
        if args.checkpoint
        else build_random_model(0, masks=True)
    )
    paths = sorted((SHARED / "coco_mini" / "images").glob("*.jpg")) + sorted(
        (SHARED / "ochuman_mini" / "images").glob("*.jpg")
    )
    images = [cv2.imread(str(p)) for p in paths]
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    fp32 = cached_onnx(model, ExportOptions(size=args.size, dcn="native", batch="1"), args.cache_dir)
    int8 = fp32.with_name(fp32.stem + ".int8.onnx")
    if not int8.is_file():
        calib = QuantizeOptions(
            str(SHARED / "coco_mini" / "images"), max_images=args.calib_images, symmetric=False
        )
        quantize_onnx(fp32, int8, calib)
    print(f"exported {fp32.name}, {int8.name} in {time.perf_counter() - start:.0f} s", flush=True)

    rows: dict[str, tuple[object, dict]] = {
        "onnxruntime fp32": (fp32, {"backend": "onnxruntime"}),
        "onnxruntime int8": (int8, {"backend": "onnxruntime", "precision": "int8"}),
    }
    try:
        from centerpose_core.runtime.openvino_backend import cpu_precisions

        precisions = cpu_precisions()
    except Exception:
        precisions = ()
    if precisions:
        rows["openvino fp32"] = (fp32, {"backend": "openvino", "precision": "fp32"})
        if "bf16" in precisions:
            rows["openvino bf16"] = (fp32, {"backend": "openvino", "precision": "bf16"})
        rows["openvino int8"] = (int8, {"backend": "openvino", "precision": "int8"})
    try:
        import tensorrt  # noqa: F401

        if torch.cuda.is_available():
            rows["tensorrt fp32"] = (fp32, {"backend": "tensorrt", "device": "cuda:0", "precision": "fp32"})
            rows["tensorrt fp16"] = (fp32, {"backend": "tensorrt", "device": "cuda:0", "precision": "fp16"})
    except ImportError:
        pass

    keep = {"threshold": args.threshold, "max_persons": args.max_persons}
    reference = Predictor(model, input_size=args.size)
    expected = [reference.predict(image, **keep) for image in images]
    covered = float(np.mean([p.mask.mean() for found in expected for p in found]))
    print(
        json.dumps(
            {"row": "torch fp32", "persons": sum(map(len, expected)), "mask_pixel_share": round(covered, 4)}
        )
    )
    for name, (source, options) in rows.items():
        try:
            predictor = Predictor(source, input_size=args.size, **options)
        except Exception as exc:
            print(json.dumps({"row": name, "unavailable": f"{type(exc).__name__}: {exc}"[:200]}))
            continue
        ious, matched, total = [], 0, 0
        for image, want in zip(images, expected):
            got = predictor.predict(image, **keep)
            tolerance = max(image.shape[:2]) / (args.size / 4)  # one output-map pixel
            row_ious, row_matched = agreement(want, got, tolerance)
            ious += row_ious
            matched += row_matched
            total += len(want)
        print(
            json.dumps(
                {
                    "row": name,
                    "mean_mask_iou": round(float(np.mean(ious)), 4),
                    "min_mask_iou": round(float(np.min(ious)), 4),
                    "matched": f"{matched}/{total}",
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
