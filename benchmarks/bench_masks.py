"""Per-frame cost of person masks as the ROS node pays it for /pose/masks (issue 21): a 640x480
image, a 512x512 network input (128x128 output map), 10 kept persons.

    .venv/bin/python benchmarks/bench_masks.py [--persons 10] [--runs 200] [--width 640 --height 480]

Stages, p50 / p95 ms over --runs frames (one CPU thread, as the Predictor decodes):
- `dynamic_conv`: the persons' 3x3 convolutions over `seg_feat` and the sigmoid (`mask_probabilities`),
  over the map pixels the image reads (`map_region`: 96 of 128 rows at 4:3); `dynamic_conv_whole_map`
  (former) over the whole map;
- `warp_full` (the former rule, kept here as the baseline): each person's map warped to the whole
  image, then thresholded; `warp_boxes` (the Predictor's): only inside each person's `source_box`,
  plus the full-image bool masks `Person.mask` keeps;
- `label_full` (former: every person's full mask painted), `label_boxes` (`label_image` with the
  persons' `mask_box`), and `mono8_bytes`: the label image's bytes, as the message copies them.
- `cut_to_boxes` (the Predictor's default, `masks_in_box`): each person's convolution and warp only
  over its own box (`boxed_mask_patches`; the boxes here are the ellipses' bounding boxes), plus the
  full-image bool masks `Person.mask` keeps.
`node_masks_added` = cut_to_boxes + label_boxes + mono8_bytes: what a /pose/masks subscriber adds per
frame with the default rule (the issue's target: at most 3 ms p50); `node_masks_added_whole_map` =
dynamic_conv + warp_boxes + label_boxes + mono8_bytes: the same with `masks_in_box=False`.

The persons' masks are person-sized ellipses (about 60 x 180 source pixels, some overlapping, one cut
by the image border) written into `seg_feat` so that each person's kernel (one centre tap) reads its
own: the convolution costs what a real model's does, and the masks look like persons, not like the
half-the-image blobs of random weights.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from centerpose_core.affine import WarpMeta, apply_affine, image_center_scale
from centerpose_core.constants import MASK_FEATURES, MASK_KERNEL
from centerpose_core.masks import (
    boxed_mask_patches,
    label_image,
    map_region,
    mask_patches,
    mask_probabilities,
    with_masks,
)
from centerpose_core.types import Person

MAP = 128  # 512 input / 4
THRESHOLD = 0.5


def person_maps(persons: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor, np.ndarray]:
    """Head maps whose dynamic convolution gives `persons` ellipse masks; their center indices; the
    ellipses' centers (u, v) on the map."""
    rng = np.random.default_rng(seed)
    seg_feat = torch.from_numpy(rng.normal(size=(MASK_FEATURES, MAP, MAP)).astype(np.float32))
    seg_shape = (MASK_FEATURES * MASK_KERNEL**2, MAP, MAP)
    seg = torch.from_numpy(rng.normal(scale=0.05, size=seg_shape).astype(np.float32))
    v, u = np.mgrid[0:MAP, 0:MAP].astype(np.float32)
    centers = np.stack([rng.uniform(8, MAP - 8, persons), rng.uniform(24, MAP - 24, persons)], axis=1)
    centers[0] = (2.0, 60.0)  # cut by the image's left border
    centers[1] = centers[2] + (4.0, 3.0)  # overlapping
    inds = []
    for n, (cu, cv) in enumerate(centers):
        logits = 6.0 * (1.0 - ((u - cu) / 6.0) ** 2 - ((v - cv) / 18.0) ** 2)
        seg_feat[n] = torch.from_numpy(np.clip(logits, -12.0, 12.0))
        iu, iv = int(round(cu)), int(round(cv))
        kernel = torch.zeros(MASK_FEATURES, MASK_KERNEL, MASK_KERNEL)
        kernel[n, 1, 1] = 1.0  # the centre tap of its own feature: its logits are the ellipse
        seg[:, iv, iu] = kernel.reshape(-1)
        inds.append(iv * MAP + iu)
    maps = {"seg_feat": seg_feat[None], "seg": seg[None]}
    return maps, torch.tensor([inds]), centers


