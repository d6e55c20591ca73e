"""`centerpose eval` computes masks only where the segm score reads them (issue 21): on a set whose
annotations have segmentations (segm AP, up to COCOeval's 100 detections per image), not on one
without (keypoint AP never reads a mask)."""

from __future__ import annotations

import json

from centerpose_core.model.random_weights import build_random_model
from centerpose_core.runtime.predictor import Predictor
from centerpose_core.train.evaluate import evaluate_predictor


def test_eval_computes_masks_only_for_a_set_with_segmentations(shared_data, tmp_path) -> None:
    predictor = Predictor(build_random_model(seed=0, masks=True), input_size=64)
    ann = shared_data / "coco_mini" / "annotations" / "person_keypoints_mini.json"
    images = shared_data / "coco_mini" / "images"
    with_segm = evaluate_predictor(predictor, ann, images, batch_size=4)
    assert "segm_AP" in with_segm and "masks" in predictor.last_timings

    data = json.loads(ann.read_text())
    for annotation in data["annotations"]:
        annotation.pop("segmentation", None)
    bare = tmp_path / "no_segmentation.json"
    bare.write_text(json.dumps(data))
    without = evaluate_predictor(predictor, bare, images, batch_size=4)
    assert "segm_AP" not in without and "masks" not in predictor.last_timings
