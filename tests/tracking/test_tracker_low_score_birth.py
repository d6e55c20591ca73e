"""Tracks born from low-score detections: a person half hidden in a group may never score high."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_helpers import at

from centerpose_core.tracking import PoseTracker, TrackerConfig
from centerpose_core.types import Person

FPS = 25.0
# high 0.5, births down to 0.35 after 4 detections in a row (a high-score birth needs 2)
CONFIG = TrackerConfig(
    high_score_threshold=0.5, low_score_threshold=0.1, low_birth_threshold=0.35, low_birth_hits=4
)


def _ids(persons: list[Person]) -> list[int]:
    return [p.id for p in persons]


def _walk(tracker: PoseTracker, score: float, frames: int) -> list[int]:
    """One person walking right at 3 px per frame with a constant score; its id in each frame."""
    return [tracker.update([at(100.0 + 3 * k, score=score)], k / FPS)[0].id for k in range(frames)]


def test_a_persistent_low_score_person_gets_an_id_after_low_birth_hits():
    assert _walk(PoseTracker(CONFIG), score=0.4, frames=8) == [-1, -1, -1, 1, 1, 1, 1, 1]


def test_without_low_births_a_persistent_low_score_person_never_gets_an_id():
    # ByteTrack's rule (the birth threshold at the high threshold): low scores only continue tracks.
    old = TrackerConfig(high_score_threshold=0.5, low_score_threshold=0.1, low_birth_threshold=0.5)
    assert _walk(PoseTracker(old), score=0.4, frames=8) == [-1] * 8


def test_below_the_birth_threshold_a_low_score_person_starts_nothing():
    tracker = PoseTracker(CONFIG)
    assert _walk(tracker, score=0.3, frames=8) == [-1] * 8
    assert tracker.tracks == ()


def test_a_low_score_detection_that_does_not_come_back_in_a_row_gets_no_id():
    """Three frames, a gap, three frames: the tentative track dies at the gap each time."""
    tracker = PoseTracker(CONFIG)
    ids = []
    for k in range(7):
        people = [] if k == 3 else [at(100.0 + 3 * k, score=0.4)]
        ids += _ids(tracker.update(people, k / FPS))
    assert ids == [-1] * 6


def test_a_track_born_high_but_continued_low_needs_the_low_birth_hits():
    tracker = PoseTracker(CONFIG)
    scores = [0.9, 0.4, 0.4, 0.4, 0.9]
    ids = [tracker.update([at(100.0 + 3 * k, score=s)], k / FPS)[0].id for k, s in enumerate(scores)]
    assert ids == [-1, -1, -1, 1, 1]  # a high second hit would have confirmed it at frame 1


def test_a_low_score_track_needs_the_stricter_similarity_to_grow():
    """A low-score detection far from the tentative track's prediction (IoU ~0.4, below the low
    bar of 0.5 but above the high one of 0.2) starts a new tentative track instead."""
    tracker = PoseTracker(CONFIG)
    ids = []
    for k in range(8):
        ids += _ids(tracker.update([at(100.0 + 25 * (k % 2), score=0.4)], k / FPS))  # jumps back and forth
    assert ids == [-1] * 8


def test_a_faint_duplicate_of_a_tracked_person_starts_no_track():
    tracker = PoseTracker(CONFIG)
    for k in range(10):
        clear, faint = at(100.0 + 3 * k, score=0.9), at(102.0 + 3 * k, score=0.4)  # IoU ~0.94
        out = tracker.update([clear, faint], k / FPS)
    assert _ids(out) == [1, -1]
    assert len(tracker.tracks) == 1


def test_two_half_hidden_persons_side_by_side_both_get_ids():
    """A group: one person in front scores high, two half hidden beside it score 0.4 (IoU with
    the front person ~0.3: not duplicates). All three get distinct ids and keep them."""
    tracker = PoseTracker(CONFIG)
    for k in range(12):
        x = 200.0 + 3 * k
        out = tracker.update([at(x, score=0.9), at(x - 30, score=0.4), at(x + 30, score=0.4)], k / FPS)
    assert sorted(_ids(out)) == [1, 2, 3]


@pytest.mark.parametrize("hits", [0, -1, 1.5, True])
def test_low_birth_hits_must_be_a_positive_integer(hits):
    with pytest.raises(ValueError, match="low_birth_hits"):
        TrackerConfig(low_birth_hits=hits)


@pytest.mark.parametrize("threshold", [-0.1, 1.1, float("nan")])
def test_low_birth_threshold_must_be_a_score(threshold):
    with pytest.raises(ValueError, match="low_birth_threshold"):
        TrackerConfig(low_birth_threshold=threshold)


def test_low_birth_hits_never_below_confirm_hits():
    tracker = PoseTracker(TrackerConfig(confirm_hits=3, low_birth_threshold=0.35, low_birth_hits=1))
    assert _walk(tracker, score=0.4, frames=4) == [-1, -1, 1, 1]
    np.testing.assert_equal(len(tracker.tracks), 1)
