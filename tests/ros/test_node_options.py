"""The node with non-default options over real DDS: best-effort input, compressed input,
`-p score_threshold:=0` given as an integer, and a clean exit on SIGINT."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from ros_helpers import (
    Proc,
    RosSession,
    assert_matches_predictor,
    raw_entry,
    require_ros,
    wait_for_records,
)

require_ros()
pytestmark = pytest.mark.ros

MAX_PERSONS = 3


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, random_checkpoint: Path
) -> Iterator[tuple[RosSession, Proc, Path]]:
    session = RosSession(tmp_path_factory.mktemp("ros_options"))
    try:
        # score_threshold:=0 arrives as an integer: the node must accept it (rclpy alone would not).
        proc = session.start_test_node(
            random_checkpoint,
            score_threshold=0,
            max_persons=MAX_PERSONS,
            image_reliability="best_effort",
            use_compressed=True,
            publish_annotated=False,
        )
        _, records = session.start_ready_recorder(topics="detections")
        yield session, proc, records
    finally:
        session.close()


def _detections(records: Path, prefix: str, count: int) -> dict[str, dict[str, Any]]:
    found = wait_for_records(records, lambda r: r["frame_id"].startswith(prefix), count, 30)
    return {r["frame_id"]: r for r in found}


def _compressed(image: np.ndarray, ext: str, frame_id: str, stamp: tuple[int, int]) -> dict[str, Any]:
    ok, encoded = cv2.imencode(ext, image)
    assert ok
    return dict(type="compressed", format=ext[1:], frame_id=frame_id, stamp=stamp, data=encoded.tobytes())


def test_integer_threshold_zero_accepted_and_publishes_all_candidates(node, reference_predictor) -> None:
    session, proc, records = node
    image = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    session.publish([raw_entry(image, "int_thr_0", (50, 1))], "--lockstep")
    record = _detections(records, "int_thr_", 1)["int_thr_0"]
    # threshold 0 keeps all K=100 candidates, so max_persons decides the count.
    assert len(record["persons"]) == MAX_PERSONS
    assert_matches_predictor(record, reference_predictor, image, threshold=0.0, max_persons=MAX_PERSONS)


def test_best_effort_subscription_receives_best_effort_camera(node) -> None:
    session, proc, records = node
    image = np.random.default_rng(2).integers(
        0, 256, (240, 320, 3), dtype=np.uint8
    )  # 230 KB: fits best effort
    plan = [raw_entry(image, f"be_ok_{i}", (60 + i, 0)) for i in range(6)]
    session.publish(plan, "--reliability", "best_effort", "--rate", "2")
    got = _detections(records, "be_ok_", 1)
    assert got, f"no frame flowed from a best-effort camera with image_reliability best_effort:\n{proc.log()}"
    assert "QoS mismatch" not in proc.log()


def test_compressed_jpeg_and_png(node, reference_predictor) -> None:
    session, proc, records = node
    rng = np.random.default_rng(6)
    image = cv2.GaussianBlur(rng.integers(0, 256, (210, 280, 3), dtype=np.uint8), (5, 5), 0)
    jpeg = _compressed(image, ".jpg", "comp_jpeg", (70, 0))
    png = _compressed(image, ".png", "comp_png", (71, 0))
    corrupt = dict(
        jpeg,
        frame_id="comp_corrupt",
        stamp=(72, 0),
        data=b"\xff\xd8\xff\xe0" + bytes(500),
        expect_answer=False,
    )
    session.publish([jpeg, corrupt, png], "--lockstep")
    got = _detections(records, "comp_", 2)
    assert set(got) == {"comp_jpeg", "comp_png"}
    decoded = cv2.imdecode(np.frombuffer(jpeg["data"], np.uint8), cv2.IMREAD_COLOR)
    assert_matches_predictor(
        got["comp_jpeg"], reference_predictor, decoded, threshold=0.0, max_persons=MAX_PERSONS
    )
    assert_matches_predictor(
        got["comp_png"], reference_predictor, image, threshold=0.0, max_persons=MAX_PERSONS
    )
    assert tuple(got["comp_png"]["stamp"]) == (71, 0)
    assert "could not decode the compressed image" in proc.log()


def test_sigint_stops_cleanly(node) -> None:
    session, proc, records = node
    rc = proc.stop(signal.SIGINT)
    log = proc.log()
    assert rc == 0, log[-2000:]
    assert "Traceback" not in log and "shutting down" in log
