"""Which decode decisions are clear of float rounding, so tests never hinge on near-ties.

Two computations of the same model (batch vs single image, ONNX Runtime vs torch, a mirrored
input) agree only up to float rounding, and rounding differs between CPUs (SIMD paths, thread
splits). Decode makes discrete choices on those floats: which cells survive the 3x3 peak NMS, the
order of the top-K scores, whether a joint peak scores above 0.1, which joint peak is nearest,
whether it lies inside the box and within 0.3 x its longer side. Persons from two computations can
only be compared where every such choice is farther from its boundary than the computations can
differ. `clear_decisions` finds those choices in the activated head maps of the reference
computation; it follows the CenterNet rule written out here (it does not call
`centerpose_core.decode`), so a test checks its own fixture instead of trusting one machine's rounding.

Measured on this project's seeded nets: two float32 runs (batch 1 vs 2, 1 vs 2 threads, float64
reference) differ by at most ~5e-5 in any head logit, i.e. ~1e-5 in a heatmap score and ~5e-5 map
pixels. The default tolerances below leave a factor of 10-20.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SNAP_THRESHOLD = 0.1  # CenterNet: a joint peak must score above this to replace a regressed joint
SNAP_DISTANCE = 0.3  # ...and lie closer than this fraction of the box's longer side
TOP_K = 100  # CenterNet's K: center candidates, and joint peaks per joint

SCORE_MARGIN = 1e-4  # heatmap score units
PIXEL_MARGIN = 1e-3  # output-map pixels


@dataclass(frozen=True)
class ClearDecisions:
    """ranked: how many leading persons have a rank and a center cell no rounding can change.
    undecided_joints: (person rank, joint) among those whose snapping rounding could change."""

    ranked: int
    undecided_joints: frozenset[tuple[int, int]]


def _neighbour_max(heat: np.ndarray) -> np.ndarray:
    """Max over the 8 neighbours of every cell (the 3x3 window without its centre)."""
    padded = np.pad(heat, 1, constant_values=-np.inf)
    h, w = heat.shape
    windows = [padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return np.max(windows[:4] + windows[5:], axis=0)


def _image_maps(maps: dict, image: int) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in maps.items():
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        arrays[name] = array[image].astype(np.float64)
    return arrays


def clear_decisions(
    maps: dict,
    limit: int,
    *,
    image: int = 0,
    score_margin: float = SCORE_MARGIN,
    pixel_margin: float = PIXEL_MARGIN,
    top_k: int = TOP_K,
) -> ClearDecisions:
    """The decode decisions about the first (up to) `limit` persons that a difference within the
    margins cannot change.

    `maps`: activated head maps (sigmoid applied; flip-merged when flip testing) of shape
    (B, C, H, W), arrays or tensors; `image` picks the batch entry. The first `ranked` persons have
    scores at least `score_margin` apart (and from the next one), and each is a clear peak while no
    other cell scoring as high is close to becoming one. For their joints, snapping is decided when
    the nearest strong joint peak is unambiguous and its test (inside the box, within 0.3 x the
    longer side) passes or fails by more than `pixel_margin`.
    """
    m = _image_maps(maps, image)
    hm = m["hm"][0]
    width = hm.shape[1]
    neighbours = _neighbour_max(hm)
    peaks = np.where(hm >= neighbours, hm, 0.0).ravel()
    order = np.argsort(-peaks, kind="stable")[: limit + 1]
    scores = peaks[order]
    contested = np.abs(hm - neighbours) <= score_margin  # cells that may or may not be peaks
    ranked = 0
    while ranked < min(limit, len(order) - 1):
        floor = scores[ranked + 1]
        if scores[ranked] - floor <= score_margin or (contested & (hm >= floor - score_margin)).any():
            break
        ranked += 1

    joints = [
        _joint_peaks(m["hm_hp"][j], m["hp_offset"], top_k, score_margin) for j in range(len(m["hm_hp"]))
    ]
    undecided = set()
    for rank, flat in enumerate(order[:ranked]):
        y, x = divmod(int(flat), width)
        cx, cy = x + m["reg"][0, y, x], y + m["reg"][1, y, x]
        w, h = m["wh"][0, y, x], m["wh"][1, y, x]
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        radius = max(box[3] - box[1], box[2] - box[0]) * SNAP_DISTANCE
        for j, (xy, surely) in enumerate(joints):
            if not len(xy):
                continue  # no joint peak near 0.1: the regressed location stays, whatever the rounding
            regressed = np.array([x + m["hps"][2 * j, y, x], y + m["hps"][2 * j + 1, y, x]])
            dist = np.linalg.norm(xy - regressed, axis=1)
            # Every peak that could end up the nearest strong one: the nearest sure peak and any peak,
            # sure or not, as near within the margin (all candidates when none is sure).
            reach = dist[surely].min() + pixel_margin if surely.any() else np.inf
            contenders = np.flatnonzero(dist <= reach)
            verdicts = {_snaps(xy[i], dist[i], box, radius, pixel_margin) for i in contenders}
            if None in verdicts or (len(contenders) > 1 and verdicts != {False}):
                undecided.add((rank, j))
    return ClearDecisions(ranked, frozenset(undecided))


def _snaps(point: np.ndarray, dist: float, box: tuple, radius: float, margin: float) -> bool | None:
    """Whether a strong peak replaces the regressed joint (inside the box, nearer than the radius);
    None when a change within `margin` could change the answer."""
    x1, y1, x2, y2 = box
    signed = np.array([point[0] - x1, x2 - point[0], point[1] - y1, y2 - point[1], radius - dist])
    if signed.min() > margin:
        return True
    if (signed < -margin).any():
        return False
    return None


def _joint_peaks(
    heat: np.ndarray, offset: np.ndarray, top_k: int, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 2) of the joint-map cells that could be strong (> 0.1) top-K NMS peaks, and
    whether each surely is one (every one of those tests passes by more than `margin`)."""
    peak_gap = heat - _neighbour_max(heat)
    strength = heat - SNAP_THRESHOLD
    ys, xs = np.nonzero((strength > -margin) & (peak_gap > -margin))
    surely = (strength[ys, xs] > margin) & (peak_gap[ys, xs] > margin)
    if len(ys) > top_k:  # more candidates than K: those near the K-th score may drop out
        kth = np.sort(heat[ys, xs])[::-1][top_k - 1]
        surely &= heat[ys, xs] > kth + margin
    xy = np.stack([xs + offset[0, ys, xs], ys + offset[1, ys, xs]], axis=1)
    return xy, surely


