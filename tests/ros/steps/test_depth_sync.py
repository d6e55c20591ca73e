"""Nearest-stamp pairing of colour and depth frames (centerpose_ros/steps/depth_sync.py), without ROS.

Stamps are integer nanoseconds; the "messages" are plain labels. Expected pairs are read off the
stamps by hand: the depth frame of smallest |depth stamp - colour stamp|, within the tolerance.
"""

from __future__ import annotations

import threading
import time

from centerpose_ros.steps.depth_sync import DepthPairing, NearestStampBuffer

MS = 1_000_000


def pairing_with_buffer(capacity: int = 10) -> tuple[DepthPairing, NearestStampBuffer]:
    buffer = NearestStampBuffer(capacity)
    return DepthPairing(buffer.nearest), buffer


def depth(pairing: DepthPairing, buffer: NearestStampBuffer, stamp_ns: int, label: str) -> None:
    """What a depth subscription callback does: into the history, then to the claims."""
    buffer.add(stamp_ns, label)
    pairing.depth_arrived(stamp_ns, label)


def test_buffer_gives_the_nearest_stamp_and_keeps_the_newest_frames() -> None:
    buffer = NearestStampBuffer(3)
    assert buffer.nearest(0) is None
    for stamp, label in ((100, "a"), (130, "b"), (170, "c")):
        buffer.add(stamp * MS, label)
    assert buffer.nearest(128 * MS).msg == "b" and buffer.nearest(128 * MS).distance_ns == 2 * MS
    assert buffer.nearest(150 * MS).msg == "c", "a tie goes to the newer frame"
    buffer.add(200 * MS, "d")  # capacity 3: "a" leaves
    assert buffer.nearest(90 * MS).msg == "b"


def test_depth_before_and_after_the_colour_frame_the_nearest_wins() -> None:
    pairing, buffer = pairing_with_buffer()
    depth(pairing, buffer, 970 * MS, "early_30ms")  # before the colour frame arrives
    pairing.colour_arrived(1000 * MS)
    depth(pairing, buffer, 1010 * MS, "late_10ms")  # after it: improves the claim
    depth(pairing, buffer, 1045 * MS, "late_45ms")  # after it, but farther: no change
    assert pairing.take(1000 * MS, tolerance_ns=50 * MS) == "late_10ms"


def test_no_depth_within_the_tolerance_gives_none() -> None:
    pairing, buffer = pairing_with_buffer()
    depth(pairing, buffer, 900 * MS, "100ms_early")
    pairing.colour_arrived(1000 * MS)
    depth(pairing, buffer, 1080 * MS, "80ms_late")
    assert pairing.take(1000 * MS, tolerance_ns=50 * MS) is None
    pairing.colour_arrived(2000 * MS)
    assert pairing.take(2000 * MS, tolerance_ns=1000 * MS) == "80ms_late", "a wider tolerance pairs it"


def test_a_slow_worker_still_gets_the_depth_frame_of_its_colour_frame() -> None:
    """Claims are made on arrival, so a history of 2 frames is enough however long inference takes."""
    pairing, buffer = pairing_with_buffer(capacity=2)
    pairing.colour_arrived(1000 * MS)
    for i in range(10):  # depth at 30 Hz keeps coming while the frame is in flight
        depth(pairing, buffer, (1000 + 33 * i) * MS, f"d{i}")
    assert pairing.take(1000 * MS, tolerance_ns=50 * MS) == "d0"


def test_take_waits_for_a_depth_frame_in_transit_but_not_for_a_dead_stream() -> None:
    pairing, buffer = pairing_with_buffer()
    depth(pairing, buffer, 900 * MS, "old")  # the stream is live; nothing near 1000 ms yet
    pairing.colour_arrived(1000 * MS)
    timer = threading.Timer(0.05, depth, (pairing, buffer, 1001 * MS, "in_transit"))
    timer.start()
    assert pairing.take(1000 * MS, tolerance_ns=50 * MS, wait_s=5.0) == "in_transit"
    timer.join()

    dead, dead_buffer = pairing_with_buffer()  # no depth frame ever arrived: no waiting
    dead.colour_arrived(1000 * MS)
    start = time.monotonic()
    assert dead.take(1000 * MS, tolerance_ns=50 * MS, wait_s=5.0) is None
    assert time.monotonic() - start < 1.0

    pairing.colour_arrived(960 * MS)  # depth already arrived past this colour stamp: no waiting
    start = time.monotonic()
    assert pairing.take(960 * MS, tolerance_ns=10 * MS, wait_s=5.0) is None
    assert time.monotonic() - start < 1.0


def test_claims_follow_the_mailbox_so_a_slow_model_keeps_its_pair() -> None:
    """Frame A is in flight for 2 s while 20 newer frames arrive at 10 Hz, each replacing the one
    waiting (as the pipeline reports it); A's claim survives, the others' do not pile up."""
    pairing, buffer = pairing_with_buffer(capacity=3)  # 0.3 s of depth history only
    pairing.colour_arrived(1000 * MS)
    depth(pairing, buffer, 1000 * MS, "depth_of_A")
    for i in range(1, 21):
        stamp = (1000 + 100 * i) * MS
        depth(pairing, buffer, stamp, f"depth_{i}")
        pairing.colour_arrived(stamp)
        if i > 1:
            pairing.colour_dropped(stamp - 100 * MS)  # the previous waiting frame was replaced
        assert len(pairing._claims) <= 2, "only the frame in flight and the one waiting hold claims"
    assert pairing.take(1000 * MS, tolerance_ns=50 * MS) == "depth_of_A"
    assert pairing.take(3000 * MS, tolerance_ns=50 * MS) == "depth_20"


def test_taking_a_frame_ends_the_claims_of_frames_passed_over() -> None:
    pairing, buffer = pairing_with_buffer()
    for stamp in (100, 200, 300):  # 100 and 200 never reach the 3D step (e.g. rejected images)
        pairing.colour_arrived(stamp * MS)
    assert pairing.take(300 * MS, tolerance_ns=50 * MS) is None
    assert len(pairing._claims) == 0
    for i in range(20):
        pairing.colour_arrived(i * MS)
    assert len(pairing._claims) <= 8, "a safety bound holds even if nothing is ever taken"
    depth(pairing, buffer, 5000 * MS, "d")
    assert pairing.take(5010 * MS, tolerance_ns=50 * MS) == "d", "never claimed: looked up in the history"
    pairing.clear()
    assert pairing.take(5010 * MS, tolerance_ns=50 * MS) == "d", "clear() forgets claims, not the history"
