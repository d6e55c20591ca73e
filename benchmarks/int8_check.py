"""Measure an INT8 (Q/DQ) file against its fp32 source and, with --record, store the result in the
INT8 file's metadata (`export.accuracy_check.AccuracyCheck`), which `auto` requires before it runs
an INT8 file (README, "Which backend and precision `auto` runs").

Measured on a held-out COCO-format keypoint set, both files on the same runtime:
  * keypoint AP of each (pycocotools COCOeval, `centerpose eval`'s code) and a paired bootstrap
    95 % interval of AP fp32 - AP INT8 (`train.paired_bootstrap`, images resampled);
  * displacement: over the persons fp32 scores >= 0.3 (the node's default publishing threshold),
    the largest keypoint distance to the closest INT8 person, in network-input pixels; the median;
  * the calibration set's fingerprint: sha256 over the names and bytes of the calibration images the
    INT8 file's metadata names (folder and image count).

The check passes with >= 500 held-out persons, AP at most 1 point below fp32 and a median
displacement of at most 1 px (`export.accuracy_check`).

    .venv/bin/python benchmarks/int8_check.py --fp32 model.onnx --int8 model.int8.onnx \
        --heldout runs/quant_ref/heldout256 --size 256 [--backend openvino] [--record]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
from pathlib import Path

import numpy as np

MIN_SCORE = 0.3


def calibration_fingerprint(paths: list[Path]) -> str:
    """sha256 over each calibration image's file name and bytes, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(predictor, coco, image_dir: Path, category: int):
    from centerpose_core.image_io import read_image
    from centerpose_core.train.evaluate import persons_to_coco

    persons, results = {}, []
    for image_id in sorted(coco.getImgIds()):
        image = read_image(image_dir / coco.imgs[image_id]["file_name"], f"image id {image_id}")
        found = predictor.predict(image)
        persons[image_id] = (found, max(image.shape[:2]))
        results.extend(persons_to_coco(image_id, found, category_id=category))
    return persons, results


def displacement(reference: dict, candidate: dict, input_side: int) -> tuple[float, int]:
    """(median, count) over the reference persons scoring >= MIN_SCORE of the largest keypoint
    distance to the closest candidate person, in network-input pixels."""
    distances = []
    for image_id, (persons, side) in reference.items():
        others = candidate[image_id][0]
        scale = side / input_side
        for person in persons:
            if person.score < MIN_SCORE:
                continue
            if not others:
                distances.append(float("inf"))
                continue
            got = np.stack([o.keypoints[:, :2] for o in others])
            worst = np.linalg.norm(got - person.keypoints[None, :, :2], axis=2).max(axis=1)
            distances.append(float(worst.min() / scale))
    return (statistics.median(distances) if distances else float("inf")), len(distances)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32", required=True, type=Path, help="the fp32 ONNX file")
    parser.add_argument("--int8", required=True, type=Path, help="its INT8 (Q/DQ) copy")
    parser.add_argument("--heldout", required=True, type=Path, help="DIR with annotations.json and images/")
    parser.add_argument("--size", type=int, default=256, help="network input side")
    parser.add_argument("--backend", default="openvino", choices=("openvino", "onnxruntime"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=200, help="bootstrap rounds")
    parser.add_argument("--record", action="store_true", help="write the check into the INT8 file")
    args = parser.parse_args(argv)

    from centerpose_core.data.dataset import load_coco
    from centerpose_core.export.accuracy_check import AccuracyCheck, write_accuracy_check
    from centerpose_core.export.onnx_export import read_metadata
    from centerpose_core.export.tensorrt.calibrator import list_calibration_images
    from centerpose_core.runtime import Predictor
    from centerpose_core.train.evaluate import coco_keypoint_stats
    from centerpose_core.train.paired_bootstrap import paired_ap_bootstrap

    ann = args.heldout / "annotations.json"
    for label, path in (("--fp32", args.fp32), ("--int8", args.int8), ("--heldout annotations", ann)):
        if not path.is_file():
            print(f"int8_check: {label} {path}: file not found", file=sys.stderr)
            return 2
    settings = json.loads(read_metadata(args.int8).get("quantization", "{}"))
    if "calibration_folder" not in settings:
        print(f"int8_check: {args.int8}: no quantization settings in its metadata", file=sys.stderr)
        return 2
    calibration = list_calibration_images(settings["calibration_folder"], settings.get("max_images"))
    coco = load_coco(ann)
    category = (coco.getCatIds(catNms=["person"]) or coco.getCatIds())[0]
    common = {"backend": args.backend, "input_size": args.size, "num_threads": args.threads}
    fp32_persons, fp32_results = _run(
        Predictor(args.fp32, precision="fp32", **common), coco, args.heldout / "images", category
    )
    int8_persons, int8_results = _run(
        Predictor(args.int8, precision="int8", **common), coco, args.heldout / "images", category
    )
    ids = sorted(coco.getImgIds())
    ap_fp32 = coco_keypoint_stats(coco, fp32_results, ids)["AP"]
    ap_int8 = coco_keypoint_stats(coco, int8_results, ids)["AP"]
    interval = paired_ap_bootstrap(coco.dataset, fp32_results, int8_results, rounds=args.rounds)
    median_px, confident = displacement(fp32_persons, int8_persons, args.size)
    check = AccuracyCheck(
        calibration_sha256=calibration_fingerprint(calibration),
        heldout=f"{args.heldout} ({len(ids)} images) at {args.size}x{args.size}",
        persons=len(coco.getAnnIds(imgIds=ids, catIds=[category], iscrowd=False)),
        ap_fp32=round(ap_fp32, 4),
        ap_int8=round(ap_int8, 4),
        ap_drop_interval=(round(interval[0], 4), round(interval[1], 4)),
        displacement_px=round(median_px, 3),
        runtime=args.backend,
    )
    print(json.dumps({**json.loads(check.to_json()), "confident_fp32_persons": confident}))
    print("passes" if check.passes() else "fails: " + "; ".join(check.failures()))
    if args.record:
        write_accuracy_check(args.int8, check)
        print(f"recorded in {args.int8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
