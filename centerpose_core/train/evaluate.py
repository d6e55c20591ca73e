"""COCO keypoint evaluation of a model: the shared Predictor (same decode as inference) + pycocotools.

Detections are written as CenterNet's `convert_eval_format` does: every decoded candidate (K=100)
with its box, score and 17 keypoints (visibility 1), scored by `COCOeval(iouType='keypoints')`.
A model with the mask branch is also scored as instance segmentation (`iouType='segm'`, each
person's mask as RLE): the same summary under `segm_AP`, `segm_AP50`, ...
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import numpy as np

from centerpose_core.image_io import read_image
from centerpose_core.types import Person

# COCOeval's keypoint summary, in its `stats` order; the first six are what `centerpose eval`
# prints and the trainer logs.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
SUMMARY_STATS = STAT_NAMES[:6]
# COCOeval's segm summary (12 values: no AR50/AR75, small objects and 1/10/100 detections).
SEGM_STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
SEGM_SUMMARY_STATS = SEGM_STAT_NAMES[:6] + ("AR100",)


def persons_to_coco(image_id: int, persons: list[Person], category_id: int = 1) -> list[dict[str, Any]]:
    """COCO result entries (keypoint task) for one image's persons."""
    results = []
    for person in persons:
        x1, y1, x2, y2 = (float(v) for v in person.bbox)
        kps = np.concatenate([person.keypoints[:, :2], np.ones((len(person.keypoints), 1))], axis=1)
        results.append(
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": float(person.score),
                "keypoints": [float(v) for v in kps.ravel()],
            }
        )
    return results


def persons_to_coco_segm(image_id: int, persons: list[Person], category_id: int = 1) -> list[dict[str, Any]]:
    """COCO result entries (segm task) for the persons that carry a mask: RLE and score only, so
    pycocotools takes the area and box from the mask itself."""
    from centerpose_core.types import mask_to_rle

    return [
        {
            "image_id": int(image_id),
            "category_id": int(category_id),
            "segmentation": mask_to_rle(person.mask),
            "score": float(person.score),
        }
        for person in persons
        if person.mask is not None
    ]


def coco_keypoint_stats(
    coco_gt, results: list[dict[str, Any]], image_ids: list[int] | None = None, iou_type: str = "keypoints"
) -> dict[str, float]:
    """`COCOeval(iouType=iou_type)` summary as a dict (AP, AP50, AP75, APm, APl, AR, ...).

    `iou_type` 'keypoints' (OKS) or 'segm' (mask IoU; results need `segmentation`). No
    detections at all scores 0 (pycocotools cannot load an empty result list).
    """
    from pycocotools.cocoeval import COCOeval

    names = SEGM_STAT_NAMES if iou_type == "segm" else STAT_NAMES
    if not results:
        return {name: 0.0 for name in names}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
        if image_ids is not None:
            evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(value) for name, value in zip(names, evaluator.stats)}


def has_segmentation(coco) -> bool:
    """Whether every annotation of a COCO set has a non-empty `segmentation` (what segm AP needs)."""
    return all(ann.get("segmentation") for ann in coco.dataset["annotations"])


def evaluate_predictor(
    predictor,
    ann_file: str | Path,
    image_dir: str | Path,
    *,
    batch_size: int = 8,
    progress: bool = False,
) -> dict[str, float]:
    """Run `predictor` over every image of a COCO keypoint set and score it; adds `images_per_s`.

    With a mask model and a set whose every annotation has a segmentation, also `segm_<stat>`;
    on any other set no masks are computed (the keypoint results never read them). COCOeval's segm
    score reads up to 100 detections per image (maxDets), and a mask is not tied to its person's
    box, so when it runs every candidate's mask is computed.
    """
    from centerpose_core.data.dataset import load_coco

    coco = load_coco(ann_file)
    image_dir = Path(image_dir)
    image_ids = sorted(coco.getImgIds())
    category = coco.getCatIds(catNms=["person"]) or coco.getCatIds()
    masks = None if has_segmentation(coco) else False  # None: when the model has them
    results: list[dict[str, Any]] = []
    segm_results: list[dict[str, Any]] = []
    elapsed = 0.0
    batches = [image_ids[i : i + batch_size] for i in range(0, len(image_ids), batch_size)]
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="eval", unit="batch")
    for ids in batches:
        images = [read_image(image_dir / coco.imgs[i]["file_name"], f"image id {i}") for i in ids]
        start = time.perf_counter()
        persons = predictor.predict_batch(images, masks=masks)
        elapsed += time.perf_counter() - start
        for image_id, found in zip(ids, persons):
            results.extend(persons_to_coco(image_id, found, category_id=category[0]))
            segm_results.extend(persons_to_coco_segm(image_id, found, category_id=category[0]))
    stats = coco_keypoint_stats(coco, results, image_ids)
    if segm_results:
        segm = coco_keypoint_stats(coco, segm_results, image_ids, iou_type="segm")
        stats.update({f"segm_{name}": value for name, value in segm.items()})
    stats["images_per_s"] = len(image_ids) / elapsed if elapsed > 0 else 0.0
    stats["images"] = float(len(image_ids))
    return stats


def evaluate_model(
    model,
    ann_file: str | Path,
    image_dir: str | Path,
    *,
    input_size: int = 512,
    flip_test: bool = False,
    device: str = "cpu",
    batch_size: int = 8,
    backend: str = "torch",
    progress: bool = False,
) -> dict[str, float]:
    """Keypoint AP (and segm AP for a mask model) of a model (an nn.Module or a model file)."""
    from centerpose_core.runtime import Predictor

    predictor = Predictor(model, backend=backend, device=device, input_size=input_size, flip_test=flip_test)
    return evaluate_predictor(predictor, ann_file, image_dir, batch_size=batch_size, progress=progress)
