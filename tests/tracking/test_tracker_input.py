"""Bad input: a clear ValueError naming the problem, and the tracker left exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_helpers import at

from centerpose_core.tracking import PoseTracker, TrackerConfig
from centerpose_core.types import Person


def _frames():
    return [[at(100.0 + 5 * k), at(400.0 - 5 * k)] for k in range(8)]


def _broken(kind: str) -> list[Person]:
    good = at(250.0)
    if kind == "nan box":
        return [good, Person(0.9, np.array([1.0, np.nan, 3.0, 4.0], np.float32), good.keypoints)]
    if kind == "inf keypoint":
        kps = good.keypoints.copy()
        kps[3, 0] = np.inf
        return [good, Person(0.9, good.bbox, kps)]
    if kind == "nan score":
        return [good, Person(float("nan"), good.bbox, good.keypoints)]
    if kind == "keypoint shape":
        return [good, Person(0.9, good.bbox, good.keypoints[:, :2])]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("nan box", "persons[1] has a non-finite"),
        ("inf keypoint", "persons[1] has a non-finite"),
        ("nan score", "persons[1] has a non-finite"),
        (
            "keypoint shape",
            "persons[1]: bbox must have shape (4,) and keypoints (17, 3), got (4,) and (17, 2)",
        ),
    ],
)
def test_bad_person_is_rejected_without_changing_the_tracker(kind, message):
    frames = _frames()
    reference, tracker = PoseTracker(), PoseTracker()
    for k, frame in enumerate(frames):
        if k == 4:
            with pytest.raises(ValueError) as error:
                tracker.update(_broken(kind), k / 25 - 0.001)
            assert message in str(error.value)
        expected = reference.update(frame, k / 25)
        assert [p.id for p in tracker.update(frame, k / 25)] == [p.id for p in expected]
        summary = [(t.id, t.state, t.hits, t.last_seen, t.box.tolist()) for t in tracker.tracks]
        assert summary == [(t.id, t.state, t.hits, t.last_seen, t.box.tolist()) for t in reference.tracks]


@pytest.mark.parametrize("stamp", [float("nan"), float("inf"), "0.5", None, True])
def test_stamp_must_be_a_finite_number(stamp):
    with pytest.raises(ValueError, match="tracking stamp must be"):
        PoseTracker().update([at(100.0)], stamp)


def test_earlier_stamp_is_an_error_and_an_equal_one_is_a_frame_without_elapsed_time():
    tracker = PoseTracker()
    tracker.update([at(100.0)], 2.0)
    assert tracker.update([at(100.0)], 2.0)[0].id == 1  # same stamp: dt = 0, still a second hit
    with pytest.raises(ValueError, match=r"1\.500000 s is earlier than the previous frame's 2\.000000 s"):
        tracker.update([at(100.0)], 1.5)
    assert tracker.update([at(100.0)], 2.1)[0].id == 1


def test_empty_frames_and_empty_tracker():
    tracker = PoseTracker()
    assert tracker.update([], 0.0) == []
    assert tracker.update((), 0.1) == []
    assert tracker.tracks == ()


def test_inverted_boxes_track_like_their_ordered_form_and_come_back_untouched():
    ordered, inverted = PoseTracker(), PoseTracker()
    for k in range(10):
        people = [at(100.0 + 8 * k), at(160.0 + 8 * k, 320.0)]  # overlapping neighbours
        flipped = [Person(p.score, p.bbox[[2, 3, 0, 1]].copy(), p.keypoints) for p in people]
        out = inverted.update(flipped, k / 25)
        assert [p.id for p in out] == [p.id for p in ordered.update(people, k / 25)]
        assert all((o.bbox == f.bbox).all() for o, f in zip(out, flipped))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"match_threshold": 0.0}, "match_threshold must be in (0, 1]"),
        ({"keypoint_weight": 1.5}, "keypoint_weight must be a finite number in [0.0, 1.0]"),
        (
            {"low_score_threshold": 0.7, "high_score_threshold": 0.5},
            "low_score_threshold (0.7) must not exceed high_score_threshold (0.5)",
        ),
        ({"confirm_hits": 0}, "confirm_hits must be an integer >= 1"),
        ({"confirm_hits": 2.0}, "confirm_hits must be an integer >= 1"),
        ({"lost_timeout_s": float("inf")}, "lost_timeout_s must be a finite number in [0.0, inf)"),
        ({"lost_timeout_s": -1}, "lost_timeout_s must be a finite number"),
        ({"lost_timeout": 1.0}, "unknown tracking setting(s) ['lost_timeout']"),
    ],
)
def test_config_rejects_bad_values_by_name(settings, message):
    with pytest.raises(ValueError) as error:
        TrackerConfig.from_mapping(settings)
    assert message in str(error.value)


def test_config_keys_and_descriptions_match():
    config = TrackerConfig.from_mapping({"lost_timeout_s": 2, "keypoint_weight": 0})  # ROS ints accepted
    assert config.lost_timeout_s == 2 and config.keypoint_weight == 0
    assert set(TrackerConfig.describe()) == set(vars(config))
    assert all(TrackerConfig.describe().values())
