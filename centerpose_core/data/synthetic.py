"""Synthetic COCO-format keypoint dataset: procedurally drawn stick figures with exact labels.

Each figure is an articulated body (head, torso, two arms and legs of two segments each) in a
random pose, size and position. Keypoints are exact because the drawing is made from them; the
box is the exact extent of the figure's pixels, the area its pixel count, the segmentation the
RLE of exactly those pixels (the visible part of the figure), and a keypoint hidden
under a figure drawn later is labelled visibility 1 (occluded) instead of 2. Keypoints outside the
image are unlabelled (0, 0, 0), as COCO. Left limbs are drawn in warm colours and right limbs in
cool ones, so left and right are distinguishable from pixels alone.

Used as the learnable fixture of the training tests and as a smoke test of a user's setup:

    python -m centerpose_core.data.synthetic --out /tmp/synth --num-images 64
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from centerpose_core.constants import KEYPOINT_NAMES, NUM_KEYPOINTS, SKELETON
from centerpose_core.types import mask_to_rle

# Rest pose in units of the figure height, origin between the hips, y down; the figure faces the
# viewer, so its left side is on the image's right (+x).
_HEAD = {0: (0.0, -0.78), 1: (0.035, -0.81), 2: (-0.035, -0.81), 3: (0.075, -0.79), 4: (-0.075, -0.79)}
_SHOULDER_Y, _SHOULDER_X, _HIP_X = -0.6, 0.13, 0.08
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.17, 0.16, 0.2, 0.2

# BGR colours: left limbs warm, right limbs cool, torso/head neutral.
_LEFT = ((0, 0, 255), (0, 140, 255), (0, 255, 255), (60, 20, 220))
_RIGHT = ((255, 0, 0), (255, 255, 0), (0, 200, 0), (255, 0, 160))
_LIMBS = (  # (joint a, joint b, colour)
    (5, 7, _LEFT[0]),
    (7, 9, _LEFT[1]),
    (6, 8, _RIGHT[0]),
    (8, 10, _RIGHT[1]),
    (11, 13, _LEFT[2]),
    (13, 15, _LEFT[3]),
    (12, 14, _RIGHT[2]),
    (14, 16, _RIGHT[3]),
)


@dataclass(frozen=True)
class SyntheticConfig:
    """What the generated set looks like.

    image_size: (width, height) of every image.
    persons: (min, max) figures per image.
    height_fraction: (min, max) figure height as a fraction of the image height.
    background: `fixed` (one mid-grey, easiest to learn), `random` (a random colour gradient plus
        noise per image).
    pose_jitter: limb angle spread in radians around hanging arms / straight legs.
    allow_outside: figures may stick out of the image (their outside keypoints become unlabelled).
    """

    image_size: tuple[int, int] = (256, 256)
    persons: tuple[int, int] = (1, 3)
    height_fraction: tuple[float, float] = (0.4, 0.9)
    background: str = "random"
    pose_jitter: float = 0.9
    allow_outside: bool = True


def _direction(angle: float) -> np.ndarray:
    """Unit vector at `angle` from straight down, counter-clockwise on screen for positive angles."""
    return np.array([np.sin(angle), np.cos(angle)])


def random_pose(rng: np.random.Generator, jitter: float) -> np.ndarray:
    """17 keypoints (x, y) of a random pose in figure-height units, origin between the hips."""
    pts = np.zeros((NUM_KEYPOINTS, 2))
    lean = rng.uniform(-0.15, 0.15) * jitter
    for j, (x, y) in _HEAD.items():
        pts[j] = (x + lean * -y, y)
    for side, sign in ((0, 1.0), (1, -1.0)):  # side 0: left (+x), 1: right (-x)
        shoulder = np.array([sign * _SHOULDER_X + lean * -_SHOULDER_Y, _SHOULDER_Y])
        hip = np.array([sign * _HIP_X, 0.0])
        upper = sign * rng.uniform(0.1, 0.4 + 1.6 * jitter)
        fore = upper + sign * rng.uniform(-0.5, 1.0) * jitter
        thigh = sign * rng.uniform(0.0, 0.1 + 0.5 * jitter)
        shin = thigh + rng.uniform(-0.4, 0.4) * jitter
        elbow = shoulder + _UPPER_ARM * _direction(upper)
        knee = hip + _THIGH * _direction(thigh)
        pts[5 + side] = shoulder
        pts[7 + side] = elbow
        pts[9 + side] = elbow + _FOREARM * _direction(fore)
        pts[11 + side] = hip
        pts[13 + side] = knee
        pts[15 + side] = knee + _SHIN * _direction(shin)
    return pts


def draw_figure(
    canvas: np.ndarray, pts: np.ndarray, height: float, body_colour: tuple[int, int, int]
) -> np.ndarray:
    """Draw one figure (pixel keypoints `pts`) onto `canvas`; returns its boolean pixel mask."""
    mask = np.zeros(canvas.shape[:2], np.uint8)
    thick = max(2, int(round(height * 0.05)))
    shift = 4  # sub-pixel precision for cv2 drawing
    scale = 1 << shift

    def p(j: int) -> tuple[int, int]:
        return int(round(pts[j, 0] * scale)), int(round(pts[j, 1] * scale))

    torso = np.array([p(5), p(6), p(12), p(11)], dtype=np.int32)
    for target, colour in ((canvas, body_colour), (mask, 255)):
        cv2.fillConvexPoly(target, torso, colour, cv2.LINE_AA, shift)
    head_center = tuple(int(round(v * scale)) for v in (pts[0] + (0.0, -0.02 * height)))
    for target, colour in ((canvas, body_colour), (mask, 255)):
        cv2.circle(target, head_center, int(round(0.085 * height * scale)), colour, -1, cv2.LINE_AA, shift)
    for a, b, colour in _LIMBS:
        cv2.line(canvas, p(a), p(b), colour, thick, cv2.LINE_AA, shift)
        cv2.line(mask, p(a), p(b), 255, thick, cv2.LINE_AA, shift)
    # Face marks: dark eyes, a red nose, grey ears, so the head joints are visible points.
    dot = max(1, int(round(height * 0.012)))
    for j, colour in (
        (0, (0, 0, 200)),
        (1, (40, 40, 40)),
        (2, (40, 40, 40)),
        (3, (90, 90, 90)),
        (4, (90, 90, 90)),
    ):
        cv2.circle(canvas, p(j), dot * scale, colour, -1, cv2.LINE_AA, shift)
    return mask > 127


def _background(rng: np.random.Generator, width: int, height: int, kind: str) -> np.ndarray:
    if kind == "fixed":
        return np.full((height, width, 3), 128, np.uint8)
    if kind != "random":
        raise ValueError(f"background must be 'fixed' or 'random', got {kind!r}")
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    img = (c0 * (1 - t) + c1 * t) * np.ones((height, 1, 1))
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def generate_image(rng: np.random.Generator, config: SyntheticConfig) -> tuple[np.ndarray, list[dict]]:
    """One BGR image and its persons: dicts with `keypoints` (17, 3), `bbox` [x, y, w, h], `area`."""
    width, height = config.image_size
    image = _background(rng, width, height, config.background)
    figures = []
    for _ in range(int(rng.integers(config.persons[0], config.persons[1] + 1))):
        fig_h = rng.uniform(*config.height_fraction) * height
        pose = random_pose(rng, config.pose_jitter) * fig_h
        lo, hi = pose.min(axis=0), pose.max(axis=0)
        size = np.array([width, height], dtype=float)
        margin = 0.1 * fig_h if config.allow_outside else -0.05 * fig_h
        low = -lo - margin
        high = np.maximum(low, size - hi + margin)
        origin = rng.uniform(low, high)
        pts = pose + origin
        body = tuple(int(v) for v in rng.integers(30, 226, 3))
        mask = draw_figure(image, pts, fig_h, body)
        figures.append((pts, mask))
    persons = []
    for i, (pts, mask) in enumerate(figures):
        if not mask.any():
            continue
        on_top = np.zeros_like(mask)
        for _, later in figures[i + 1 :]:
            on_top |= later
        visible_mask = mask & ~on_top
        if not visible_mask.any():
            continue
        kps = np.zeros((NUM_KEYPOINTS, 3))
        for j, (x, y) in enumerate(pts):
            if 0 <= x < width and 0 <= y < height:
                hidden = on_top[int(y), int(x)]
                kps[j] = (x, y, 1 if hidden else 2)
        if not (kps[:, 2] > 0).any():
            continue
        ys, xs = np.nonzero(visible_mask)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        persons.append(
            {
                "keypoints": kps,
                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                "area": float(visible_mask.sum()),
                "segmentation": mask_to_rle(visible_mask),
            }
        )
    return image, persons


def categories() -> list[dict]:
    """COCO's person category with its keypoint names and 1-based skeleton."""
    return [
        {
            "supercategory": "person",
            "id": 1,
            "name": "person",
            "keypoints": list(KEYPOINT_NAMES),
            "skeleton": [[a + 1, b + 1] for a, b in SKELETON],
        }
    ]


