"""PoseTracker: ByteTrack-style multi-person tracking that also compares poses.

Per frame (`update`): age out tracks unseen for longer than the lost timeout, predict every
track to the frame's stamp (constant-velocity Kalman filter over the hips' midpoint where seen,
else the box centre, and the box size; box and keypoints carried along relative to it), then
match in ByteTrack's order:

1. high-score detections against confirmed tracks (tracked and lost);
2. low-score detections against the confirmed tracks still unmatched that were seen within
   `low_score_lost_s` (an occluded person scores low but is still there), each only against
   the track whose box overlaps it most (a poor view of one person never takes another's track);
2b. the remaining high-score detections against the confirmed tracks still unmatched, by
   box-centre distance (within `refind_distance` box heights of the prediction or of where the
   track was last seen): re-finds a person back in view after leaving it or hiding;
3. the remaining high-score detections against tentative tracks, then the remaining
   detections scoring at least `low_birth_threshold` against the tentative tracks left, at the
   stricter `low_match_threshold`.

Unmatched high-score detections start tentative tracks, and so do unmatched detections from
`low_birth_threshold` up (a person half hidden in a group may never score high). A tentative
track gets an id after `confirm_hits` detections in a row (`low_birth_hits` once any of them
scored below the high threshold: a false positive seldom comes back at the same place four
frames running) and is dropped at its first miss; a low-score detection overlapping a
higher-scoring one by IoU >= DUPLICATE_IOU (a second view of one person) starts nothing. A
confirmed track that misses is lost, and removed once unseen for longer than `lost_timeout_s`. Ids come from a
counter that only grows, so an id never names two persons, even across `reset()`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from centerpose_core.constants import NUM_KEYPOINTS
from centerpose_core.tracking import kalman
from centerpose_core.tracking.association import best_explained, match, pose_similarity
from centerpose_core.tracking.camera_motion import as_homography
from centerpose_core.tracking.config import TrackerConfig
from centerpose_core.tracking.similarity import box_iou
from centerpose_core.types import Person

HIP_JOINTS = [11, 12]  # COCO's left and right hip
# Box centre relative to the hips' midpoint (box heights) of a standing person, for tracks whose
# hips were not seen yet: switching to the hips later then moves the anchor little.
DEFAULT_BOX_OFFSET = np.array([0.0, -0.05])
# A low-score detection overlapping a higher-scoring one at least this much starts no track.
DUPLICATE_IOU = 0.7


class TrackState(enum.Enum):
    TENTATIVE = "tentative"  # seen, not yet confirmed: id -1
    TRACKED = "tracked"  # confirmed and matched in the last processed frame
    LOST = "lost"  # confirmed, unmatched since `last_seen`; kept until the lost timeout


@dataclass(frozen=True)
class TrackInfo:
    """A read-only view of one live track (for drawing, debugging and tests)."""

    id: int
    state: TrackState
    box: np.ndarray  # (4,) Kalman estimate at the last processed stamp
    hits: int
    last_seen: float


@dataclass
class _Track:
    id: int
    state: TrackState
    hits: int
    last_seen: float
    # (K, 3): x, y relative to the filtered anchor in box heights, and the joint's score.
    keypoints: np.ndarray
    # (2,): the box centre relative to the anchor (the filtered point), in box heights.
    box_offset: np.ndarray
    # (4,): the filtered box when last seen, moved by camera motion since (re-finding a lost track)
    last_box: np.ndarray | None = None
    # hits a tentative track needs for an id: more once a low-score detection was among them
    needed_hits: int = 1


class PoseTracker:
    """Assigns track ids to the persons of consecutive frames of one camera.

    Not thread-safe; one tracker per camera. `update` validates its whole input before changing
    any state, so a frame it rejects leaves the tracker as it was.
    """

    # Switches for the benchmark's ablation rows only (what each part of the matching buys).
    _score_weighted_oks = True  # OKS joints weighted by their scores, not a plain mean
    _low_matches_best_explained = True  # a low-score detection only continues the track overlapping it most
    # The filter follows the hips' midpoint where seen, not the box centre. Off: on the benchmark's
    # tuning sets it cost IDF1 (0.800 -> 0.805 without it) and ID switches (72 -> 68).
    _hip_anchor = False

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and the last stamp (e.g. after a time jump); ids are not reused."""
        self._tracks: list[_Track] = []
        self._means = np.zeros((0, kalman.STATE_DIM))
        self._covariances = np.zeros((0, kalman.STATE_DIM, kalman.STATE_DIM))
        self._last_stamp: float | None = None

    @property
    def tracks(self) -> tuple[TrackInfo, ...]:
        """The live tracks (tentative, tracked and lost), as of the last processed frame."""
        boxes = self._track_boxes()
        return tuple(
            TrackInfo(t.id, t.state, boxes[i], t.hits, t.last_seen) for i, t in enumerate(self._tracks)
        )

    def update(
        self, persons: Sequence[Person], stamp_s: float, camera_motion: np.ndarray | None = None
    ) -> list[Person]:
        """The same persons, in the same order, with `id` set; -1 where no confirmed track matched.

        stamp_s: the frame's time in seconds, not earlier than the previous frame's (equal is
            allowed: no time passes). Raises ValueError on a bad stamp or person.
        camera_motion: how the camera moved since the previous frame, as the (2, 3) affine or
            (3, 3) homography mapping the previous frame's pixels to this frame's (see
            `camera_motion.CameraMotionEstimator`); every track is moved by it before matching.
            None: a still camera.
        """
        boxes, keypoints, scores = _as_arrays(persons)
        stamp = self._checked_stamp(stamp_s)
        warp = None if camera_motion is None else as_homography(camera_motion)
        cfg = self.config
        dt = 0.0 if self._last_stamp is None else stamp - self._last_stamp
        self._last_stamp = stamp

        self._keep([stamp - t.last_seen <= cfg.lost_timeout_s for t in self._tracks])
        if self._tracks and dt > 0.0:
            lost = np.array([t.state is TrackState.LOST for t in self._tracks])
            self._means[lost, 6:] = 0.0  # as ByteTrack: an unseen person keeps its size
            self._means, self._covariances = kalman.predict(self._means, self._covariances, dt)
        if warp is not None:
            self._means, self._covariances = kalman.warp(self._means, self._covariances, warp)
            for track in self._tracks:
                if track.last_box is not None:
                    track.last_box = _warp_box(track.last_box, warp)
        track_boxes = self._track_boxes()
        similarity = pose_similarity(
            track_boxes, self._predicted_keypoints(), boxes, keypoints, cfg, self._score_weighted_oks
        )

        self._frame_boxes = boxes
        track_of_det = self._associate(similarity, box_iou(track_boxes, boxes), scores, stamp)
        ids = self._correct(track_of_det, boxes, keypoints, scores, stamp)
        new = np.flatnonzero((scores >= self._birth_threshold()) & (track_of_det < 0))
        new = new[~_duplicates(new, boxes, scores, cfg.high_score_threshold)]
        for det, track_id in zip(new, self._start_tracks(new, boxes, keypoints, scores, stamp)):
            ids[det] = track_id
        return [replace(person, id=track_id) for person, track_id in zip(persons, ids)]

    # --- steps of update -------------------------------------------------------------------

    def _associate(
        self, similarity: np.ndarray, iou: np.ndarray, scores: np.ndarray, stamp: float
    ) -> np.ndarray:
        """ByteTrack's three matching stages and the re-finding stage; returns each detection's
        track row (-1: none)."""
        cfg = self.config
        states = [t.state for t in self._tracks]
        tentative_mask = np.array([s is TrackState.TENTATIVE for s in states], dtype=bool)
        unseen_s = np.array([stamp - t.last_seen for t in self._tracks])
        tracked_mask = np.array([s is TrackState.TRACKED for s in states], dtype=bool)
        recent_mask = tracked_mask | (~tentative_mask & (unseen_s <= cfg.low_score_lost_s))
        confirmed, tentative = np.flatnonzero(~tentative_mask), np.flatnonzero(tentative_mask)
        high_mask = scores >= cfg.high_score_threshold
        high = np.flatnonzero(high_mask)
        low = np.flatnonzero(~high_mask & (scores >= cfg.low_score_threshold))
        track_of_det = np.full(len(scores), -1, np.intp)
        # 1. high-score detections against every confirmed track, tracked or lost
        rows, cols = match(similarity[np.ix_(confirmed, high)], cfg.match_threshold)
        track_of_det[high[cols]] = confirmed[rows]
        # 2. low-score detections against the confirmed tracks left that were seen recently, each
        #    only where no other confirmed track's box overlaps it more
        recent_mask[confirmed[rows]] = False
        recent = np.flatnonzero(recent_mask)
        low_similarity = similarity[np.ix_(confirmed, low)]
        if self._low_matches_best_explained:
            explained = best_explained(iou[np.ix_(confirmed, low)])
            low_similarity = np.where(explained, low_similarity, 0.0)
        low_similarity = low_similarity[np.isin(confirmed, recent)]
        rows, cols = match(low_similarity, cfg.low_match_threshold)
        track_of_det[low[cols]] = recent[rows]
        if cfg.refind_distance > 0.0:
            self._refind(track_of_det, high, confirmed)
        # 3. high-score detections left against tentative tracks, then the low-score ones that
        #    may start tracks against the tentative tracks left, at the stricter bar
        free_high = high[track_of_det[high] < 0]
        rows, cols = match(similarity[np.ix_(tentative, free_high)], cfg.match_threshold)
        track_of_det[free_high[cols]] = tentative[rows]
        free_low = np.flatnonzero((track_of_det < 0) & ~high_mask & (scores >= self._birth_threshold()))
        if len(free_low) and len(tentative) > len(rows):
            tentative = np.delete(tentative, rows)
            rows, cols = match(similarity[np.ix_(tentative, free_low)], cfg.low_match_threshold)
            track_of_det[free_low[cols]] = tentative[rows]
        return track_of_det

    def _birth_threshold(self) -> float:
        """The lowest score of a detection that may start a track."""
        cfg = self.config
        return min(max(cfg.low_birth_threshold, cfg.low_score_threshold), cfg.high_score_threshold)

    def _refind(self, track_of_det: np.ndarray, high: np.ndarray, confirmed: np.ndarray) -> None:
        """Stage 2b: remaining high-score detections against the confirmed tracks still unmatched,
        by box-centre distance in track heights from the track's prediction or from where it was
        last seen (whichever is nearer; boxes need not overlap), for boxes of similar height.

        A person who walks out of view and back, or stands still behind an occluder, comes back
        where it was last seen while its prediction has coasted on; the box IoU of the stages
        above is then 0. The gate is tight (`refind_distance`), so another person seldom passes.
        """
        free_high = high[track_of_det[high] < 0]
        taken = np.zeros(len(self._tracks), dtype=bool)
        taken[track_of_det[track_of_det >= 0]] = True
        free_tracks = confirmed[~taken[confirmed]]
        if not len(free_high) or not len(free_tracks):
            return
        track_boxes = self._track_boxes()[free_tracks]
        det_boxes = self._frame_boxes[free_high]
        t_centre = 0.5 * (track_boxes[:, :2] + track_boxes[:, 2:])
        d_centre = 0.5 * (det_boxes[:, :2] + det_boxes[:, 2:])
        t_height = np.maximum(track_boxes[:, 3] - track_boxes[:, 1], 1.0)
        d_height = np.maximum(det_boxes[:, 3] - det_boxes[:, 1], 1.0)
        distance = np.linalg.norm(t_centre[:, None] - d_centre[None], axis=2) / t_height[:, None]
        last = np.stack([self._tracks[row].last_box for row in free_tracks])
        l_centre = 0.5 * (last[:, :2] + last[:, 2:])
        l_distance = np.linalg.norm(l_centre[:, None] - d_centre[None], axis=2) / t_height[:, None]
        distance = np.minimum(distance, l_distance)
        ratio = d_height[None] / t_height[:, None]
        gate = self.config.refind_distance
        similarity = np.where((ratio > 0.7) & (ratio < 1.4), 1.0 - distance / gate, 0.0)
        rows, cols = match(similarity, 1e-6)
        track_of_det[free_high[cols]] = free_tracks[rows]

    def _checked_stamp(self, stamp_s: float) -> float:
        if isinstance(stamp_s, bool) or not isinstance(stamp_s, (int, float, np.floating, np.integer)):
            raise ValueError(f"tracking stamp must be a number of seconds, got {stamp_s!r}")
        stamp = float(stamp_s)
        if not math.isfinite(stamp):
            raise ValueError(f"tracking stamp must be finite, got {stamp}")
        if self._last_stamp is not None and stamp < self._last_stamp:
            raise ValueError(
                f"tracking stamp {stamp:.6f} s is earlier than the previous frame's "
                f"{self._last_stamp:.6f} s; call reset() after a time jump"
            )
        return stamp

    def _keep(self, keep: list[bool]) -> None:
        if all(keep):
            return
        mask = np.array(keep, dtype=bool)
        self._tracks = [t for t, k in zip(self._tracks, keep) if k]
        self._means = self._means[mask]
        self._covariances = self._covariances[mask]

    def _track_boxes(self) -> np.ndarray:
        """(T, 4) boxes of the filtered states: anchor plus each track's box offset."""
        if not self._tracks:
            return np.zeros((0, 4))
        offsets = np.stack([t.box_offset for t in self._tracks])
        centred = self._means.copy()
        centred[:, :2] += offsets * np.maximum(self._means[:, 3:4], kalman.MIN_SIZE)
        return kalman.state_to_box(centred)

    def _measure(
        self, boxes: np.ndarray, keypoints: np.ndarray, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Filter measurements `anchor x, y, w, h` of detections, and their tracks' new box offsets.

        Where both hips are seen, the anchor is their midpoint: it moves with the person, while
        the box centre also moves when the pose changes (squatting, bending: the box top drops),
        which a filter on the box centre reads as motion and carries on when the person is
        missed. Elsewhere the anchor is the box centre minus the track's last offset.
        """
        measurements = kalman.box_to_measurement(boxes)
        height = np.maximum(measurements[:, 3:4], kalman.MIN_SIZE)
        offsets = offsets.copy()
        if self._hip_anchor:
            hips = keypoints[:, HIP_JOINTS]
            seen = (hips[:, :, 2] > self.config.keypoint_score_threshold).all(axis=1)
            midpoint = hips[:, :, :2].mean(axis=1)
            offsets[seen] = (measurements[seen, :2] - midpoint[seen]) / height[seen]
        else:
            offsets[:] = 0.0
        measurements[:, :2] -= offsets * height
        return measurements, offsets

    def _predicted_keypoints(self) -> np.ndarray:
        """(T, K, 3) keypoints moved and scaled with each track's predicted box."""
        if not self._tracks:
            return np.zeros((0, NUM_KEYPOINTS, 3))
        relative = np.stack([t.keypoints for t in self._tracks])
        predicted = relative.copy()
        height = np.maximum(self._means[:, 3], kalman.MIN_SIZE)
        predicted[:, :, :2] = relative[:, :, :2] * height[:, None, None] + self._means[:, None, :2]
        return predicted

    def _remember_keypoints(self, track_rows: np.ndarray, keypoints: np.ndarray) -> None:
        height = np.maximum(self._means[track_rows, 3], kalman.MIN_SIZE)
        relative = keypoints.copy()
        relative[:, :, :2] = (keypoints[:, :, :2] - self._means[track_rows, None, :2]) / height[:, None, None]
        for row, kps in zip(track_rows, relative):
            self._tracks[row].keypoints = kps

    def _correct(
        self,
        track_of_det: np.ndarray,
        boxes: np.ndarray,
        keypoints: np.ndarray,
        scores: np.ndarray,
        stamp: float,
    ) -> list[int]:
        """Kalman-update matched tracks, advance everyone's life cycle; returns each detection's id."""
        dets = np.flatnonzero(track_of_det >= 0)
        rows = track_of_det[dets]
        if len(rows):
            offsets = np.stack([self._tracks[row].box_offset for row in rows])
            measurements, offsets = self._measure(boxes[dets], keypoints[dets], offsets)
            means, covariances = kalman.update(self._means[rows], self._covariances[rows], measurements)
            self._means[rows], self._covariances[rows] = means, covariances
            for row, offset in zip(rows, offsets):
                self._tracks[row].box_offset = offset
            low = scores[dets] < self.config.high_score_threshold
            for row, det in zip(rows[low], dets[low]):
                track = self._tracks[row]
                track.needed_hits = max(track.needed_hits, self._hits_to_confirm(scores[det]))
            self._remember_keypoints(rows, keypoints[dets])
        matched = np.zeros(len(self._tracks), dtype=bool)
        matched[rows] = True
        keep = []
        for track, hit in zip(self._tracks, matched):
            if hit:
                track.hits += 1
                track.last_seen = stamp
                if track.state is TrackState.TENTATIVE and track.hits >= track.needed_hits:
                    track.id = self._take_id()
                if track.id >= 0:
                    track.state = TrackState.TRACKED
            elif track.state is TrackState.TRACKED:
                track.state = TrackState.LOST
            keep.append(hit or track.state is not TrackState.TENTATIVE)
        if len(rows):
            boxes_now = self._track_boxes()
            for row in rows:
                self._tracks[row].last_box = boxes_now[row]
        ids = [self._tracks[t].id if t >= 0 else -1 for t in track_of_det]
        self._keep(keep)  # drops tentative tracks that missed: indices change only now
        return ids

    def _hits_to_confirm(self, score: float) -> int:
        """Detections in a row a tentative track with a detection of this score needs for an id."""
        cfg = self.config
        return (
            cfg.confirm_hits
            if score >= cfg.high_score_threshold
            else max(cfg.confirm_hits, cfg.low_birth_hits)
        )

    def _start_tracks(
        self, dets: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, stamp: float
    ) -> list[int]:
        """New tracks for unmatched detections that may start one; returns their ids (-1: tentative)."""
        if not len(dets):
            return []
        offsets = np.tile(DEFAULT_BOX_OFFSET, (len(dets), 1))
        measurements, offsets = self._measure(boxes[dets], keypoints[dets], offsets)
        means, covariances = kalman.initiate(measurements)
        first = len(self._tracks)
        self._means = np.concatenate([self._means, means])
        self._covariances = np.concatenate([self._covariances, covariances])
        for offset, det in zip(offsets, dets):
            needed = self._hits_to_confirm(scores[det])
            confirmed = needed <= 1
            self._tracks.append(
                _Track(
                    id=self._take_id() if confirmed else -1,
                    state=TrackState.TRACKED if confirmed else TrackState.TENTATIVE,
                    hits=1,
                    last_seen=stamp,
                    keypoints=np.zeros((NUM_KEYPOINTS, 3)),
                    box_offset=offset,
                    needed_hits=needed,
                )
            )
        self._remember_keypoints(np.arange(first, len(self._tracks)), keypoints[dets])
        boxes_now = self._track_boxes()
        for row in range(first, len(self._tracks)):
            self._tracks[row].last_box = boxes_now[row]
        return [t.id for t in self._tracks[first:]]

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


def _duplicates(dets: np.ndarray, boxes: np.ndarray, scores: np.ndarray, high: float) -> np.ndarray:
    """Which of `dets` score below `high` and overlap a higher-scoring detection of the frame by
    IoU >= DUPLICATE_IOU: a second, fainter view of one person, which must not start a track."""
    low = scores[dets] < high
    if not low.any():
        return low
    overlap = box_iou(boxes[dets], boxes) >= DUPLICATE_IOU
    overlap &= scores[None, :] > scores[dets, None]
    return low & overlap.any(axis=1)


def _warp_box(box: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """An axis-aligned box moved by a (3, 3) homography: its centre mapped, its size kept."""
    centre = warp @ np.array([0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3]), 1.0])
    half = 0.5 * (box[2:] - box[:2])
    moved = centre[:2] / centre[2]
    return np.concatenate([moved - half, moved + half])


