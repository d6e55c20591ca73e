"""`centerpose export`: checkpoint -> one ONNX file (native or decomposed DCN), optionally an INT8
(QDQ) copy for CPU runtimes and a TensorRT engine.

Prints what was written and the static TensorRT compatibility report, so the user learns here
("needs TensorRT >= 10.1") rather than at engine build on the robot. A calibration folder is
checked (exists, has images, every image decodes) before the export starts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from centerpose_core.export.options import (
    BATCH_MODES,
    CALIBRATION_METHODS,
    DCN_FORMS,
    DECOMPOSED_OPSET,
    DYNAMIC_MAX_BATCH,
    HW_MODES,
    NATIVE_OPSET,
    PRECISIONS,
    QUANTIZE_MODES,
    BuildOptions,
    ExportOptions,
    QuantizeOptions,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Export backbone + neck + heads (outputs hm, wh, hps, reg, hm_hp, hp_offset) to ONNX; "
        "decode stays outside the graph."
    )
    parser.add_argument("--model", required=True, help="checkpoint (.pth) in CenterNet format")
    parser.add_argument("--onnx", required=True, help="output .onnx path")
    parser.add_argument(
        "--dcn",
        choices=DCN_FORMS,
        default=ExportOptions.dcn,
        help=f"native: ONNX DeformConv (opset {NATIVE_OPSET}; ONNX Runtime >= 1.25, TensorRT >= 10.1); "
        f"decomposed: plain ops at opset {DECOMPOSED_OPSET} (TensorRT 8.5+)",
    )
    parser.add_argument(
        "--size", type=int, default=ExportOptions.size, help="square input side (multiple of 32)"
    )
    parser.add_argument("--batch", choices=BATCH_MODES, default=ExportOptions.batch, help="batch dimension")
    parser.add_argument(
        "--hw",
        choices=HW_MODES,
        default=ExportOptions.hw,
        help="input height/width: fixed (--size square) or dynamic (any multiples of 32: camera-shaped "
        "input on ONNX Runtime / OpenVINO; TensorRT engines need fixed)",
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=None,
        help=f"ONNX opset (default {NATIVE_OPSET} native, {DECOMPOSED_OPSET} decomposed)",
    )
    parser.add_argument(
        "--external-data",
        action="store_true",
        help="write weights to OUT.onnx.data (default: one self-contained file)",
    )
    parser.add_argument("--verify", action="store_true", help="run ONNX Runtime once and compare with torch")
    parser.add_argument(
        "--engine", default=None, help="also build a TensorRT engine at this path (needs TensorRT)"
    )
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=BuildOptions.precision, help="engine precision"
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_MODES,
        default=None,
        help="also write an INT8 copy for CPU runtimes (ONNX Runtime static QDQ quantization, weights per "
        "channel; deformable convs and the heads' last convs stay fp32); needs --calib",
    )
    parser.add_argument(
        "--int8-onnx", default=None, help="path of the INT8 copy (default: OUT.int8.onnx beside --onnx)"
    )
    parser.add_argument(
        "--calib-images",
        type=int,
        default=QuantizeOptions.max_images,
        help="INT8: calibrate on at most this many images of the folder (sorted by name)",
    )
    parser.add_argument(
        "--calib-method",
        choices=CALIBRATION_METHODS,
        default=QuantizeOptions.method,
        help="INT8 (--quantize): activation range estimator (default: %(default)s)",
    )
    parser.add_argument(
        "--calib-percentile",
        type=float,
        default=QuantizeOptions.percentile,
        help="INT8, --calib-method percentile: share (%%) of each activation's values inside its range",
    )
    activations = parser.add_mutually_exclusive_group()
    activations.add_argument(
        "--symmetric",
        action="store_true",
        help="INT8 (--quantize): signed activations with zero point 0 on convolution inputs only, the "
        "Q/DQ form TensorRT takes and ONNX Runtime and OpenVINO run too (the default; the flag is kept "
        "for existing command lines)",
    )
    activations.add_argument(
        "--uint8",
        action="store_true",
        help="INT8 (--quantize): unsigned activations with fitted zero points on every quantized op "
        "instead: a file for ONNX Runtime and OpenVINO only (TensorRT refuses it), measured faster on "
        "both (ONNX Runtime 1.5-1.7x, OpenVINO 1.1-1.2x at 512x512)",
    )
    parser.add_argument(
        "--calib-dir", "--calib", dest="calib_dir", default=None, help="INT8: folder of calibration images"
    )
    parser.add_argument("--calib-cache", default=None, help="INT8: calibration table file (read/written)")
    parser.add_argument(
        "--heldout",
        default=None,
        help="INT8: held-out COCO keypoint set (DIR with annotations.json and images/); measure the INT8 "
        "file against fp32 on it (ONNX Runtime and OpenVINO) and record the check in the file, which "
        "precision 'auto' needs to run it (>= 500 persons, <= 1 AP below fp32, median <= 1 px)",
    )
    parser.add_argument(
        "--check-rounds", type=int, default=200, help="INT8 --heldout: paired bootstrap rounds"
    )
    parser.add_argument(
        "--device", default="cuda", help="GPU that builds the engine (cuda, cuda:1, ...); engines are per GPU"
    )
    parser.add_argument(
        "--workspace-gib",
        type=float,
        default=BuildOptions.workspace_gib,
        help="TensorRT builder workspace limit",
    )
    parser.add_argument("--json", default=None, help="write a JSON summary here")


def run(args: argparse.Namespace) -> int:
    from centerpose_core.errors import UserError
    from centerpose_core.export.onnx_export import export_onnx

    checkpoint = Path(args.model)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    options = ExportOptions(
        size=args.size,
        dcn=args.dcn,
        batch=args.batch,
        opset=args.opset,
        external_data=args.external_data,
        hw=args.hw,
    )
    quantize = _quantize_options(args)  # a bad calibration folder fails here, before the export
    result = export_onnx(checkpoint, args.onnx, options)
    summary = {
        "onnx": str(result.path),
        "dcn": options.dcn,
        "size": options.size,
        "batch": options.batch,
        "hw": options.hw,
        "opset": options.resolved_opset,
        "deform_convs": result.deform_convs,
        "bytes": result.path.stat().st_size,
        "tensorrt": result.compat.to_dict(),
    }
    print(
        f"wrote {result.path} ({summary['bytes'] / 1e6:.1f} MB, opset {options.resolved_opset}, "
        f"{options.dcn} DCN x{result.deform_convs}, batch {options.batch}, input {options.size})"
    )
    print(result.compat.summary())
    if args.verify:
        summary["max_abs_diff"] = _verify(checkpoint, result.path, options.size)
        print("onnxruntime vs torch max|diff| per head: " + json.dumps(summary["max_abs_diff"]))
    if quantize is not None:
        from centerpose_core.export.quantize import quantize_onnx

        int8_path = Path(args.int8_onnx) if args.int8_onnx else result.path.with_suffix(".int8.onnx")
        quantized = quantize_onnx(result.path, int8_path, quantize)
        summary["int8_onnx"] = str(quantized.path)
        summary["calibration_images"] = quantized.calibration_images
        print(
            f"wrote {quantized.path} (INT8 QDQ, {quantized.calibration_images} calibration images, "
            f"{len(quantized.fp32_nodes)} nodes kept fp32)"
        )
        if args.heldout:
            summary["accuracy_check"] = _record_check(result.path, quantized.path, args, options.size)
    if args.engine:
        try:
            summary["engine"] = str(_build_engine(args, result.path))
        # TensorRT or the GPU missing, an unsupported release, a parse or build failure, a stale
        # calibration table: one line (UserError covers the TensorRT errors), the ONNX file is good.
        except (UserError, RuntimeError, ValueError, OSError) as exc:
            raise UserError(f"{exc} (the ONNX file {result.path} was written)") from exc
        print(f"wrote TensorRT engine {summary['engine']}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


def _record_check(fp32: Path, int8: Path, args: argparse.Namespace, size: int) -> dict:
    """Measure the INT8 file against fp32 on --heldout and write the check into its metadata."""
    from centerpose_core.export.accuracy_check import write_accuracy_check
    from centerpose_core.train.int8_accuracy import measure_int8

    check = measure_int8(fp32, int8, Path(args.heldout), size, rounds=args.check_rounds)
    write_accuracy_check(int8, check)
    low, high = check.ap_drop_interval
    verdict = "passes" if check.passes() else "fails: " + "; ".join(check.failures())
    print(
        f"accuracy check on {check.runtime}, {check.persons} held-out persons: AP fp32 {check.ap_fp32:.3f}, "
        f"INT8 {check.ap_int8:.3f} (drop 95 % [{low * 100:+.1f}, {high * 100:+.1f}]), median displacement "
        f"{check.displacement_px:.2f} px; {verdict}; recorded in {int8}"
    )
    return {**json.loads(check.to_json()), "passes": check.passes()}


def _quantize_options(args: argparse.Namespace):
    """The INT8 quantization asked for (None without --quantize), its calibration images checked."""
    if args.quantize is None:
        int8_only = {
            "--int8-onnx": args.int8_onnx,
            "--symmetric": args.symmetric,
            "--uint8": args.uint8,
            "--heldout": args.heldout,
        }
        for flag, given in int8_only.items():
            if given:
                raise ValueError(f"{flag} needs --quantize int8")
        return None
    if not args.calib_dir:
        raise ValueError("--quantize int8 needs --calib DIR (a folder of calibration images)")
    from centerpose_core.export.quantize import check_calibration_folder

    options = QuantizeOptions(
        calibration_folder=args.calib_dir,
        max_images=args.calib_images,
        method=args.calib_method,
        symmetric=not args.uint8,
        percentile=args.calib_percentile,
    )
    check_calibration_folder(options)
    if args.heldout and not (Path(args.heldout) / "annotations.json").is_file():
        raise FileNotFoundError(f"--heldout {args.heldout}: no annotations.json in it")
    if args.check_rounds < 1:
        raise ValueError(f"--check-rounds must be positive, got {args.check_rounds}")
    return options


def _verify(checkpoint: Path, onnx_path: Path, size: int) -> dict[str, float]:
    import numpy as np
    import torch

    from centerpose_core.model.checkpoint import load_model
    from centerpose_core.runtime.onnxruntime_backend import OnnxRuntimeBackend

    batch = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    with torch.inference_mode():
        expected = load_model(checkpoint).eval()(torch.from_numpy(batch))
    actual = OnnxRuntimeBackend(onnx_path, input_size=size)(batch)
    return {name: float((actual[name] - expected[name]).abs().max()) for name in expected}


def _build_engine(args: argparse.Namespace, onnx_path: Path) -> Path:
    from centerpose_core.export.tensorrt import (
        build_engine_bytes,
        engine_key,
        gpu_identity,
        import_tensorrt,
        require_cuda,
        write_engine,
    )

    trt = import_tensorrt()
    device = require_cuda(args.device)
    options = BuildOptions(
        precision=args.precision,
        workspace_gib=args.workspace_gib,
        max_batch=1 if args.batch == "1" else DYNAMIC_MAX_BATCH,
        calibration_folder=args.calib_dir,
        calibration_cache=args.calib_cache,
    )
    engine = build_engine_bytes(onnx_path, options, args.size, device)  # checks what this TensorRT can build
    key = engine_key(onnx_path, options, args.size, trt.__version__, gpu_identity(device))
    return write_engine(args.engine, key, engine)