def write_synthetic_dataset(
    out_dir: str | Path, num_images: int, config: SyntheticConfig | None = None, seed: int = 0
) -> Path:
    """Write `num_images` PNGs to `out_dir/images` and `out_dir/annotations.json`; returns the json."""
    if num_images <= 0:
        raise ValueError(f"num_images must be positive, got {num_images}")
    config = config or SyntheticConfig()
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = config.image_size
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        image, persons = generate_image(rng, config)
        file_name = f"{image_id:06d}.png"
        cv2.imwrite(str(out_dir / "images" / file_name), image)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for person in persons:
            kps = person["keypoints"]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "iscrowd": 0,
                    "bbox": [round(v, 2) for v in person["bbox"]],
                    "area": person["area"],
                    "num_keypoints": int((kps[:, 2] > 0).sum()),
                    "keypoints": [
                        round(float(v), 2) if k % 3 != 2 else int(v) for k, v in enumerate(kps.ravel())
                    ],
                    "segmentation": person["segmentation"],
                }
            )
    ann_path = out_dir / "annotations.json"
    ann_path.write_text(
        json.dumps(
            {
                "info": {"description": "centerpose synthetic stick figures", "version": "1.0"},
                "licenses": [],
                "images": images,
                "annotations": annotations,
                "categories": categories(),
            }
        )
    )
    return ann_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic COCO-format keypoint dataset.")
    parser.add_argument("--out", required=True, help="output folder (images/ and annotations.json)")
    parser.add_argument("--num-images", type=int, default=64)
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("W", "H"))
    parser.add_argument("--persons", type=int, nargs=2, default=(1, 3), metavar=("MIN", "MAX"))
    parser.add_argument("--background", choices=("fixed", "random"), default="random")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = SyntheticConfig(
        image_size=tuple(args.size), persons=tuple(args.persons), background=args.background
    )
    print(write_synthetic_dataset(args.out, args.num_images, config, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
