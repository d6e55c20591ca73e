"""`centerpose-ros-lifecycle` over real DDS, driven like a lifecycle manager would drive it.

A client process (peer.py lifecycle) calls the node's standard `~/change_state` and `~/get_state`
services; a publisher process sends camera frames and reports how many image subscriptions it
matched; a recorder process writes what arrives on /pose/detections. Expected detections come
from the Predictor run in this process on the same pixels with the same weights and input size.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ros_helpers import (
    LIFECYCLE_NODE_EXE,
    MAX_PERSONS,
    SCORE_THRESHOLD,
    TEST_INPUT_SIZE,
    LifecycleClient,
    Proc,
    RosSession,
    assert_matches_predictor,
    memory_mb,
    raw_entry,
    read_jsonl,
    require_ros,
    wait_for_records,
)

require_ros()
pytestmark = pytest.mark.ros

# Detections of frames sent while the node is not active would arrive within this time if they
# were processed at all (one inference at TEST_INPUT_SIZE takes ~0.1-0.5 s here).
QUIET_WAIT_S = 3.0


def start_lifecycle_node(session: RosSession, model_path: Path, input_size: int = TEST_INPUT_SIZE) -> Proc:
    return session.start_test_node(
        model_path,
        wait_for=r"\[centerpose\]: unconfigured \(model_path .*\); waiting for configure",
        executable=LIFECYCLE_NODE_EXE,
        ros_args=("--log-level", "centerpose:=debug"),
        input_size=input_size,
    )


def images(seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (120 + 8 * i, 160, 3), dtype=np.uint8) for i in range(count)]


def publish_unanswered(session: RosSession, prefix: str, stamp0: int) -> tuple[list[str], str]:
    """Send 5 frames without waiting for a subscriber; returns their frame_ids and the publisher's log."""
    plan = [raw_entry(image, f"{prefix}{i}", (stamp0 + i, 0)) for i, image in enumerate(images(3, 5))]
    proc = session.publish(plan, "--no-wait-match", "--rate", "10", name=f"publisher_{prefix}")
    return [entry["frame_id"] for entry in plan], proc.log()


def assert_transition(client: LifecycleClient, transition: str, success: bool, state: str) -> None:
    assert client.change(transition) == (success, state), f"{transition}: expected {(success, state)}"
    assert client.state() == state


def error_lines(node: Proc) -> list[str]:
    return [line for line in node.log().splitlines() if "[ERROR]" in line]


def test_configure_gates_model_and_activate_gates_frames(
    tmp_path: Path, random_checkpoint: Path, reference_predictor: Any
) -> None:
    session = RosSession(tmp_path)
    try:
        missing = tmp_path / "missing_model.pth"
        node = start_lifecycle_node(session, missing)
        client = session.start_lifecycle_client()
        assert client.state() == "unconfigured"
        mem_unconfigured = memory_mb(node.popen.pid)

        # A model that cannot load: configure fails with one line naming it; the node stays up.
        assert_transition(client, "configure", False, "unconfigured")
        (error,) = error_lines(node)
        assert "configure failed" in error and str(missing) in error and "file not found" in error
        assert node.popen.poll() is None and "Traceback" not in node.log()

        # Fix model_path through the standard set_parameters service, then configure again.
        assert "ok" in session.set_params(f'model_path="{random_checkpoint}"')
        assert_transition(client, "configure", True, "inactive")
        mem_configured = memory_mb(node.popen.pid)
        refused = session.set_params("input_size=256", expect_ok=False)
        assert "REFUSED" in refused and "only while unconfigured" in refused
        recorder, records = session.start_ready_recorder(topics="detections,diagnostics")

        # Inactive: no image subscription, nothing published.
        before_activate, log = publish_unanswered(session, "inactive_", 100)
        assert "SUBSCRIBERS raw=0" in log

        assert_transition(client, "activate", True, "active")
        sent = {f"active_{i}": image for i, image in enumerate(images(7, 3))}
        plan = [raw_entry(image, frame_id, (200 + i, 0)) for i, (frame_id, image) in enumerate(sent.items())]
        publisher = session.publish(plan, "--lockstep")
        assert "SUBSCRIBERS raw=1" in publisher.log()
        found = wait_for_records(records, lambda r: r.get("frame_id", "") in sent, len(plan), 30)
        assert sorted(r["frame_id"] for r in found) == sorted(sent)
        for record in found:
            image = sent[record["frame_id"]]
            assert_matches_predictor(
                record, reference_predictor, image, threshold=SCORE_THRESHOLD, max_persons=MAX_PERSONS
            )
        mem_active = memory_mb(node.popen.pid)

        # Deactivated: unsubscribed again, nothing published.
        assert_transition(client, "deactivate", True, "inactive")
        after_deactivate, log = publish_unanswered(session, "deactivated_", 300)
        assert "SUBSCRIBERS raw=0" in log
        time.sleep(QUIET_WAIT_S)
        seen = {r.get("frame_id") for r in read_jsonl(records) if r["topic"] == "detections"}
        assert seen.isdisjoint(before_activate + after_deactivate), sorted(seen)
        assert seen == set(sent)

        # Cleanup releases the model: the process shrinks back near its unconfigured size (imported
        # code and one-time runtime caches stay), and configure/cleanup cycles do not accumulate.
        assert_transition(client, "cleanup", True, "unconfigured")
        mem_cleaned = memory_mb(node.popen.pid)
        assert_transition(client, "configure", True, "inactive")
        mem_reconfigured = memory_mb(node.popen.pid)
        assert_transition(client, "shutdown", True, "finalized")  # releases the model too
        mem_finalized = memory_mb(node.popen.pid)
        figures = (
            f"unconfigured {mem_unconfigured}, configured {mem_configured}, active after {len(plan)} "
            f"frames {mem_active}, after cleanup {mem_cleaned}, configured again {mem_reconfigured}, "
            f"after shutdown {mem_finalized}"
        )
        print(f"\nlifecycle memory (MB): {figures}")
        weights_mb = random_checkpoint.stat().st_size / 2**20  # fp32 weights: the bulk of the model
        assert mem_configured.anon - mem_unconfigured.anon > 0.8 * weights_mb, figures
        assert mem_active.anon - mem_cleaned.anon > 0.8 * weights_mb, f"cleanup frees the weights: {figures}"
        # Back near the start: the heap keeps less than half the weights' size (one-time runtime
        # caches: thread pools, kernel caches; measured ~20 MB); had the model stayed, it would keep
        # all of it. Library code paged in by the first inference (file-backed) stays, as it must.
        assert mem_cleaned.anon - mem_unconfigured.anon < weights_mb / 2, figures
        assert abs(mem_finalized.rss - mem_cleaned.rss) < 0.2 * weights_mb, f"cycles must not grow: {figures}"

        # Finalized: the process stays until stopped, then exits cleanly.
        assert node.popen.poll() is None
        rc = node.stop(signal.SIGTERM)
        assert rc == 0 and "Traceback" not in node.log(), node.log()[-3000:]
        assert len(error_lines(node)) == 1, "only the failed configure logs an error"
    finally:
        session.close()


