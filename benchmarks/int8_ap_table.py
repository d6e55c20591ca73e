"""INT8 against fp32 on a trained model, per quantization tool and calibration (issue 20, item 3).

One fp32 ONNX file exported from a checkpoint at a fixed square input; INT8 Q/DQ copies made by
  * ONNX Runtime `quantize_static` through `centerpose_core.export.quantize` (per-channel weights,
    deformable convs and the heads' last convs fp32): uint8 activations (labels without
    "symmetric") with minmax, percentile (99.999 and 99.99) and entropy ranges, and symmetric int8
    activations on convolution inputs only (the export default, the form TensorRT takes: percentile
    99.999, also scored on OpenVINO, and minmax); entropy with 2048 histogram
    bins: `export.quantize` passes them; ONNX Runtime's default of 128 made entropy equal minmax);
  * NNCF post-training quantization (`benchmarks/quant_nncf.py`, mixed and symmetric presets, the
    same nodes kept fp32), when NNCF is importable (/work/peerlibs/nncf);
  * NVIDIA ModelOpt ONNX PTQ (`benchmarks/quant_modelopt.py`, max or entropy calibration on the CPU, the same
    nodes kept fp32, and also the tree roots: `export.quantize.concat_fed_convs`), when ModelOpt is
    importable (/work/peerlibs/modelopt);
each scored with `train.int8_accuracy`'s measures (what `export --heldout` records) on a held-out
COCO-format set: keypoint AP of fp32 and INT8 on the same runtime, the paired bootstrap 95 %
interval of AP fp32 - AP INT8, and the median over fp32's persons scoring >= 0.3 of the largest
keypoint distance to the closest INT8 person (network-input pixels). Targets: >= 500 persons, drop
<= 1 AP, median <= 1 px.

    .venv/bin/python benchmarks/int8_ap_table.py --model runs/mask_ap/no_masks/model_last.pth \
        --heldout runs/mask_ap/heldout128 --calib runs/mask_ap/train128/images --size 128
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def ort_quantize(fp32: Path, out: Path, calib: Path, images: int, method: str, **extra) -> Path:
    from centerpose_core.export.options import QuantizeOptions
    from centerpose_core.export.quantize import quantize_onnx

    options = QuantizeOptions(str(calib), max_images=images, method=method, **extra)
    return quantize_onnx(fp32, out, options).path


def calibration_batches(calib: Path, images: int, size: int) -> list:
    """The calibration images pre-processed as at inference, one (1, 3, size, size) batch each:
    what the NNCF and ModelOpt rows calibrate on."""
    from centerpose_core.affine import preprocess
    from centerpose_core.export.tensorrt.calibrator import list_calibration_images
    from centerpose_core.image_io import read_image

    return [preprocess(read_image(p), size)[0][None] for p in list_calibration_images(calib, images)]


def nncf_file(fp32: Path, out: Path, calib: Path, images: int, size: int, preset: str) -> Path:
    import onnx
    from quant_nncf import nncf_quantize

    from centerpose_core.export.quantize import fp32_nodes

    ignored = fp32_nodes(onnx.load(str(fp32), load_external_data=False))
    return nncf_quantize(fp32, out, calibration_batches(calib, images, size), ignored, preset)


def modelopt_file(
    fp32: Path, out: Path, calib: Path, images: int, size: int, roots_fp32: bool, method: str = "max"
) -> Path:
    import onnx
    from quant_modelopt import modelopt_quantize

    from centerpose_core.export.quantize import concat_fed_convs, fp32_nodes

    model = onnx.load(str(fp32), load_external_data=False)
    ignored = fp32_nodes(model) + (concat_fed_convs(model) if roots_fp32 else [])
    return modelopt_quantize(fp32, out, calibration_batches(calib, images, size), ignored, method)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="checkpoint (.pth)")
    parser.add_argument("--heldout", required=True, type=Path, help="DIR with annotations.json and images/")
    parser.add_argument("--calib", required=True, type=Path, help="folder of calibration images")
    parser.add_argument("--calib-images", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--out-dir", type=Path, default=REPO / "runs" / "int8_ap")
    parser.add_argument("--rounds", type=int, default=200, help="bootstrap rounds")
    parser.add_argument("--only", nargs="*", help="configuration labels to run (default all)")
    args = parser.parse_args(argv)

    from centerpose_core.data.dataset import load_coco
    from centerpose_core.runtime import Predictor
    from centerpose_core.train.evaluate import coco_keypoint_stats
    from centerpose_core.train.int8_accuracy import displacement
    from centerpose_core.train.int8_accuracy import run_heldout as _run
    from centerpose_core.train.paired_bootstrap import paired_ap_bootstrap

    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "fp32.onnx"
    if not fp32.is_file():
        subprocess.run(
            [sys.executable, "-m", "centerpose_core.cli", "export", "--model", str(args.model),
             "--onnx", str(fp32), "--size", str(args.size), "--hw", "fixed", "--batch", "1"],
            check=True,
        )  # fmt: skip
    c, n = args.calib, args.calib_images
    configs = {
        "ort minmax": ("onnxruntime", lambda o: ort_quantize(fp32, o, c, n, "minmax", symmetric=False)),
        "ort percentile 99.999": (
            "onnxruntime",
            lambda o: ort_quantize(fp32, o, c, n, "percentile", symmetric=False),
        ),
        "ort percentile 99.99": (
            "onnxruntime",
            lambda o: ort_quantize(fp32, o, c, n, "percentile", percentile=99.99, symmetric=False),
        ),
        "ort percentile 99.999 symmetric": (
            "onnxruntime",
            lambda o: ort_quantize(fp32, o, c, n, "percentile", symmetric=True),
        ),
        "ort percentile 99.999 symmetric, openvino": (
            "openvino",
            lambda o: ort_quantize(fp32, o, c, n, "percentile", symmetric=True),
        ),
        "ort minmax symmetric": (
            "onnxruntime",
            lambda o: ort_quantize(fp32, o, c, n, "minmax", symmetric=True),
        ),
        "ort entropy": ("onnxruntime", lambda o: ort_quantize(fp32, o, c, n, "entropy", symmetric=False)),
        "modelopt max": ("onnxruntime", lambda o: modelopt_file(fp32, o, c, n, args.size, False)),
        "modelopt max, openvino": ("openvino", lambda o: modelopt_file(fp32, o, c, n, args.size, False)),
        "modelopt max, roots fp32": ("onnxruntime", lambda o: modelopt_file(fp32, o, c, n, args.size, True)),
        "modelopt max, roots fp32, openvino": (
            "openvino",
            lambda o: modelopt_file(fp32, o, c, n, args.size, True),
        ),
        "modelopt entropy": (
            "onnxruntime",
            lambda o: modelopt_file(fp32, o, c, n, args.size, False, "entropy"),
        ),
        "nncf mixed": ("openvino", lambda o: nncf_file(fp32, o, c, n, args.size, "mixed")),
        "nncf symmetric": ("openvino", lambda o: nncf_file(fp32, o, c, n, args.size, "symmetric")),
    }
    if args.only:
        configs = {k: v for k, v in configs.items() if k in args.only}

    coco = load_coco(args.heldout / "annotations.json")
    category = (coco.getCatIds(catNms=["person"]) or coco.getCatIds())[0]
    ids = sorted(coco.getImgIds())
    persons = len(coco.getAnnIds(imgIds=ids, catIds=[category], iscrowd=False))
    images = args.heldout / "images"
    reference: dict[str, tuple] = {}
    rows = []
    for label, (backend, make) in configs.items():
        path = out / f"{label.replace(' ', '_').replace(',', '')}.onnx"
        start = time.perf_counter()
        try:
            if not path.is_file():
                make(path)
        except Exception as exc:  # a tool that fails is a result too
            rows.append({"config": label, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            print(json.dumps(rows[-1]), flush=True)
            continue
        made_s = time.perf_counter() - start
        common = {"backend": backend, "input_size": args.size, "num_threads": 1}
        if backend not in reference:
            reference[backend] = _run(Predictor(fp32, precision="fp32", **common), coco, images, category)
        fp32_persons, fp32_results = reference[backend]
        int8_persons, int8_results = _run(Predictor(path, precision="int8", **common), coco, images, category)
        ap_fp32 = coco_keypoint_stats(coco, fp32_results, ids)["AP"]
        ap_int8 = coco_keypoint_stats(coco, int8_results, ids)["AP"]
        low, high = paired_ap_bootstrap(coco.dataset, fp32_results, int8_results, rounds=args.rounds)
        median_px, confident = displacement(fp32_persons, int8_persons, args.size)
        rows.append(
            {
                "config": label,
                "runtime": backend,
                "ap_fp32": round(ap_fp32, 4),
                "ap_int8": round(ap_int8, 4),
                "drop": round(ap_fp32 - ap_int8, 4),
                "drop_95": [round(low, 4), round(high, 4)],
                "displacement_px": round(median_px, 3),
                "confident_fp32_persons": confident,
                "quantize_s": round(made_s, 1),
                "passes": persons >= 500 and ap_fp32 - ap_int8 <= 0.01 and median_px <= 1.0,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    table = {"persons": persons, "images": len(ids), "rows": rows}
    (out / "table.json").write_text(json.dumps(table, indent=2))
    print(f"held-out: {len(ids)} images, {persons} persons at {args.size}x{args.size}")
    print("| configuration | runtime | AP fp32 | AP INT8 | drop (95 % interval) | median displacement px |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['config']} | - | - | - | failed: {r['error']} | - |")
            continue
        lo, hi = r["drop_95"]
        print(
            f"| {r['config']} | {r['runtime']} | {r['ap_fp32']:.3f} | {r['ap_int8']:.3f} | "
            f"{r['drop'] * 100:+.1f} [{lo * 100:+.1f}, {hi * 100:+.1f}] | {r['displacement_px']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
