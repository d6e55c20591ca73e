"""Mask branch training (issue 21): the binary Lovász hinge on hand-worked values, the seed's
SegLoss2 grouped convolution, the `seg` target of a known polygon through a known affine, and the
seventh loss term."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from centerpose_core.affine import get_affine_transform
from centerpose_core.constants import HEADS
from centerpose_core.data.codec import PoseTargetCodec
from centerpose_core.data.dataset import CocoKeypointDataset
from centerpose_core.data.masks import annotation_mask
from centerpose_core.loss_weights import LossWeights
from centerpose_core.losses import MultiPoseLoss, seg_loss
from centerpose_core.lovasz import lovasz_grad, lovasz_hinge, symmetric_lovasz_hinge

# Three pixels, logits (2, -1, 0.5), labels (1, 0, 0). Hinge errors 1 - logit * sign:
# (1 - 2, 1 - 1, 1 + 0.5) = (-1, 0, 1.5); sorted down: 1.5 (bg), 0 (bg), -1 (fg).
# Foreground term: labels sorted (0, 0, 1): g = 1, intersection (1, 1, 0), union (2, 3, 3),
# Jaccard loss (1/2, 2/3, 1), increments (1/2, 1/6, 1/3); elu(e) + 1 = (2.5, 1, e^-1).
FG = 0.5 * 2.5 + 1 / 6 * 1 + 1 / 3 * math.exp(-1)
# Background term (-logits vs 1 - labels): the same errors, labels sorted (1, 1, 0): g = 2,
# intersection (1, 0, 0), union (2, 2, 3), Jaccard loss (1/2, 1, 1), increments (1/2, 1/2, 0).
BG = 0.5 * 2.5 + 0.5 * 1 + 0 * math.exp(-1)


def test_lovasz_grad_by_hand():
    assert lovasz_grad(torch.tensor([0, 0, 1])).tolist() == pytest.approx([0.5, 1 / 6, 1 / 3])
    assert lovasz_grad(torch.tensor([1, 1, 0])).tolist() == pytest.approx([0.5, 0.5, 0.0])


def test_lovasz_hinge_by_hand_with_an_ignored_pixel():
    logits = torch.tensor([2.0, -1.0, 0.5, 100.0])
    labels = torch.tensor([1, 0, 0, 255])
    assert lovasz_hinge(logits, labels, ignore=255).item() == pytest.approx(FG, rel=1e-6)
    assert symmetric_lovasz_hinge(logits, labels.to(torch.uint8)).item() == pytest.approx(
        (FG + BG) / 2, rel=1e-6
    )
    empty = torch.zeros(3, requires_grad=True)
    value = lovasz_hinge(empty, torch.full((3,), 255), ignore=255)
    value.backward()
    assert value.item() == 0.0 and empty.grad.eq(0).all()


def test_seg_loss_runs_each_slot_over_its_own_image():
    # 2 images, 1 slot each, 3x3 maps. Image b's feature 0 holds its logits; the kernel at each
    # slot's ind is 1 at feature 0's center tap: logits = that image's feature 0.
    seg_feat = torch.zeros(2, 48, 3, 3)
    seg_feat[0, 0] = torch.tensor([[2.0, -1.0, 0.5], [-3.0, -3.0, -3.0], [-3.0, -3.0, -3.0]])
    seg_feat[1, 0] = torch.tensor([[3.0, 3.0, -3.0], [3.0, 3.0, -3.0], [-3.0, -3.0, 3.0]])
    seg = torch.randn(2, 432, 3, 3) * 50
    ind = torch.tensor([[4], [0]])
    seg[0, :, 1, 1] = 0.0
    seg[0, 4, 1, 1] = 1.0
    seg[1, :, 0, 0] = 0.0
    seg[1, 4, 0, 0] = 1.0
    target = torch.full((2, 1, 3, 3), 255, dtype=torch.uint8)
    target[0, 0, 0] = torch.tensor([1, 0, 0], dtype=torch.uint8)  # image 0: only its top row counts
    value = seg_loss(seg, seg_feat, ind, target)
    assert value.item() == pytest.approx((FG + BG) / 2, rel=1e-6)  # image 1 all ignored
    target[1, 0] = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.uint8)  # image 1 perfect
    both = seg_loss(seg, seg_feat, ind, target)
    direct = symmetric_lovasz_hinge(
        torch.cat([seg_feat[0, 0, 0], seg_feat[1, 0].reshape(-1)]),
        torch.cat([target[0, 0, 0], target[1, 0].reshape(-1)]),
    )
    assert both.item() == pytest.approx(direct.item(), rel=1e-6)


def _square_target(flip: bool) -> np.ndarray:
    # A 64 x 64 image, polygon x 6..26, y 6..42, mapped onto a 16 x 16 map (factor 1/4): map pixel
    # (u, v) reads source pixel (4u, 4v) exactly, so the target is 1 at u 2..6, v 2..10. Mirrored
    # (x -> 63 - x: 37..57) it is 1 at u 10..14.
    mask = annotation_mask([[6, 6, 26, 6, 26, 42, 6, 42]], 64, 64)
    if flip:
        mask = mask[:, ::-1].copy()
    codec = PoseTargetCodec(output_size=16, max_objects=3)
    trans = get_affine_transform((32, 32), 64, 0, (16, 16))
    targets = codec.encode(np.array([[6, 6, 26, 42]], np.float32), np.ones((1, 17, 3), np.float32), trans)
    return codec.encode_masks(targets, [mask], trans)


@pytest.mark.parametrize("flip", [False, True])
def test_target_of_a_known_polygon_through_a_known_affine(flip):
    seg = _square_target(flip)
    assert seg.shape == (3, 16, 16) and seg.dtype == np.uint8
    expected = np.zeros((16, 16), np.uint8)
    columns = slice(10, 15) if flip else slice(2, 7)
    expected[2:11, columns] = 1
    np.testing.assert_array_equal(seg[0], expected)
    assert (seg[1:] == 255).all()  # slots without a person are ignored


def test_annotation_without_segmentation_is_an_ignored_slot(easy_set, tmp_path):
    import json

    ann, images = easy_set
    data = json.loads(ann.read_text())
    assert all(a["segmentation"]["counts"] for a in data["annotations"])  # synthetic figures have RLE
    del data["annotations"][0]["segmentation"]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    dataset = CocoKeypointDataset(edited, images, input_size=64, train=False, masks=True)
    first, second = dataset.make_sample(0), dataset.make_sample(1)
    assert first["reg_mask"][0] == 1 and (first["seg"] == 255).all()
    assert set(np.unique(second["seg"][0])) == {0, 1} and (second["seg"][1:] == 255).all()
    # The synthetic RLE is exactly the figure's pixels: its target lies inside the person's box.
    out = 16
    ind = int(second["ind"][0])
    cx, cy = ind % out + second["reg"][0][0], ind // out + second["reg"][0][1]
    w, h = second["wh"][0]
    ys, xs = np.nonzero(second["seg"][0] == 1)
    assert xs.min() >= cx - w / 2 - 1 and xs.max() <= cx + w / 2 + 1
    assert ys.min() >= cy - h / 2 - 1 and ys.max() <= cy + h / 2 + 1


def test_seg_loss_is_a_seventh_term_and_leaves_the_six_unchanged():
    torch.manual_seed(0)
    outputs = {name: torch.randn(1, c, 16, 16) for name, c in {**HEADS, "seg_feat": 48, "seg": 432}.items()}
    batch = {k: torch.from_numpy(v[None]) for k, v in _targets_with_masks().items()}
    total, terms = MultiPoseLoss()(outputs, batch)
    six = {k: v for k, v in outputs.items() if not k.startswith("seg")}
    total_six, terms_six = MultiPoseLoss()(six, batch)
    for name, value in terms_six.items():
        if name != "seg_loss":
            assert terms[name].item() == value.item(), name
    assert terms_six["seg_loss"].item() == 0.0 and terms["seg_loss"].item() > 0
    assert total.item() == pytest.approx(total_six.item() + terms["seg_loss"].item(), rel=1e-6)
    doubled, _ = MultiPoseLoss(LossWeights(seg=2.0))(outputs, batch)
    assert doubled.item() == pytest.approx(total_six.item() + 2 * terms["seg_loss"].item(), rel=1e-6)


def _targets_with_masks() -> dict[str, np.ndarray]:
    mask = annotation_mask([[6, 6, 26, 6, 26, 42, 6, 42]], 64, 64)
    codec = PoseTargetCodec(output_size=16)
    trans = get_affine_transform((32, 32), 64, 0, (16, 16))
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, :, :2] = 16
    kps[0, :, 2] = 2
    targets = codec.encode(np.array([[6, 6, 26, 42]], np.float32), kps, trans)
    targets["seg"] = codec.encode_masks(targets, [mask], trans)
    return targets


def test_targets_command_writes_the_seg_target(easy_set, tmp_path, capsys):
    import json as json_module

    from centerpose_core.cli import main as cli_main

    ann, images = easy_set
    out = tmp_path / "targets"
    argv = ["targets", "--ann", str(ann), "--images", str(images), "--out", str(out)]
    assert cli_main([*argv, "--input-size", "64", "--masks", "--draw"]) == 0
    assert json_module.loads(capsys.readouterr().out)["images"] == 4
    with np.load(out / "000001.npz") as npz:
        seg = npz["seg"]
    assert seg.shape == (32, 16, 16) and seg.dtype == np.uint8
    assert set(np.unique(seg[0])) == {0, 1} and (seg[1:] == 255).all()
    assert (out / "000001_seg.png").is_file()


def test_ground_truth_masks_score_segm_ap_one(easy_set):
    from centerpose_core.data.dataset import load_coco
    from centerpose_core.train.evaluate import coco_keypoint_stats

    ann, _ = easy_set
    coco = load_coco(ann)
    results = [
        {"image_id": a["image_id"], "category_id": 1, "segmentation": a["segmentation"], "score": 1.0}
        for a in coco.dataset["annotations"]
    ]
    stats = coco_keypoint_stats(coco, results, iou_type="segm")
    assert stats["AP"] == pytest.approx(1.0) and stats["AR100"] == pytest.approx(1.0)
    assert set(stats) >= {"APs", "APm", "APl", "AR1", "AR10"}  # COCOeval's segm summary, named as such
