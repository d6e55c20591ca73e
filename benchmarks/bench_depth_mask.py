"""Which depth gives a person's 3D position: the torso joints (the node's rule without masks) or the
median over the person's own mask pixels? Measured on synthetic persons in front of a wall (issue 21).

    .venv/bin/python benchmarks/bench_depth_mask.py [--trials 1500] [--seed 0]

Each trial is one 640x480 aligned depth frame (16UC1, fx = fy = 615): a wall at 2.5-6 m and a
1.7 m person at 1.5 m to 0.5 m before it, standing with random arm and leg angles, drawn as a
silhouette (head, a torso reaching a little past the shoulder and hip joints, limbs of realistic
widths; arms up to 15 cm nearer than the torso). The
sensor: noise of sd 0.003 z^2 metres, 4 % of pixels missing (0), and on the silhouette's rim half
the pixels missing and a quarter "flying" (a depth between person and wall), as structured light
and stereo cameras give at depth edges. In `--occluded` share of the trials (default 30 %), a
table-like box 0.3-1 m in front of the person hides the lower 30-55 % of its body.

What the model would give: joints = the true joints moved by Gaussian noise of sd 2 % of the
person's height (3-9 px), score 0.8 where visible, 0.3 where hidden by the table (detectors still
guess such joints), 0 outside the image; the mask = the visible silhouette grown or shrunk by 0-3 px
and shifted by up to 2 px (a stride-4 mask upsampled), so its rim often lies on the wall.

Truth: the torso centre (mean of the true shoulders and hips) at the torso's depth. Rules:
- `joints`: `lift_arrays` without masks (torso joints' median 3D point, gated; box-centre fallback);
- `mask`: `lift_arrays` with `mask_depth` (median depth over the mask pixels; x, y at the torso
  joints' median pixel); `mask_eroded_<k>`: the mask first eroded by k pixels.
Prints per rule and scene: median / p90 of |z error| and of the 3D error (metres), the share of
gross errors (3D error > 0.25 m), and of persons without a position.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from centerpose_core.geometry import DepthImage, DepthLiftConfig, PinholeIntrinsics, lift_arrays
from centerpose_core.geometry.depth import mask_depth

WIDTH, HEIGHT, FOCAL = 640, 480, 615.0
ERODE = (1, 2, 4)
GROSS_M = 0.25

# A standing person in a box of height 1 (x around 0, y down from the top of the head), COCO order.
_POSE = np.array(
    [
        (0.0, 0.06), (-0.02, 0.045), (0.02, 0.045), (-0.05, 0.055), (0.05, 0.055),
        (-0.12, 0.19), (0.12, 0.19), (-0.15, 0.33), (0.15, 0.33), (-0.16, 0.46), (0.16, 0.46),
        (-0.07, 0.52), (0.07, 0.52), (-0.08, 0.73), (0.08, 0.73), (-0.08, 0.95), (0.08, 0.95),
    ]
)  # fmt: skip
_LIMBS = (
    (5, 7, 0.055),
    (7, 9, 0.045),
    (6, 8, 0.055),
    (8, 10, 0.045),
    (11, 13, 0.08),
    (13, 15, 0.06),
    (12, 14, 0.08),
    (14, 16, 0.06),
)  # fmt: skip  (joint, joint, width as a share of height)
SHOULDERS_HIPS = (5, 6, 11, 12)


def _person(rng: np.random.Generator, height_px: float, foot: tuple[float, float]) -> np.ndarray:
    """(17, 2) true joint pixels: the standing pose with random arm and leg swings."""
    pose = _POSE.copy()
    for elbow, wrist, shoulder in ((7, 9, 5), (8, 10, 6)):
        angle = rng.uniform(-0.6, 1.2) * (1 if shoulder == 6 else -1)
        for joint in (elbow, wrist):
            d = pose[joint] - pose[shoulder]
            c, s = np.cos(angle), np.sin(angle)
            pose[joint] = pose[shoulder] + (c * d[0] - s * d[1], s * d[0] + c * d[1])
    pose[[13, 15], 0] += rng.uniform(-0.04, 0.04)
    pose[[14, 16], 0] += rng.uniform(-0.04, 0.04)
    return np.asarray(foot) + (pose - (0.0, 1.0)) * height_px


def _silhouette(joints: np.ndarray, height_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Bool masks (body, arms) drawn from the joints."""
    body = np.zeros((HEIGHT, WIDTH), np.uint8)
    arms = np.zeros((HEIGHT, WIDTH), np.uint8)
    # The torso reaches a little past the shoulder and hip joints (deltoids, pelvis).
    outward = np.array([(-0.03, -0.015), (0.03, -0.015), (0.02, 0.0), (-0.02, 0.0)]) * height_px
    torso = (joints[[5, 6, 12, 11]] + outward).round().astype(np.int32)
    cv2.fillConvexPoly(body, torso, 1)
    neck = (joints[5] + joints[6]) / 2
    head = (joints[0] + neck) / 2
    cv2.circle(body, tuple(int(v) for v in head.round()), max(int(0.065 * height_px), 1), 1, -1)
    cv2.line(body, tuple(int(v) for v in neck), tuple(int(v) for v in head), 1, max(int(0.05 * height_px), 1))
    for a, b, width in _LIMBS:
        canvas = arms if a in (5, 6, 7, 8) else body
        pa, pb = (tuple(int(v) for v in joints[j].round()) for j in (a, b))
        cv2.line(canvas, pa, pb, 1, max(int(width * height_px), 1))
    return body.astype(bool), arms.astype(bool)