def _as_arrays(persons: Sequence[Person]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (M, 4) with ordered corners, keypoints (M, K, 3), scores (M,); ValueError names a bad person.

    Corners are sorted per axis (an untrained network can regress negative sizes); the
    persons themselves are returned unchanged by the tracker.
    """
    for i, person in enumerate(persons):
        bbox, kps = np.shape(person.bbox), np.shape(person.keypoints)
        if bbox != (4,) or kps != (NUM_KEYPOINTS, 3):
            raise ValueError(
                f"tracking persons[{i}]: bbox must have shape (4,) and keypoints ({NUM_KEYPOINTS}, 3), "
                f"got {bbox} and {kps}"
            )
    m = len(persons)
    boxes = np.array([p.bbox for p in persons], dtype=np.float64).reshape(m, 4)
    keypoints = np.array([p.keypoints for p in persons], dtype=np.float64).reshape(m, NUM_KEYPOINTS, 3)
    scores = np.array([p.score for p in persons], dtype=np.float64).reshape(m)
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(keypoints).all(axis=(1, 2)) & np.isfinite(scores)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"tracking persons[{i}] has a non-finite score, box or keypoint "
            f"(score {scores[i]}, bbox {boxes[i].tolist()})"
        )
    boxes = np.concatenate(
        [np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], 1
    )
    return boxes, keypoints, scores
