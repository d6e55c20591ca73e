"""Training targets of the six multi-pose heads: encoder and its decoder twin.

Encoding follows `src/lib/datasets/sample/multi_pose.py` of xingyizhou/CenterNet exactly.
Dimensions: N persons (at most `max_objs` = 32 are encoded), J = 17 joints, output map S x S
(input / 4). Coordinates: boxes and keypoints come in *source-image* pixels (already flipped when
the sample is flipped) together with the two affine matrices to the output map; targets are in
output-map pixels.

| name | shape | meaning |
|---|---|---|
| hm | (1, S, S) | center heatmap, umich gaussian of CenterNet's radius, 1 at the integer center |
| wh | (32, 2) | box width, height (after clipping to the map) |
| reg | (32, 2) | center minus integer center |
| ind | (32,) int64 | flat index y * S + x of the integer center |
| reg_mask | (32,) uint8 | 1 for an encoded person that has at least one labelled keypoint |
| hps | (32, 2J) | keypoint minus integer center, (x, y) per joint |
| hps_mask | (32, 2J) uint8 | 1 where the joint is labelled and inside the map |
| hm_hp | (J, S, S) | joint heatmaps (same radius as the person's center) |
| hp_offset | (32 J, 2) | keypoint minus integer keypoint |
| hp_ind | (32 J,) int64 | flat index of the integer keypoint |
| hp_mask | (32 J,) int64 | as hps_mask, one entry per (person, joint) |

Quirks kept from the original: a person with no labelled keypoint still gets its center gaussian
(peak 1) but `reg_mask` 0; keypoints use the rotated output transform while the box uses the
unrotated one; when the sample is rotated the center heatmap becomes 0.9999 everywhere and the
regression masks are zeroed (only the joint heatmaps and `hp_*` stay supervised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from centerpose_core.constants import NUM_KEYPOINTS
from centerpose_core.data.heatmap import (
    draw_msra_gaussian,
    draw_umich_gaussian,
    gaussian_2d,
    target_radius,
)

MAX_OBJECTS = 32
TARGET_NAMES = (
    "hm",
    "reg_mask",
    "ind",
    "wh",
    "hps",
    "hps_mask",
    "reg",
    "hm_hp",
    "hp_offset",
    "hp_ind",
    "hp_mask",
)


def _transform_point(point: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """One point through a 2x3 matrix in float32, as the original's `affine_transform`."""
    return (matrix @ np.array([point[0], point[1], 1.0], dtype=np.float32))[:2].astype(np.float32)