def test_deactivate_finishes_the_frame_in_flight_and_shutdown_works_from_active(
    tmp_path: Path, random_checkpoint: Path
) -> None:
    session = RosSession(tmp_path)
    try:
        node = start_lifecycle_node(session, random_checkpoint, input_size=2 * TEST_INPUT_SIZE)  # ~1 s/frame
        client = session.start_lifecycle_client()
        assert_transition(client, "configure", True, "inactive")
        assert_transition(client, "activate", True, "active")
        recorder, records = session.start_ready_recorder(topics="detections")

        image = images(11, 1)[0]
        publisher = session.start_publisher([raw_entry(image, "in_flight", (500, 0))])
        node.wait_for_log(r"'in_flight': processing", timeout=60)
        assert_transition(client, "deactivate", True, "inactive")
        log = node.log()
        assert "waiting for the frame in flight" in log, "deactivate arrived after the frame finished"
        published = re.search(r"'in_flight': inference", log)  # debug line after /pose/detections
        assert published and published.start() < log.index("inactive: not taking frames")
        assert wait_for_records(records, lambda r: r.get("frame_id") == "in_flight", 1, 30)
        assert publisher.wait(60) == 0

        # Deactivate forgot the tracks: the same persons 0.1 s later start new tentative tracks
        # (without the reset, the in-flight frame's tracks would be confirmed now and carry ids).
        assert_transition(client, "activate", True, "active")
        plan = [raw_entry(image, f"resumed_{i}", (500, (i + 1) * 100_000_000)) for i in range(2)]
        session.publish(plan, "--lockstep")
        resumed = wait_for_records(records, lambda r: r.get("frame_id", "").startswith("resumed_"), 2, 30)
        first, second = sorted(resumed, key=lambda r: r["frame_id"])
        assert [p["id"] for p in first["persons"]] == [-1] * MAX_PERSONS, "deactivate resets the tracker"
        assert all(p["score"] >= 0.61 for p in second["persons"]), "fixture: clear of the high threshold"
        assert all(p["id"] >= 1 for p in second["persons"]), "every person scores >= 0.6: confirmed now"
        assert_transition(client, "shutdown", True, "finalized")
        assert "finalized (shut down from active)" in node.log()
        late, log = publish_unanswered(session, "finalized_", 600)
        assert "SUBSCRIBERS raw=0" in log
        time.sleep(QUIET_WAIT_S)
        assert not [r for r in read_jsonl(records) if r.get("frame_id") in late]
        rc = node.stop(signal.SIGINT)
        assert rc == 0 and "Traceback" not in node.log(), node.log()[-3000:]
        assert not error_lines(node)
    finally:
        session.close()
