"""Measure an INT8 (Q/DQ) file against its fp32 source and, with --record, store the result in the
INT8 file's metadata (`export.accuracy_check.AccuracyCheck`), which `auto` requires before it runs
an INT8 file (README, "Which backend and precision `auto` runs").

The measurement is `train.int8_accuracy.measure_int8` (what `centerpose export --quantize int8
--heldout DIR` runs): per runtime, keypoint AP of both files and the paired bootstrap 95 % interval
of the drop, and the median keypoint displacement of fp32's confident persons; the calibration set's
fingerprint. The check passes with >= 500 held-out persons, AP at most 1 point below fp32 and a
median displacement of at most 1 px on every runtime it names.

    .venv/bin/python benchmarks/int8_check.py --fp32 model.onnx --int8 model.int8.onnx \
        --heldout runs/quant_ref/heldout256 --size 256 [--backend onnxruntime openvino] [--record]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32", required=True, type=Path, help="the fp32 ONNX file")
    parser.add_argument("--int8", required=True, type=Path, help="its INT8 (Q/DQ) copy")
    parser.add_argument("--heldout", required=True, type=Path, help="DIR with annotations.json and images/")
    parser.add_argument("--size", type=int, default=256, help="network input side")
    parser.add_argument(
        "--backend",
        nargs="+",
        default=None,
        choices=("openvino", "onnxruntime"),
        help="runtimes to measure on (default: ONNX Runtime and OpenVINO where installed)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=200, help="bootstrap rounds")
    parser.add_argument("--record", action="store_true", help="write the check into the INT8 file")
    args = parser.parse_args(argv)

    from centerpose_core.export.accuracy_check import write_accuracy_check
    from centerpose_core.train.int8_accuracy import measure_int8

    try:
        check = measure_int8(
            args.fp32,
            args.int8,
            args.heldout,
            args.size,
            tuple(args.backend) if args.backend else None,
            args.threads,
            args.rounds,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"int8_check: {exc}", file=sys.stderr)
        return 2
    print(check.to_json())
    print("passes" if check.passes() else "fails: " + "; ".join(check.failures()))
    if args.record:
        write_accuracy_check(args.int8, check)
        print(f"recorded in {args.int8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
