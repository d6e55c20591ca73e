"""Measure an INT8 (Q/DQ) file against its fp32 source on a held-out set: the accuracy check that
`export --quantize int8 --heldout DIR` and `benchmarks/int8_check.py --record` write into the file.

Per runtime (ONNX Runtime, and OpenVINO where installed: `auto` runs INT8 files on OpenVINO), both
files run on that runtime:
  * keypoint AP of each (pycocotools COCOeval, `centerpose eval`'s code) and a paired bootstrap
    95 % interval of AP fp32 - AP INT8 (`train.paired_bootstrap`, images resampled);
  * displacement: over the persons fp32 scores >= MIN_SCORE (the node's default publishing
    threshold), the largest keypoint distance to the closest INT8 person, in network-input pixels;
    the median.
The recorded check takes the worst runtime's AP drop and displacement, so it passes only where every
runtime named in it passes (`export.accuracy_check`).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import numpy as np

from centerpose_core.export.accuracy_check import AccuracyCheck

MIN_SCORE = 0.3
CHECK_RUNTIMES = ("onnxruntime", "openvino")


def calibration_fingerprint(paths: list[Path]) -> str:
    """sha256 over each calibration image's file name and bytes, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_heldout(predictor, coco, image_dir: Path, category: int) -> tuple[dict, list[dict]]:
    """({image id: (persons, longer image side)}, COCO results) of `predictor` over every image."""
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


def installed_check_runtimes() -> tuple[str, ...]:
    """The CHECK_RUNTIMES this machine can run (ONNX Runtime is a core dependency)."""
    from centerpose_core.errors import MissingDependencyError
    from centerpose_core.runtime.openvino_backend import import_openvino

    try:
        import_openvino()
    except MissingDependencyError:
        return ("onnxruntime",)
    return CHECK_RUNTIMES


def measure_int8(
    fp32: Path,
    int8: Path,
    heldout: Path,
    size: int,
    runtimes: tuple[str, ...] | None = None,
    threads: int = 2,
    rounds: int = 200,
) -> AccuracyCheck:
    """The accuracy check of `int8` against `fp32` on the held-out set `heldout` (DIR with
    annotations.json and images/) at a `size` square input, measured on each of `runtimes`
    (default: those installed of CHECK_RUNTIMES)."""
    from centerpose_core.data.dataset import load_coco
    from centerpose_core.export.onnx_export import read_metadata
    from centerpose_core.export.tensorrt import list_calibration_images
    from centerpose_core.runtime import Predictor
    from centerpose_core.train.evaluate import coco_keypoint_stats
    from centerpose_core.train.paired_bootstrap import paired_ap_bootstrap

    annotations = Path(heldout) / "annotations.json"
    for label, path in (("fp32 file", fp32), ("INT8 file", int8), ("held-out annotations", annotations)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{label} not found: {path}")
    settings = json.loads(read_metadata(int8).get("quantization", "{}"))
    if "calibration_folder" not in settings:
        raise ValueError(f"{int8}: no quantization settings in its metadata (not written by export)")
    calibration = list_calibration_images(settings["calibration_folder"], settings.get("max_images"))
    coco = load_coco(annotations)
    category = (coco.getCatIds(catNms=["person"]) or coco.getCatIds())[0]
    ids = sorted(coco.getImgIds())
    images = Path(heldout) / "images"
    per_runtime: dict[str, dict] = {}
    for runtime in runtimes or installed_check_runtimes():
        common = {"backend": runtime, "input_size": size, "num_threads": threads}
        fp32_run = Predictor(fp32, precision="fp32", **common)
        fp32_persons, fp32_results = run_heldout(fp32_run, coco, images, category)
        int8_run = Predictor(int8, precision="int8", **common)
        int8_persons, int8_results = run_heldout(int8_run, coco, images, category)
        low, high = paired_ap_bootstrap(coco.dataset, fp32_results, int8_results, rounds=rounds)
        median_px, confident = displacement(fp32_persons, int8_persons, size)
        per_runtime[runtime] = {
            "ap_fp32": round(coco_keypoint_stats(coco, fp32_results, ids)["AP"], 4),
            "ap_int8": round(coco_keypoint_stats(coco, int8_results, ids)["AP"], 4),
            "ap_drop_interval": [round(low, 4), round(high, 4)],
            "displacement_px": round(median_px, 3),
            "confident_fp32_persons": confident,
        }
    worst = max(per_runtime.values(), key=lambda r: r["ap_fp32"] - r["ap_int8"])
    return AccuracyCheck(
        calibration_sha256=calibration_fingerprint(calibration),
        heldout=f"{heldout} ({len(ids)} images) at {size}x{size}",
        persons=len(coco.getAnnIds(imgIds=ids, catIds=[category], iscrowd=False)),
        ap_fp32=worst["ap_fp32"],
        ap_int8=worst["ap_int8"],
        ap_drop_interval=tuple(worst["ap_drop_interval"]),
        displacement_px=max(r["displacement_px"] for r in per_runtime.values()),
        runtime=", ".join(per_runtime),
        per_runtime=per_runtime,
    )
