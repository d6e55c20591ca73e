"""/pose/masks over real DDS (issue 21): a mask model's node publishes a mono8 label image per frame
while (and only while) someone subscribes, and computes masks only then (`masks_computed`); value
1 + i is the person at index i of the same frame's /pose/detections, 0 is background, the higher
score wins where masks overlap."""

from __future__ import annotations

import base64
import signal
import time

import numpy as np
import pytest
from ros_helpers import (
    MAX_PERSONS,
    SCORE_THRESHOLD,
    TEST_INPUT_SIZE,
    RosSession,
    latest_diagnostics,
    raw_entry,
    require_ros,
    wait_for_records,
)

require_ros()
pytestmark = pytest.mark.ros

# The node and this process compute the masks in different processes: pixels whose probability
# lies within float rounding of 0.5 may differ, a tiny share of the image.
PIXEL_AGREEMENT = 0.99


def _painted(persons, height: int, width: int) -> np.ndarray:
    """The topic's rule written out: paint from the lowest score up, so the highest wins."""
    labels = np.zeros((height, width), np.uint8)
    for index in sorted(range(len(persons)), key=lambda i: persons[i].score):
        labels[persons[index].mask] = index + 1
    return labels


def test_masks_topic_labels_the_detections(tmp_path):
    from centerpose_core.model.random_weights import save_random_checkpoint
    from centerpose_core.runtime import Predictor

    checkpoint = save_random_checkpoint(tmp_path / "masks.pth", masks=True)
    session = RosSession(tmp_path)
    try:
        node = session.start_test_node(checkpoint)
        _, records = session.start_ready_recorder()
        image = np.random.default_rng(21).integers(0, 256, (120, 160, 3), dtype=np.uint8)

        session.publish([raw_entry(image, "nomask_0", (2100, 0))], "--lockstep")
        wait_for_records(records, lambda r: r["topic"] == "detections" and r["frame_id"] == "nomask_0", 1, 30)
        diagnostics = latest_diagnostics(records, after=time.time())
        # Nobody consumes masks (no /pose/masks subscriber, no annotated image): none computed.
        assert (diagnostics["masks_published"], diagnostics["masks_computed"]) == ("0", "0")

        viewer, viewer_records = session.start_ready_recorder("viewer", topics="masks")
        plan = [raw_entry(image, f"mask_{i}", (2101 + i, 5)) for i in range(2)]
        session.publish(plan, "--lockstep")
        masks = wait_for_records(viewer_records, lambda r: r["topic"] == "masks", 2, 30)
        detections = wait_for_records(
            records, lambda r: r["topic"] == "detections" and r["frame_id"].startswith("mask_"), 2, 30
        )
        viewer.stop(signal.SIGINT)
        diagnostics = latest_diagnostics(records, after=time.time())
        assert (diagnostics["masks_published"], diagnostics["masks_computed"]) == ("2", "2")

        expected = Predictor(checkpoint, input_size=TEST_INPUT_SIZE).predict(
            image, threshold=SCORE_THRESHOLD, max_persons=MAX_PERSONS
        )
        reference = _painted(expected, 120, 160)
        assert len(np.unique(reference)) > 2, "fixture: several persons' masks must show"
        by_frame = {r["frame_id"]: r for r in detections}
        for record, entry in zip(masks, plan, strict=True):
            assert record["frame_id"] == entry["frame_id"] and tuple(record["stamp"]) == entry["stamp"]
            assert (record["encoding"], record["width"], record["height"], record["step"]) == (
                "mono8",
                160,
                120,
                160,
            )
            labels = np.frombuffer(base64.b64decode(record["data"]), np.uint8).reshape(120, 160)
            persons = by_frame[record["frame_id"]]["persons"]
            assert set(np.unique(labels)) <= set(range(len(persons) + 1))
            assert len(persons) == len(expected)
            assert (labels == reference).mean() > PIXEL_AGREEMENT
        rc = node.stop(signal.SIGTERM)
        assert rc == 0 and "Traceback" not in node.log(), node.log()[-3000:]
    finally:
        session.close()