def _trial(rng: np.random.Generator, occluded_share: float) -> dict:
    wall = rng.uniform(2.5, 6.0)
    z = rng.uniform(max(1.5, wall - 1.5), wall - 0.5)
    height_px = FOCAL * 1.7 / z
    foot = (rng.uniform(0.2, 0.8) * WIDTH, 240 + FOCAL * rng.uniform(0.6, 1.2) / z)  # camera 0.6-1.2 m up
    joints = _person(rng, height_px, foot)
    body, arms = _silhouette(joints, height_px)
    metres = np.full((HEIGHT, WIDTH), wall)
    metres[body] = z
    metres[arms] = z - rng.uniform(0.0, 0.15)
    visible = body | arms
    hidden = np.zeros(17, bool)
    occluded = rng.random() < occluded_share
    if occluded:
        top = joints[:, 1].min() + rng.uniform(0.45, 0.7) * height_px
        left, right = joints[:, 0].min() - 0.2 * height_px, joints[:, 0].max() + 0.2 * height_px
        table = np.zeros((HEIGHT, WIDTH), bool)
        table[max(int(top), 0) :, max(int(left), 0) : max(int(right), 0)] = True
        metres[table] = z - rng.uniform(0.3, 1.0)
        visible &= ~table
        hidden = joints[:, 1] >= top
    # The sensor: noise, holes, and the silhouette's rim (half missing, a quarter flying pixels).
    metres += rng.normal(size=metres.shape) * 0.003 * metres**2
    edges = cv2.morphologyEx(visible.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(
        bool
    )
    draw = rng.random(metres.shape)
    flying = edges & (draw < 0.25)
    metres[flying] = z + rng.uniform(0, 1, flying.sum()) * (wall - z)
    depth_mm = np.round(metres * 1000).astype(np.uint16)
    depth_mm[edges & (draw >= 0.25) & (draw < 0.75)] = 0
    depth_mm[rng.random(metres.shape) < 0.04] = 0
    # What the model would give.
    detected = joints + rng.normal(size=joints.shape) * 0.02 * height_px
    inside = (
        (detected[:, 0] >= 0) & (detected[:, 0] < WIDTH) & (detected[:, 1] >= 0) & (detected[:, 1] < HEIGHT)
    )
    scores = np.where(inside, np.where(hidden, 0.3, 0.8), 0.0)
    keypoints = np.concatenate([detected, scores[:, None]], axis=1)
    grow = int(rng.integers(-3, 4))
    mask = visible.astype(np.uint8)
    if grow:
        kernel = np.ones((2 * abs(grow) + 1,) * 2, np.uint8)
        mask = (cv2.dilate if grow > 0 else cv2.erode)(mask, kernel)
    shift = rng.integers(-2, 3, 2)
    mask = np.roll(mask, tuple(shift), axis=(0, 1)).astype(bool)
    box = np.array([*detected[inside].min(axis=0), *detected[inside].max(axis=0)])
    truth_uv = joints[list(SHOULDERS_HIPS)].mean(axis=0)
    truth = np.array([(truth_uv[0] - WIDTH / 2) * z / FOCAL, (truth_uv[1] - HEIGHT / 2) * z / FOCAL, z])
    return dict(depth=depth_mm, keypoints=keypoints, box=box, mask=mask, truth=truth, occluded=occluded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1500)
    parser.add_argument("--occluded", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    intrinsics = PinholeIntrinsics.from_k([FOCAL, 0, WIDTH / 2, 0, FOCAL, HEIGHT / 2, 0, 0, 1], WIDTH, HEIGHT)
    config = DepthLiftConfig()
    rules = ["joints", "mask", *(f"mask_eroded_{k}" for k in ERODE)]
    errors: dict[str, list[np.ndarray]] = {rule: [] for rule in rules}
    occluded = []
    for _ in range(args.trials):
        t = _trial(rng, args.occluded)
        depth = DepthImage.from_array(t["depth"], "16UC1")
        kps, boxes = t["keypoints"][None], t["box"][None]
        occluded.append(t["occluded"])
        for rule in rules:
            points = None
            if rule != "joints":
                erode = int(rule.rsplit("_", 1)[1]) if "eroded" in rule else 0
                u, v, z = mask_depth(
                    depth, t["mask"], (WIDTH, HEIGHT), config.min_range, config.max_range, erode=erode
                )
                points = np.array([[u, v, z]])
            position = lift_arrays(kps, boxes, depth, intrinsics, (WIDTH, HEIGHT), config, points)[0][0]
            errors[rule].append(position - t["truth"])
    occluded = np.array(occluded)
    table = {}
    for scene, pick in (("all", np.ones_like(occluded)), ("open", ~occluded), ("occluded", occluded)):
        for rule in rules:
            e = np.array(errors[rule])[pick]
            found = np.all(np.isfinite(e), axis=1)
            dz, d3 = np.abs(e[found, 2]), np.linalg.norm(e[found], axis=1)
            table[f"{scene:8s} {rule}"] = {
                "n": int(pick.sum()),
                "z_median": round(float(np.median(dz)), 4),
                "z_p90": round(float(np.percentile(dz, 90)), 4),
                "3d_median": round(float(np.median(d3)), 4),
                "3d_p90": round(float(np.percentile(d3, 90)), 4),
                "gross": round(float(np.mean(d3 > GROSS_M) * found.mean()), 4),
                "no_position": round(float(1 - found.mean()), 4),
            }
    header = f"{'scene / rule':28s} {'n':>5s} {'|dz| med':>9s} {'|dz| p90':>9s} {'3D med':>8s} {'3D p90':>8s}"
    print(header + f" {'>0.25m':>7s} {'no pos':>7s}")
    for name, row in table.items():
        print(
            f"{name:28s} {row['n']:5d} {row['z_median']:9.3f} {row['z_p90']:9.3f} {row['3d_median']:8.3f} "
            f"{row['3d_p90']:8.3f} {row['gross']:7.3f} {row['no_position']:7.3f}"
        )
    print(json.dumps({"trials": args.trials, "seed": args.seed, "table": table}))


if __name__ == "__main__":
    main()
