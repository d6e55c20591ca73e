"""Keypoint AP difference of two result sets on the same images, with a paired bootstrap interval.

Why paired: both configurations are scored on the same resample of images each round, so the
interval is that of the difference (what an INT8 accuracy check bounds), not of each AP alone,
which would overstate the noise. Images are drawn with replacement; a drawn image keeps all its
annotations and detections under a fresh image id, so a twice-drawn image counts twice.
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from typing import Any

import numpy as np

from centerpose_core.train.evaluate import coco_keypoint_stats


def _resampled(
    dataset: dict[str, Any], by_image: list[dict[int, list[dict]]], draw: np.ndarray
) -> tuple[Any, list[list[dict]]]:
    from pycocotools.coco import COCO

    images, annotations = [], []
    results: list[list[dict]] = [[] for _ in by_image]
    gt_by_image = defaultdict(list)
    for ann in dataset["annotations"]:
        gt_by_image[ann["image_id"]].append(ann)
    for new_id, old_id in enumerate(draw, start=1):
        entry = next(img for img in dataset["images"] if img["id"] == old_id)
        images.append({**entry, "id": new_id})
        for ann in gt_by_image[int(old_id)]:
            annotations.append({**ann, "image_id": new_id, "id": len(annotations) + 1})
        for out, source in zip(results, by_image):
            out.extend({**r, "image_id": new_id} for r in source.get(int(old_id), []))
    coco = COCO()
    coco.dataset = {**dataset, "images": images, "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco, results


def paired_ap_bootstrap(
    dataset: dict[str, Any],
    results_a: list[dict],
    results_b: list[dict],
    *,
    rounds: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """(low, high) of the `level` percentile interval of AP(a) - AP(b) over `rounds` image resamples.

    dataset: a COCO keypoint ground truth as a dict; results_a / results_b: COCO result entries
    (`evaluate.persons_to_coco`) for its images."""
    if rounds <= 0:
        raise ValueError(f"rounds must be positive, got {rounds}")
    ids = np.array(sorted(img["id"] for img in dataset["images"]))
    by_image: list[dict[int, list[dict]]] = []
    for results in (results_a, results_b):
        grouped: dict[int, list[dict]] = defaultdict(list)
        for r in results:
            grouped[int(r["image_id"])].append(r)
        by_image.append(grouped)
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(rounds):
        draw = rng.choice(ids, size=len(ids), replace=True)
        coco, (a, b) = _resampled(dataset, by_image, draw)
        image_ids = list(range(1, len(ids) + 1))
        differences.append(
            coco_keypoint_stats(coco, a, image_ids)["AP"] - coco_keypoint_stats(coco, b, image_ids)["AP"]
        )
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low), float(high)