@dataclass(frozen=True)
class PoseTargetCodec:
    """Encode persons into CenterNet multi-pose targets, and decode targets back to persons.

    Args:
        output_size: side S of the square output map (input size / 4).
        max_objects: persons encoded per image (CenterNet: 32); extra persons are ignored.
        num_joints: keypoints per person (17 for COCO).
        mse_loss: draw MSRA gaussians of fixed `hm_gauss` sigma instead of umich ones (the
            original's `--mse_loss` variant).
        hm_gauss: sigma for the MSRA variant.
        dense_hp: also produce `dense_hps` / `dense_hps_mask` (the original's `--dense_hp`).
    """

    output_size: int
    max_objects: int = MAX_OBJECTS
    num_joints: int = NUM_KEYPOINTS
    mse_loss: bool = False
    hm_gauss: int = 4
    dense_hp: bool = False

    def encode(
        self,
        boxes: np.ndarray,
        keypoints: np.ndarray,
        trans_output: np.ndarray,
        trans_output_rot: np.ndarray | None = None,
        rotated: bool = False,
    ) -> dict[str, np.ndarray]:
        """Targets for N persons: `boxes` (N, 4) x1 y1 x2 y2, `keypoints` (N, J, 3) x y v (source pixels)."""
        s, nj, mo = self.output_size, self.num_joints, self.max_objects
        if trans_output_rot is None:
            trans_output_rot = trans_output
        hm = np.zeros((1, s, s), dtype=np.float32)
        hm_hp = np.zeros((nj, s, s), dtype=np.float32)
        wh = np.zeros((mo, 2), dtype=np.float32)
        hps = np.zeros((mo, 2 * nj), dtype=np.float32)
        reg = np.zeros((mo, 2), dtype=np.float32)
        ind = np.zeros((mo,), dtype=np.int64)
        reg_mask = np.zeros((mo,), dtype=np.uint8)
        hps_mask = np.zeros((mo, 2 * nj), dtype=np.uint8)
        hp_offset = np.zeros((mo * nj, 2), dtype=np.float32)
        hp_ind = np.zeros((mo * nj,), dtype=np.int64)
        hp_mask = np.zeros((mo * nj,), dtype=np.int64)
        dense_kps = np.zeros((nj, 2, s, s), dtype=np.float32) if self.dense_hp else None
        dense_kps_mask = np.zeros((nj, s, s), dtype=np.float32) if self.dense_hp else None

        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        keypoints = np.asarray(keypoints, dtype=np.float32).reshape(-1, nj, 3)
        for k in range(min(len(boxes), mo)):
            bbox = np.concatenate(
                [_transform_point(boxes[k, :2], trans_output), _transform_point(boxes[k, 2:], trans_output)]
            )
            bbox = np.clip(bbox, 0, s - 1)
            h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
            if not ((h > 0 and w > 0) or rotated):
                continue
            radius = self._radius(h, w)
            ct = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2], dtype=np.float32)
            ct_int = ct.astype(np.int32)
            wh[k] = w, h
            ind[k] = ct_int[1] * s + ct_int[0]
            reg[k] = ct - ct_int
            reg_mask[k] = 1
            pts = keypoints[k].copy()
            if pts[:, 2].sum() == 0:
                hm[0, ct_int[1], ct_int[0]] = 0.9999
                reg_mask[k] = 0
            for j in range(nj):
                if pts[j, 2] <= 0:
                    continue
                pts[j, :2] = _transform_point(pts[j, :2], trans_output_rot)
                if not (0 <= pts[j, 0] < s and 0 <= pts[j, 1] < s):
                    continue
                hps[k, 2 * j : 2 * j + 2] = pts[j, :2] - ct_int
                hps_mask[k, 2 * j : 2 * j + 2] = 1
                pt_int = pts[j, :2].astype(np.int32)
                hp_offset[k * nj + j] = pts[j, :2] - pt_int
                hp_ind[k * nj + j] = pt_int[1] * s + pt_int[0]
                hp_mask[k * nj + j] = 1
                if self.dense_hp:
                    # Must come before the center gaussian is drawn (the original's order).
                    _draw_dense_offset(dense_kps[j], hm[0], ct_int, pts[j, :2] - ct_int, radius)
                    self._draw(dense_kps_mask[j], ct_int, radius)
                self._draw(hm_hp[j], pt_int, radius)
            self._draw(hm[0], ct_int, radius)
        if rotated:
            hm = hm * 0 + 0.9999
            reg_mask *= 0
            hps_mask *= 0
        targets = {
            "hm": hm,
            "reg_mask": reg_mask,
            "ind": ind,
            "wh": wh,
            "hps": hps,
            "hps_mask": hps_mask,
            "reg": reg,
            "hm_hp": hm_hp,
            "hp_offset": hp_offset,
            "hp_ind": hp_ind,
            "hp_mask": hp_mask,
        }
        if self.dense_hp:
            targets["dense_hps"] = dense_kps.reshape(nj * 2, s, s)
            mask = np.repeat(dense_kps_mask[:, None], 2, axis=1)
            targets["dense_hps_mask"] = mask.reshape(nj * 2, s, s)
        return targets

    def decode(self, targets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Persons encoded in `targets`, in output-map pixels (the inverse of `encode`).

        Returns for the M slots with `reg_mask` 1: `centers` (M, 2), `boxes` (M, 4) x1 y1 x2 y2,
        `keypoints` (M, J, 2) from `hps` (NaN where `hps_mask` is 0), `joint_keypoints`
        (M, J, 2) from `hp_ind` + `hp_offset` (NaN where `hp_mask` is 0).
        """
        s, nj = self.output_size, self.num_joints
        slots = np.flatnonzero(targets["reg_mask"])
        ind = targets["ind"][slots]
        ct_int = np.stack([ind % s, ind // s], axis=1).astype(np.float32)
        centers = ct_int + targets["reg"][slots]
        half = targets["wh"][slots] / 2
        boxes = np.concatenate([centers - half, centers + half], axis=1)
        hps = targets["hps"][slots].reshape(-1, nj, 2) + ct_int[:, None]
        hps[targets["hps_mask"][slots].reshape(-1, nj, 2) == 0] = np.nan
        hp_ind = targets["hp_ind"].reshape(-1, nj)[slots]
        joints = np.stack([hp_ind % s, hp_ind // s], axis=-1).astype(np.float32)
        joints = joints + targets["hp_offset"].reshape(-1, nj, 2)[slots]
        joints[targets["hp_mask"].reshape(-1, nj)[slots] == 0] = np.nan
        return {"centers": centers, "boxes": boxes, "keypoints": hps, "joint_keypoints": joints}

    def _radius(self, h: float, w: float) -> int:
        if self.mse_loss:
            return self.hm_gauss
        return target_radius(h, w)

    def _draw(self, heatmap: np.ndarray, center: np.ndarray, radius: int) -> None:
        if self.mse_loss:
            draw_msra_gaussian(heatmap, center, radius)
        else:
            draw_umich_gaussian(heatmap, center, radius)


def _draw_dense_offset(
    regmap: np.ndarray, heatmap: np.ndarray, center: np.ndarray, value: np.ndarray, radius: int
) -> None:
    """The original's `draw_dense_reg(..., is_offset=True)`: offsets to the keypoint around a center."""
    diameter = 2 * radius + 1
    gaussian = gaussian_2d(diameter, sigma=diameter / 6)
    value = np.asarray(value, dtype=np.float32).reshape(-1, 1, 1)
    reg = np.ones((2, diameter * 2 + 1, diameter * 2 + 1), dtype=np.float32) * value
    delta = np.arange(diameter * 2 + 1) - radius
    reg[0] = reg[0] - delta.reshape(1, -1)
    reg[1] = reg[1] - delta.reshape(-1, 1)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region_hm = heatmap[y - top : y + bottom, x - left : x + right]
    region_reg = regmap[:, y - top : y + bottom, x - left : x + right]
    patch_g = gaussian[radius - top : radius + bottom, radius - left : radius + right]
    patch_reg = reg[:, radius - top : radius + bottom, radius - left : radius + right]
    if min(patch_g.shape) > 0 and min(region_hm.shape) > 0:
        take = (patch_g >= region_hm).reshape(1, *patch_g.shape)
        regmap[:, y - top : y + bottom, x - left : x + right] = (1 - take) * region_reg + take * patch_reg
