"""2D persons + an aligned depth image -> 3D keypoints and a 3D position per person.

Per person, in this order:
1. Every keypoint scoring at least `keypoint_threshold` gets a robust depth: the median of the
   valid pixels in a `window` x `window` window of the depth image around it (depth.py).
2. Reference depth: the median of the torso joints' depths (shoulders, hips). When no torso
   joint has a depth, or none lies within `body_gate` of that median (the torso joints contradict
   each other, e.g. one shoulder on a nearer object and one hip on the wall), the reference is the
   robust depth of the box-centre region instead (`center_region` of the box's width and height,
   at least `window` pixels).
3. Gate: a keypoint whose depth differs from the reference by more than `body_gate` metres is
   invalid: it sits on a nearer occluder or on the background seen past the body's edge.
   Without a reference depth nothing can be checked, so every keypoint is invalid.
4. Valid keypoints are back-projected at their own sub-pixel location: X = (u - cx) Z / fx,
   Y = (v - cy) Z / fy, in the depth camera's optical frame (x right, y down, z forward, metres).
5. Position: the per-axis median of the 3D points of the torso joints that passed the gate; when
   none did, the box centre back-projected at the reference depth; NaN when there is no reference.
   A person with a mask (a mask model) instead takes the median of the valid depths under its mask
   (`depth.mask_depth`), at the median pixel of its torso joints that scored (of the mask's pixels
   when none did): on synthetic persons before a wall this has a third of the joints' depth error
   at the median and a sixth to a twentieth at p90 (benchmarks/bench_depth_mask.py, README).

Invalid keypoints are (NaN, NaN, NaN, score 0). Persons keep their order and id, so the i-th 3D
person is the i-th 2D person. Everything is vectorised over persons and keypoints; only persons
that need the box-centre fallback cost a small slice each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from centerpose_core.constants import KEYPOINT_NAMES, NUM_KEYPOINTS
from centerpose_core.geometry.depth import DepthImage, mask_depth, nan_median, region_depth, window_depths
from centerpose_core.geometry.intrinsics import PinholeIntrinsics, colour_to_depth_pixels
from centerpose_core.settings import Described, setting
from centerpose_core.types import Person

TORSO_JOINTS: tuple[int, ...] = tuple(
    KEYPOINT_NAMES.index(name) for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
)


@dataclass(frozen=True)
class DepthLiftConfig(Described):
    """How 2D keypoints are lifted to 3D. Each field is the ROS parameter `depth_<field>`; its
    one-line description is the field's `metadata["help"]` (`describe()`)."""

    window: int = setting(
        5, "side of the square of depth pixels whose valid median is a keypoint's depth (odd)"
    )
    min_range: float = setting(0.1, "metres; depth below this is invalid")
    max_range: float = setting(10.0, "metres; depth above this is invalid")
    body_gate: float = setting(
        0.7, "metres; a keypoint further than this from the person's reference depth is invalid"
    )
    keypoint_threshold: float = setting(
        0.1, "2D keypoints scoring below this are not lifted (score 0 = regressed guess)"
    )
    center_region: float = setting(
        0.2, "fraction of the box's width and height sampled around its centre when the torso gives no depth"
    )

    def __post_init__(self) -> None:
        integer = isinstance(self.window, (int, np.integer)) and not isinstance(self.window, bool)
        if not integer or self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"depth window must be a positive odd number of pixels, got {self.window}")
        if not (math.isfinite(self.min_range) and self.min_range >= 0):
            raise ValueError(f"depth min_range must be a finite number >= 0 metres, got {self.min_range}")
        if not (self.max_range > self.min_range):  # inf allowed: no upper limit
            raise ValueError(
                f"depth max_range must be greater than min_range ({self.min_range} m), got {self.max_range}"
            )
        if not self.body_gate > 0:  # inf allowed: no gate
            raise ValueError(f"depth body_gate must be > 0 metres, got {self.body_gate}")
        if not (0.0 <= self.keypoint_threshold <= 1.0):
            raise ValueError(f"depth keypoint_threshold must be in [0, 1], got {self.keypoint_threshold}")
        if not (0.0 < self.center_region <= 1.0):
            raise ValueError(f"depth center_region must be in (0, 1], got {self.center_region}")