def assert_same_persons(
    expected: Sequence,
    actual: Sequence,
    clear: ClearDecisions,
    *,
    min_ranked: int,
    score_tolerance: float = 1e-4,
    pixel_tolerance: float = 1e-2,
) -> None:
    """The persons of two computations agree wherever decode's decisions are clear.

    The first `clear.ranked` persons (at least `min_ranked`) must match one to one, in order:
    score, box, and every keypoint whose snapping is decided (position and score). When both lists
    hold the same number of persons, their sorted scores must agree too: persons past the clear
    ranking may swap places or be replaced by a near-tied neighbour, but never change the scores.
    Tolerances are in score units and source-image pixels.
    """
    assert clear.ranked >= min_ranked, (
        f"only {clear.ranked} leading persons are clear of rounding (need {min_ranked}): the fixture "
        "has near-tied scores or peaks, so the comparison would depend on the CPU"
    )
    assert len(actual) >= clear.ranked and len(expected) >= clear.ranked
    for rank in range(clear.ranked):
        ref, got = expected[rank], actual[rank]
        where = f"person #{rank} (score {ref.score:.5f})"
        assert abs(got.score - ref.score) <= score_tolerance, f"{where}: score {got.score:.6f}"
        np.testing.assert_allclose(got.bbox, ref.bbox, atol=pixel_tolerance, rtol=0, err_msg=f"{where}: box")
        decided = [j for j in range(len(ref.keypoints)) if (rank, j) not in clear.undecided_joints]
        np.testing.assert_allclose(
            got.keypoints[decided, :2],
            ref.keypoints[decided, :2],
            atol=pixel_tolerance,
            rtol=0,
            err_msg=f"{where}: keypoints",
        )
        np.testing.assert_allclose(
            got.keypoints[decided, 2],
            ref.keypoints[decided, 2],
            atol=score_tolerance,
            rtol=0,
            err_msg=f"{where}: keypoint scores",
        )
    if len(actual) == len(expected):
        np.testing.assert_allclose(
            sorted(p.score for p in actual), sorted(p.score for p in expected), atol=score_tolerance, rtol=0
        )


def assert_leading_persons_found(
    expected: Sequence,
    actual: Sequence,
    *,
    score_tolerance: float,
    cell: float,
    leading: int = 5,
    pool: int = 20,
) -> None:
    """Loose, tie-proof comparison for reduced precision (FP16 engines), where near-tied NMS peaks
    may move by one output cell and close scores may swap ranks.

    Each of the first `leading` reference persons that scores clearly above the reference's
    `pool`-th person must have a partner among the first `pool` actual persons: score within
    `score_tolerance`, box center within 1.5 cells and box size within 10% + one cell (`cell`:
    one output-map cell in source pixels).
    """
    floor = expected[pool - 1].score + 2 * score_tolerance if len(expected) >= pool else -np.inf
    required = [p for p in expected[:leading] if p.score > floor]
    assert required, "no leading person clear of the pool boundary: the fixture is too flat"
    candidates = list(actual[:pool])
    for ref in required:
        center = (ref.bbox[:2] + ref.bbox[2:]) / 2
        size = ref.bbox[2:] - ref.bbox[:2]

        def fits(got, center=center, size=size, ref=ref) -> bool:
            got_size = got.bbox[2:] - got.bbox[:2]
            return (
                abs(got.score - ref.score) <= score_tolerance
                and np.abs((got.bbox[:2] + got.bbox[2:]) / 2 - center).max() <= 1.5 * cell
                and np.all(np.abs(got_size - size) <= 0.1 * np.abs(size) + cell)
            )

        partners = [got for got in candidates if fits(got)]
        assert partners, f"reference person (score {ref.score:.4f}, box {ref.bbox}) has no partner"
        best = min(partners, key=lambda got: abs(got.score - ref.score))
        # By identity: Person holds arrays, so list.remove's == on another Person is ambiguous.
        candidates = [got for got in candidates if got is not best]