def warp_full(probs: np.ndarray, meta: WarpMeta, image_hw: tuple[int, int]) -> np.ndarray:
    """The former rule: every person's map warped to the whole image, then thresholded."""
    height, width = image_hw
    out = np.zeros((len(probs), height, width), dtype=bool)
    for n, prob in enumerate(probs):
        warped = cv2.warpAffine(prob, meta.output_to_image(), (width, height), flags=cv2.INTER_LINEAR)
        np.greater(warped, THRESHOLD, out=out[n])
    return out


def label_full(masks: np.ndarray, scores: list[float]) -> np.ndarray:
    labels = np.zeros(masks.shape[1:], np.uint8)
    for i in sorted(range(len(masks)), key=lambda i: scores[i]):
        np.copyto(labels, np.uint8(i + 1), where=masks[i])
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()
    torch.set_num_threads(1)
    image_hw = (args.height, args.width)
    center, scale = image_center_scale(*image_hw)
    meta = WarpMeta(center=center, scale=scale, output_size=(MAP, MAP))
    maps, inds, centers = person_maps(args.persons)
    to_image = meta.output_to_image()
    region = map_region(to_image, image_hw, (MAP, MAP))
    scores = [1.0 - 0.05 * i for i in range(args.persons)]
    blank = [Person(s, np.zeros(4, np.float32), np.zeros((17, 3), np.float32)) for s in scores]

    times: dict[str, list[float]] = {}

    def timed(name: str, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        times.setdefault(name, []).append((time.perf_counter() - start) * 1e3)
        return out

    def boxes(probs: np.ndarray) -> list[Person]:
        origin = (region[2], region[0])
        return with_masks(blank, mask_patches(probs, to_image, image_hw, THRESHOLD, origin), image_hw)

    counts = [args.persons]
    half_axes = np.array([6.0, 18.0])  # the ellipses' semi-axes on the map (`person_maps`)
    person_boxes = [
        np.concatenate([apply_affine(np.array([c - half_axes, c + half_axes]), to_image)]).reshape(-1)
        for c in centers
    ]

    def cut_to_boxes() -> list[Person]:
        patches = boxed_mask_patches(
            maps["seg_feat"][0], maps["seg"][0], inds[0], person_boxes, to_image, image_hw
        )
        return with_masks(blank, patches, image_hw)

    for run in range(args.runs + 5):
        probs = timed("dynamic_conv", lambda: mask_probabilities(maps, inds, counts, [region])[0].numpy())
        whole = timed("dynamic_conv_whole_map", lambda: mask_probabilities(maps, inds, counts)[0].numpy())
        masks = timed("warp_full", warp_full, whole, meta, image_hw)
        timed("label_full", label_full, masks, scores)
        persons = timed("warp_boxes", boxes, probs)
        labels = timed("label_boxes", label_image, persons, *image_hw)
        timed("mono8_bytes", labels.tobytes)
        cut = timed("cut_to_boxes", cut_to_boxes)
        timed("label_cut", label_image, cut, *image_hw)
        if run < 5:  # warm-up
            times.clear()
        elif run == 5:
            same = np.array_equal(np.stack([p.mask for p in persons]), masks)
            cover = float(masks.mean())
    p50 = {name: float(np.percentile(v, 50)) for name, v in times.items()}
    p95 = {name: float(np.percentile(v, 95)) for name, v in times.items()}
    added = ("cut_to_boxes", "label_cut", "mono8_bytes")
    whole_map = ("dynamic_conv", "warp_boxes", "label_boxes", "mono8_bytes")
    before = ("dynamic_conv_whole_map", "warp_full", "label_full", "mono8_bytes")
    print(
        json.dumps(
            {
                "image": f"{args.width}x{args.height}",
                "persons": args.persons,
                "mean_mask_cover": round(cover, 4),
                "boxes_equal_full_warp": same,
                "p50_ms": {k: round(v, 3) for k, v in p50.items()},
                "p95_ms": {k: round(v, 3) for k, v in p95.items()},
                "node_masks_added_p50_ms": round(sum(p50[k] for k in added), 3),
                "node_masks_added_whole_map_p50_ms": round(sum(p50[k] for k in whole_map), 3),
                "node_masks_added_before_p50_ms": round(sum(p50[k] for k in before), 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