@dataclass(frozen=True)
class Person3D:
    """One person in 3D, in the depth camera's optical frame (x right, y down, z forward), metres.

    id: the 2D person's id (-1 when untracked). score: the 2D person's score.
    position: (3,) float64, NaN when the person has no usable depth.
    keypoints: (17, 4) float32 `x, y, z, score` in COCO order; (NaN, NaN, NaN, 0) where invalid.
    """

    id: int
    score: float
    position: np.ndarray
    keypoints: np.ndarray


def lift_persons(
    persons: Sequence[Person],
    depth: DepthImage,
    intrinsics: PinholeIntrinsics,
    colour_size: tuple[int, int],
    config: DepthLiftConfig | None = None,
    ids: Sequence[int] | None = None,
) -> list[Person3D]:
    """Predictor persons (colour-image pixels) -> Person3D in the same order.

    depth: the aligned depth image; intrinsics: its CameraInfo (same size as `depth`);
    colour_size: (width, height) of the colour image the persons were detected in;
    ids: per-person ids to pass through (default: each Person's `id` where it has one, else -1).
    """
    if ids is None:
        ids = [getattr(p, "id", -1) for p in persons]
    if len(ids) != len(persons):
        raise ValueError(f"got {len(ids)} ids for {len(persons)} persons")
    config = config or DepthLiftConfig()
    keypoints = np.array([p.keypoints for p in persons], dtype=np.float64).reshape(-1, NUM_KEYPOINTS, 3)
    boxes = np.array([p.bbox for p in persons], dtype=np.float64).reshape(-1, 4)
    mask_points = _mask_points(persons, depth, colour_size, config)
    positions, keypoints_3d = lift_arrays(
        keypoints, boxes, depth, intrinsics, colour_size, config, mask_points
    )
    return [
        Person3D(id=int(i), score=float(p.score), position=pos, keypoints=kps)
        for i, p, pos, kps in zip(ids, persons, positions, keypoints_3d)
    ]


