"""Training targets of the six multi-pose heads, and the persons they encode (for checking).

Encoding follows `src/lib/datasets/sample/multi_pose.py` of xingyizhou/CenterNet exactly.
Dimensions: N persons (at most `max_objects` = 32 are encoded), J = 17 joints, output map S x S
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
| seg | (32, S, S) uint8 | mask models only (`encode_masks`): the person's mask on the map, 255 = ignore |

Quirks kept from the original: the box is rounded *up* before the radius is computed and the
radius truncated (`target_radius`); centers and joints are truncated, not rounded, to pixels; a
person with no labelled keypoint (a crowd region, say) still gets its center gaussian (the
original's 0.9999 there is overwritten by the gaussian's 1) but `reg_mask` 0; keypoints use the
rotated output transform while the box uses the unrotated one; when the sample is rotated the
center heatmap becomes 0.9999 everywhere and the regression masks are zeroed (only the joint
heatmaps and `hp_*` stay supervised).

The original's `--mse_loss` (fixed-sigma MSRA gaussians + MSE) and `--dense_hp` (dense keypoint
offset maps) variants are not offered: no published CenterNet pose model uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from centerpose_core.affine import apply_affine
from centerpose_core.constants import NUM_KEYPOINTS
from centerpose_core.data.heatmap import draw_umich_gaussian, target_radius
from centerpose_core.data.masks import MASK_IGNORE, warp_mask

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
# The original writes this at the center of a person without keypoints, and fills the whole
# center heatmap with it for rotated samples: "not a positive, but no negative penalty either".
NEAR_ONE = 0.9999


@dataclass(frozen=True)
class PoseTargetCodec:
    """Encode persons into CenterNet multi-pose targets; read the encoded persons back.

    Args:
        output_size: side S of the square output map (input size / 4).
        max_objects: persons encoded per image (CenterNet: 32); extra persons are ignored.
        num_joints: keypoints per person (17 for COCO).
    """

    output_size: int
    max_objects: int = MAX_OBJECTS
    num_joints: int = NUM_KEYPOINTS

    def empty_targets(self) -> dict[str, np.ndarray]:
        """All-zero targets (no person), with the original's shapes and dtypes."""
        s, nj, mo = self.output_size, self.num_joints, self.max_objects
        return {
            "hm": np.zeros((1, s, s), dtype=np.float32),
            "reg_mask": np.zeros((mo,), dtype=np.uint8),
            "ind": np.zeros((mo,), dtype=np.int64),
            "wh": np.zeros((mo, 2), dtype=np.float32),
            "hps": np.zeros((mo, 2 * nj), dtype=np.float32),
            "hps_mask": np.zeros((mo, 2 * nj), dtype=np.uint8),
            "reg": np.zeros((mo, 2), dtype=np.float32),
            "hm_hp": np.zeros((nj, s, s), dtype=np.float32),
            "hp_offset": np.zeros((mo * nj, 2), dtype=np.float32),
            "hp_ind": np.zeros((mo * nj,), dtype=np.int64),
            "hp_mask": np.zeros((mo * nj,), dtype=np.int64),
        }

    def encode(
        self,
        boxes: np.ndarray,
        keypoints: np.ndarray,
        trans_output: np.ndarray,
        trans_output_rot: np.ndarray | None = None,
        rotated: bool = False,
    ) -> dict[str, np.ndarray]:
        """Targets for N persons: `boxes` (N, 4) x1 y1 x2 y2, `keypoints` (N, J, 3) x y v (source pixels).

        `trans_output` maps source pixels to the output map without the sample's rotation (used for
        boxes), `trans_output_rot` with it (keypoints; defaults to `trans_output`).
        """
        if trans_output_rot is None:
            trans_output_rot = trans_output
        targets = self.empty_targets()
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        keypoints = np.asarray(keypoints, dtype=np.float32).reshape(-1, self.num_joints, 3)
        for slot in range(min(len(boxes), self.max_objects)):
            self._encode_person(
                targets, slot, boxes[slot], keypoints[slot], trans_output, trans_output_rot, rotated
            )
        if rotated:
            targets["hm"][...] = NEAR_ONE
            targets["reg_mask"][...] = 0
            targets["hps_mask"][...] = 0
        return targets

    def _encode_person(
        self,
        targets: dict[str, np.ndarray],
        slot: int,
        box: np.ndarray,
        points: np.ndarray,
        trans_output: np.ndarray,
        trans_output_rot: np.ndarray,
        rotated: bool,
    ) -> None:
        """Center, size and offset of one person in `slot`, then its joints, then its center gaussian."""
        s = self.output_size
        x1, y1, x2, y2 = np.clip(apply_affine(box.reshape(2, 2), trans_output).reshape(4), 0, s - 1)
        h, w = y2 - y1, x2 - x1
        if not ((h > 0 and w > 0) or rotated):
            return
        radius = target_radius(h, w)
        center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], dtype=np.float32)
        center_int = center.astype(np.int32)
        targets["wh"][slot] = w, h
        targets["ind"][slot] = center_int[1] * s + center_int[0]
        targets["reg"][slot] = center - center_int
        targets["reg_mask"][slot] = 1
        if points[:, 2].sum() == 0:
            targets["hm"][0, center_int[1], center_int[0]] = NEAR_ONE
            targets["reg_mask"][slot] = 0
        self._encode_joints(targets, slot, points, center_int, trans_output_rot, radius)
        draw_umich_gaussian(targets["hm"][0], center_int, radius)

    def _encode_joints(
        self,
        targets: dict[str, np.ndarray],
        slot: int,
        points: np.ndarray,
        center_int: np.ndarray,
        trans_output_rot: np.ndarray,
        radius: int,
    ) -> None:
        """Center offsets, sub-pixel offsets and gaussians of the labelled joints that fall inside the map."""
        s, nj = self.output_size, self.num_joints
        mapped = apply_affine(points[:, :2], trans_output_rot)
        for j in np.flatnonzero(points[:, 2] > 0):
            point = mapped[j]
            if not (0 <= point[0] < s and 0 <= point[1] < s):
                continue
            point_int = point.astype(np.int32)
            flat = slot * nj + j
            targets["hps"][slot, 2 * j : 2 * j + 2] = point - center_int
            targets["hps_mask"][slot, 2 * j : 2 * j + 2] = 1
            targets["hp_offset"][flat] = point - point_int
            targets["hp_ind"][flat] = point_int[1] * s + point_int[0]
            targets["hp_mask"][flat] = 1
            draw_umich_gaussian(targets["hm_hp"][j], point_int, radius)

    def encode_masks(
        self,
        targets: dict[str, np.ndarray],
        masks: list[np.ndarray | None],
        trans_output: np.ndarray,
    ) -> np.ndarray:
        """The `seg` target (max_objects, S, S) uint8 of the persons `encode` wrote into `targets`.

        `masks[n]` is person n's 0/1 mask in source pixels (already flipped with the image), or
        None without a segmentation. A slot is supervised (0/1, the mask warped with the output
        affine, bilinear, binarised at 0.5) only where `reg_mask` is 1; every other slot (no
        person, no segmentation, a crowd region or a person without keypoints, a rotated sample:
        the slots without box supervision) is 255, ignored by the loss.
        """
        s = self.output_size
        seg = np.full((self.max_objects, s, s), MASK_IGNORE, dtype=np.uint8)
        for slot in range(min(len(masks), self.max_objects)):
            if targets["reg_mask"][slot] and masks[slot] is not None:
                seg[slot] = warp_mask(masks[slot], trans_output, s)
        return seg

    def persons_from_targets(self, targets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The persons `encode` wrote into `targets`, in output-map pixels (a check of the encoding).

        Not inference: `decode.decode_multi_pose` turns *predicted* head maps into persons. Returns
        for the M slots with `reg_mask` 1: `centers` (M, 2), `boxes` (M, 4) x1 y1 x2 y2, `keypoints`
        (M, J, 2) from `hps` (NaN where `hps_mask` is 0), `joint_keypoints` (M, J, 2) from
        `hp_ind` + `hp_offset` (NaN where `hp_mask` is 0).
        """
        s, nj = self.output_size, self.num_joints
        slots = np.flatnonzero(targets["reg_mask"])
        centers_int = _pixel_xy(targets["ind"][slots], s)
        centers = centers_int + targets["reg"][slots]
        half = targets["wh"][slots] / 2
        boxes = np.concatenate([centers - half, centers + half], axis=1)
        keypoints = targets["hps"][slots].reshape(-1, nj, 2) + centers_int[:, None]
        keypoints[targets["hps_mask"][slots].reshape(-1, nj, 2) == 0] = np.nan
        joints = _pixel_xy(targets["hp_ind"].reshape(-1, nj)[slots], s)
        joints = joints + targets["hp_offset"].reshape(-1, nj, 2)[slots]
        joints[targets["hp_mask"].reshape(-1, nj)[slots] == 0] = np.nan
        return {"centers": centers, "boxes": boxes, "keypoints": keypoints, "joint_keypoints": joints}


def _pixel_xy(flat_index: np.ndarray, width: int) -> np.ndarray:
    """Flat map indices (...) -> float32 pixel coordinates (..., 2) x, y."""
    return np.stack([flat_index % width, flat_index // width], axis=-1).astype(np.float32)
