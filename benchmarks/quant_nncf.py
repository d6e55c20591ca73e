"""INT8 with NNCF post-training quantization (OpenVINO's tool) vs ONNX Runtime's quantize_static, on
one exported ONNX file: both write Q/DQ ONNX; compared by how far each INT8 file's heads and
keypoints move from the fp32 file's on the same images (OpenVINO runs all three).

NNCF is benchmark-only: installed apart (pip install --target /work/peerlibs/nncf nncf) and added
to the end of sys.path, so the venv's own packages keep their versions.

    .venv/bin/python benchmarks/quant_nncf.py --fp32 model.onnx --calib DIR --images DIR [--size 128]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

PEERLIBS = Path("/work/peerlibs/nncf")


def nncf_quantize(fp32: Path, out: Path, calib: list[np.ndarray], ignored: list[str], preset: str) -> Path:
    """NNCF PTQ of the ONNX file (symmetric or mixed preset), `ignored` node names kept fp32."""
    if PEERLIBS.is_dir() and str(PEERLIBS) not in sys.path:
        sys.path.append(str(PEERLIBS))
    import nncf
    import onnx

    model = onnx.load(str(fp32))
    name = model.graph.input[0].name
    dataset = nncf.Dataset(calib, lambda image: {name: image})
    quantized = nncf.quantize(
        model,
        dataset,
        preset=nncf.QuantizationPreset.PERFORMANCE
        if preset == "symmetric"
        else nncf.QuantizationPreset.MIXED,
        subset_size=len(calib),
        ignored_scope=nncf.IgnoredScope(names=ignored, validate=False),
    )
    onnx.save(quantized, str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32", required=True, type=Path)
    parser.add_argument("--calib", required=True, type=Path)
    parser.add_argument("--calib-images", type=int, default=32)
    parser.add_argument("--images", required=True, type=Path, help="images to compare heads on")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--out-dir", type=Path, default=Path("runs/quant_nncf"))
    args = parser.parse_args(argv)

    import onnx

    from centerpose_core.affine import preprocess
    from centerpose_core.export.options import QuantizeOptions
    from centerpose_core.export.quantize import fp32_nodes, quantize_onnx
    from centerpose_core.export.tensorrt.calibrator import list_calibration_images
    from centerpose_core.image_io import read_image
    from centerpose_core.runtime import Predictor

    args.out_dir.mkdir(parents=True, exist_ok=True)
    paths = list_calibration_images(args.calib, args.calib_images)
    calib = [preprocess(read_image(p), args.size)[0][None] for p in paths]
    ignored = fp32_nodes(onnx.load(str(args.fp32), load_external_data=False))
    files: dict[str, Path] = {}
    timings: dict[str, float] = {}
    for label, make in (
        (
            "ort minmax",
            lambda out: (
                quantize_onnx(
                    args.fp32,
                    out,
                    QuantizeOptions(
                        str(args.calib), max_images=args.calib_images, method="minmax", symmetric=False
                    ),
                ).path
            ),
        ),
        (
            "ort entropy",
            lambda out: (
                quantize_onnx(
                    args.fp32,
                    out,
                    QuantizeOptions(
                        str(args.calib), max_images=args.calib_images, method="entropy", symmetric=False
                    ),
                ).path
            ),
        ),
        ("nncf mixed", lambda out: nncf_quantize(args.fp32, out, calib, ignored, "mixed")),
        ("nncf symmetric", lambda out: nncf_quantize(args.fp32, out, calib, ignored, "symmetric")),
    ):
        start = time.perf_counter()
        try:
            files[label] = make(args.out_dir / f"{label.replace(' ', '_')}.onnx")
        except Exception as exc:  # report and go on: a tool that fails is a result too
            print(f"{label}: failed: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            continue
        timings[label] = time.perf_counter() - start
        print(f"{label}: {files[label]} in {timings[label]:.0f} s", flush=True)

    images = [read_image(p) for p in sorted(args.images.iterdir()) if p.suffix.lower() in (".jpg", ".png")]
    reference = Predictor(args.fp32, backend="openvino", precision="fp32", input_size=args.size)
    expected = [reference.head_maps([image]) for image in images]
    for label, path in files.items():
        for backend in ("openvino", "onnxruntime"):
            try:
                candidate = Predictor(path, backend=backend, precision="int8", input_size=args.size)
                got = [candidate.head_maps([image]) for image in images]
            except Exception as exc:
                print(f"{label} on {backend}: does not run: {str(exc)[:300]}", flush=True)
                continue
            rms = {
                head: round(
                    float(
                        np.mean(
                            [
                                ((g[head] - e[head]).pow(2).mean().sqrt() / e[head].std()).item()
                                for g, e in zip(got, expected)
                            ]
                        )
                    ),
                    3,
                )
                for head in expected[0]
            }
            print(json.dumps({"tool": label, "runtime": backend, "relative_rms": rms}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
