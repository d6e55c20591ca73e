"""Drawing persons (mask, box, score, COCO skeleton) onto BGR images."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np

from centerpose_core.constants import SKELETON
from centerpose_core.flip import FLIP_PERMUTATION
from centerpose_core.types import Person

# Left side warm, right side cool, centre line green (BGR): limbs stay readable in crowds.
_LEFT, _RIGHT, _CENTER = (0, 140, 255), (255, 120, 0), (0, 200, 0)


def _side(joint: int) -> tuple[int, int, int]:
    if joint == 0:
        return _CENTER
    return _LEFT if FLIP_PERMUTATION[joint] > joint else _RIGHT


_UNTRACKED = (160, 160, 160)


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per track id (golden-ratio hue steps); grey for -1."""
    if track_id < 0:
        return _UNTRACKED
    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618033988749895) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_persons(
    image_bgr: np.ndarray,
    persons: Sequence[Person],
    keypoint_threshold: float = 0.0,
    copy: bool = True,
    colour_by_id: bool = False,
) -> np.ndarray:
    """Return `image_bgr` with each person's box, score and skeleton drawn.

    Joints whose score is at or below `keypoint_threshold` and the edges touching them are
    skipped (with the default 0, only keypoints snapped to a joint-heatmap peak are drawn).
    `colour_by_id` draws each person in its track id's colour (`id_colour`), labelled `#id`.
    Persons with a mask get it blended in first (`draw_masks`).
    """
    canvas = image_bgr.copy() if copy else image_bgr
    draw_masks(canvas, persons, colour_by_id=colour_by_id)
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for person in persons:
        box_colour = id_colour(person.id) if colour_by_id else (0, 255, 255)
        label = f"{person.score:.2f}"
        if colour_by_id and person.id >= 0:
            label = f"#{person.id} {label}"
        x1, y1, x2, y2 = (int(round(float(v))) for v in person.bbox)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), box_colour, thickness)
        cv2.putText(
            canvas,
            label,
            (x1, max(0, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            box_colour,
            thickness,
            cv2.LINE_AA,
        )
        kps = person.keypoints
        visible = kps[:, 2] > keypoint_threshold
        for a, b in SKELETON:
            if visible[a] and visible[b]:
                pa = (int(round(float(kps[a, 0]))), int(round(float(kps[a, 1]))))
                pb = (int(round(float(kps[b, 0]))), int(round(float(kps[b, 1]))))
                cv2.line(canvas, pa, pb, box_colour if colour_by_id else _side(b), thickness + 1, cv2.LINE_AA)
        for j in np.flatnonzero(visible):
            center = (int(round(float(kps[j, 0]))), int(round(float(kps[j, 1]))))
            cv2.circle(canvas, center, thickness + 2, _side(int(j)), -1, cv2.LINE_AA)
    return canvas


MASK_ALPHA = 0.45


def draw_masks(canvas: np.ndarray, persons: Sequence[Person], colour_by_id: bool = False) -> np.ndarray:
    """Blend each person's mask into `canvas` in place, one colour per person (its track id's with
    `colour_by_id`, else its rank's); the higher-scoring person is drawn last, so it wins overlaps."""
    for rank in reversed(range(len(persons))):
        person = persons[rank]
        if person.mask is None or person.mask.shape != canvas.shape[:2]:
            continue
        colour = np.array(id_colour(person.id if colour_by_id else rank), dtype=np.float32)
        rows, cols = person.mask_region()
        region, mask = canvas[rows, cols], person.mask[rows, cols]
        pixels = region[mask].astype(np.float32)
        region[mask] = (pixels * (1 - MASK_ALPHA) + colour * MASK_ALPHA).astype(np.uint8)
    return canvas