def lift_arrays(
    keypoints: np.ndarray,
    boxes: np.ndarray,
    depth: DepthImage,
    intrinsics: PinholeIntrinsics,
    colour_size: tuple[int, int],
    config: DepthLiftConfig | None = None,
    mask_points: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The vectorised core of lift_persons.

    keypoints: (P, 17, 3) `x, y, score` and boxes: (P, 4) `x_min, y_min, x_max, y_max`, both in
    colour-image pixels. mask_points: (P, 3) per person `mask_depth`'s (u, v, z), NaN z where the
    person has no mask (the joint rule then). Returns positions (P, 3) float64 and keypoints
    (P, 17, 4) float32.
    """
    config = config or DepthLiftConfig()
    _check_sizes(depth, intrinsics)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints must have shape (P, {NUM_KEYPOINTS}, 3), got {keypoints.shape}")
    if boxes.shape != (len(keypoints), 4):
        raise ValueError(f"boxes must have shape ({len(keypoints)}, 4), got {boxes.shape}")
    count = len(keypoints)
    if count == 0:
        return np.empty((0, 3)), np.empty((0, NUM_KEYPOINTS, 4), dtype=np.float32)
    depth_size = (depth.width, depth.height)
    uv = colour_to_depth_pixels(keypoints[..., :2], colour_size, depth_size)
    scores = keypoints[..., 2]
    with np.errstate(invalid="ignore"):
        eligible = (scores >= config.keypoint_threshold) & np.all(np.isfinite(uv), axis=-1)

    z = np.full((count, NUM_KEYPOINTS), np.nan)
    z[eligible] = window_depths(
        depth, uv[eligible][:, 0], uv[eligible][:, 1], config.window, config.min_range, config.max_range
    )

    centres = colour_to_depth_pixels(
        np.stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2), axis=-1),
        colour_size,
        depth_size,
    )
    reference = _reference_depths(z, boxes, centres, depth, colour_size, config)

    with np.errstate(invalid="ignore"):
        valid = np.abs(z - reference[:, None]) <= config.body_gate  # NaN on either side -> invalid
    points = intrinsics.back_project(uv[..., 0], uv[..., 1], np.where(valid, z, np.nan))
    lifted_scores = np.where(valid, scores, 0.0)[..., None]
    keypoints_3d = np.concatenate((points, lifted_scores), axis=-1).astype(np.float32)

    torso_points = points[:, TORSO_JOINTS]  # (P, 4, 3), NaN where invalid
    positions = nan_median(np.swapaxes(torso_points, 1, 2))  # (P, 3)
    no_torso = ~np.any(valid[:, TORSO_JOINTS], axis=1)
    positions[no_torso] = intrinsics.back_project(
        centres[no_torso, 0], centres[no_torso, 1], reference[no_torso]
    )
    if mask_points is not None:
        positions = _mask_positions(positions, uv, eligible, np.asarray(mask_points, np.float64), intrinsics)
    return positions, keypoints_3d


def _mask_points(
    persons: Sequence[Person], depth: DepthImage, colour_size: tuple[int, int], config: DepthLiftConfig
) -> np.ndarray | None:
    """(P, 3) `mask_depth` of each person with a mask of the colour image's size (NaN rows for the
    others); None when no person has one."""
    width, height = colour_size
    has_mask = [getattr(p, "mask", None) is not None and p.mask.shape == (height, width) for p in persons]
    if not any(has_mask):
        return None
    points = np.full((len(persons), 3), np.nan)
    for i in np.flatnonzero(has_mask):
        person = persons[i]
        points[i] = mask_depth(
            depth, person.mask, colour_size, config.min_range, config.max_range, region=person.mask_region()
        )
    return points


def _mask_positions(
    positions: np.ndarray,
    uv: np.ndarray,
    eligible: np.ndarray,
    mask_points: np.ndarray,
    intrinsics: PinholeIntrinsics,
) -> np.ndarray:
    """Positions of persons with a mask depth: the median 2D location of their torso joints that
    scored (the mask's median pixel when none did) back-projected at the mask's median depth."""
    torso_uv = np.where(eligible[:, TORSO_JOINTS, None], uv[:, TORSO_JOINTS], np.nan)  # (P, 4, 2)
    centre = nan_median(np.swapaxes(torso_uv, 1, 2))  # (P, 2)
    centre = np.where(np.isnan(centre), mask_points[:, :2], centre)
    use = np.isfinite(mask_points[:, 2])
    positions = positions.copy()
    positions[use] = intrinsics.back_project(centre[use, 0], centre[use, 1], mask_points[use, 2])
    return positions


def _reference_depths(
    z: np.ndarray,
    boxes: np.ndarray,
    centres: np.ndarray,
    depth: DepthImage,
    colour_size: tuple[int, int],
    config: DepthLiftConfig,
) -> np.ndarray:
    """(P,) the depth each person's keypoints are gated against: torso median, else box centre."""
    torso = z[:, TORSO_JOINTS]
    reference = nan_median(torso)
    with np.errstate(invalid="ignore"):
        torso_agrees = np.any(np.abs(torso - reference[:, None]) <= config.body_gate, axis=1)
    scale = np.array([depth.width / colour_size[0], depth.height / colour_size[1]])
    for p in np.flatnonzero(~torso_agrees):
        box_size = np.abs(boxes[p, 2:] - boxes[p, :2]) * scale
        if not (np.all(np.isfinite(box_size)) and np.all(np.isfinite(centres[p]))):
            reference[p] = np.nan
            continue
        region = np.maximum(box_size * config.center_region, config.window)
        reference[p] = region_depth(
            depth, (centres[p, 0], centres[p, 1]), (region[0], region[1]), config.min_range, config.max_range
        )
    return reference


def _check_sizes(depth: DepthImage, intrinsics: PinholeIntrinsics) -> None:
    if (depth.width, depth.height) != (intrinsics.width, intrinsics.height):
        raise ValueError(
            f"depth image is {depth.width}x{depth.height} but its camera_info is for "
            f"{intrinsics.width}x{intrinsics.height}: K must be the depth image's own calibration"
        )
