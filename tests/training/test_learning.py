"""The network learns: a short CPU run on a synthetic set reaches a real COCO keypoint AP, and with
the mask branch trained alongside (`--masks`, issue 21) its person masks overlap the figures.

Also checks the scorer itself: the ground truth submitted as predictions scores AP 1.0.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from train_helpers import subprocess_env, train_command

from centerpose_core.data.dataset import load_coco
from centerpose_core.model.pose_net import build_pose_net
from centerpose_core.train.evaluate import coco_keypoint_stats, evaluate_model, persons_to_coco
from centerpose_core.types import Person

# Measured (same set, same flags, validating after each 40-step epoch): an untrained model scores
# AP 0.0; with the original's targets the trainer reaches AP 0.14 after 40 steps and 0.96 after 80
# (loss 2.4 -> 0.40); with the narrower CornerNet-paper radius used before, 0.01 and 1.0. The
# threshold 0.3 is far above chance and far below the expected ~1.0, so numeric differences
# between machines or thread counts cannot flip it, while a broken target, loss or decode would.
# This run trains the mask branch too (`--masks`). The same command with and without `--masks`
# (one thread, seeds 317 / 1 / 2; issue 21): keypoint AP 0.68 / 0.98 / 0.68 with masks, 1.0 /
# 1.0 / 0.81 without. The drops are one event, not a slower pose fit: at lr 1e-3 the seed's
# elu+1 Lovász hinge keeps widening the mask margins (max |mask logit| 3 -> 90 by step 60; the
# logits are a product of two heads), until around step 60 the seg term's gradient on the shared
# trunk jumps to 3-8x the pose terms' and hm / hm_hp losses spike 25-60x for a few steps. Up to
# then the pose terms track the mask-free run. The lowest AP seen (0.68) clears 0.3 by far; the
# held-out comparison at 128 px is `benchmarks/mask_branch_ap.py` (README, training masks).
AP_THRESHOLD = 0.3
# Mean mask IoU (top person of each image against its figure's exact mask): an untrained mask
# branch scores ~0; the trained one must clear this floor and beat the untrained one by MIOU_GAIN.
MIOU_THRESHOLD = 0.25
MIOU_GAIN = 0.2


def _mean_mask_iou(model, ann_file, images) -> float:
    """Mean over the images (one figure each) of the IoU between the top person's mask and the
    figure's annotated mask (pycocotools' annToMask of the synthetic RLE); 0 where no mask."""
    from centerpose_core.image_io import read_image
    from centerpose_core.runtime import Predictor

    coco = load_coco(ann_file)
    predictor = Predictor(model, input_size=64)
    ious = []
    for image_id in sorted(coco.getImgIds()):
        image = read_image(images / coco.imgs[image_id]["file_name"])
        (figure,) = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        truth = coco.annToMask(figure).astype(bool)
        top = predictor.predict(image, max_persons=1)
        mask = top[0].mask if top and top[0].mask is not None else np.zeros_like(truth)
        ious.append(float((mask & truth).sum() / max(1, (mask | truth).sum())))
    return float(np.mean(ious))


def _gt_as_results(ann_file) -> tuple[object, list[dict]]:
    coco = load_coco(ann_file)
    results = []
    for ann in coco.dataset["annotations"]:
        x, y, w, h = ann["bbox"]
        kps = np.array(ann["keypoints"], np.float32).reshape(17, 3)
        if not (kps[:, 2] > 0).any():
            continue  # COCOeval ignores persons without labelled keypoints; submitting them is an FP
        person = Person(score=1.0, bbox=np.array([x, y, x + w, y + h], np.float32), keypoints=kps)
        results.extend(persons_to_coco(ann["image_id"], [person], ann["category_id"]))
    return coco, results


def test_ground_truth_scores_ap_one(easy_set, small_set, shared_data) -> None:
    sets = [
        easy_set[0],
        small_set[0],
        shared_data / "coco_mini" / "annotations" / "person_keypoints_mini.json",
    ]
    for ann_file in sets:
        coco, results = _gt_as_results(ann_file)
        stats = coco_keypoint_stats(coco, results)
        assert stats["AP"] == pytest.approx(1.0), ann_file
        assert stats["AR"] == pytest.approx(1.0), ann_file


def test_short_training_reaches_keypoint_ap(easy_set, tmp_path) -> None:
    """80 Adam steps (batch 4, lr 1e-3, 64x64 input, no augmentation) on 4 images; then AP > 0.3.

    The run trains the mask branch too (`--masks`: the seventh loss term must not keep the poses
    from being learnt), and the masks must then overlap the figures (mean IoU, `_mean_mask_iou`)
    far better than the untrained branch's; the segm AP comes from the trainer and `centerpose eval`.

    The set is made to be learnable in seconds: one large figure per image, a fixed grey background,
    colour-coded left/right limbs (see `synthetic.py`); input 64 -> 16x16 output maps keeps a DLA-34
    step near 1 CPU-second. `--shuffle false` with batch = set size makes every batch the same four
    images (plain full-batch descent, the fastest way to memorise). The model is scored on the
    images it trained on: memorisation is the point, the test proves targets, loss, optimiser,
    decode and COCOeval fit together. The AP comes from the trainer's own validation and again
    from `centerpose eval` on the saved best checkpoint.
    """
    ann, images = easy_set
    torch.manual_seed(317)
    untrained_net = build_pose_net(masks=True)
    untrained = evaluate_model(untrained_net, ann, images, input_size=64)
    assert untrained["AP"] < 0.05
    untrained_miou = _mean_mask_iou(untrained_net, ann, images)

    out = tmp_path / "run"
    cmd = train_command(
        ann,
        images,
        out,
        "--epochs",
        "2",
        "--repeat",
        "40",
        "--shuffle",
        "false",
        "--batch-size",
        "4",
        "--flip",
        "0",
        "--val-ann",
        str(ann),
        "--val-images",
        str(images),
        "--val-every",
        "2",
        "--lr-step",
        "100",
        "--masks",
    )
    done = subprocess.run(
        cmd, env=subprocess_env() | {"OMP_NUM_THREADS": "2"}, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"learning: untrained AP {untrained['AP']:.3f}, trained {result}")
    assert result["last_val"]["AP"] > AP_THRESHOLD, result

    best = out / "model_best.pth"
    from centerpose_core.model.checkpoint import load_model

    trained_miou = _mean_mask_iou(load_model(best), ann, images)
    print(f"learning: mean mask IoU untrained {untrained_miou:.3f}, trained {trained_miou:.3f}")
    assert trained_miou > MIOU_THRESHOLD and trained_miou > untrained_miou + MIOU_GAIN
    assert "segm_AP" in result["last_val"], result
    assert best.is_file() and (out / "model_last.pth").is_file()
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "centerpose_core.cli",
            "eval",
            "--model",
            str(best),
            "--ann",
            str(ann),
            "--images",
            str(images),
            "--input-size",
            "64",
            "--backend",
            "torch",  # the trainer's validation runs torch fp32; the CLI's default is auto
        ],
        # The trainer's thread count: the same kernels give the same scores, so near-tied
        # candidates cannot swap order between the two evaluations and move the AP.
        env=subprocess_env() | {"OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    evaluated = json.loads(cli.stdout)
    assert set(evaluated) >= {"AP", "AP50", "AP75", "APm", "APl", "AR", "images_per_s"}
    assert evaluated["AP"] == pytest.approx(result["last_val"]["AP"], abs=1e-6)
    assert evaluated["segm_AP"] == pytest.approx(result["last_val"]["segm_AP"], abs=1e-6)
