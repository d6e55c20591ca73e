"""Nearest-stamp pairing of colour and depth frames (centerpose_ros/depth_sync.py), without ROS.

Stamps are integer nanoseconds; the "messages" are plain labels. Expected pairs are read off the
stamps by hand: the depth frame of smallest |depth stamp - colour stamp|, within the tolerance.
"""

from __future__ import annotations

import threading
import time

from centerpose_ros.depth_sync import DepthPairing, NearestStampBuffer

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


def test_claims_are_bounded_and_a_colour_frame_without_claim_asks_the_history() -> None:
    pairing, buffer = pairing_with_buffer()
    for i in range(20):
        pairing.colour_arrived(i * 100 * MS)  # frames replaced in the mailbox leave claims behind
    assert len(pairing._claims) <= 4
    depth(pairing, buffer, 5000 * MS, "d")
    assert pairing.take(5010 * MS, tolerance_ns=50 * MS) == "d", "never claimed: looked up in the history"
    pairing.clear()
    assert pairing.take(5010 * MS, tolerance_ns=50 * MS) == "d", "clear() forgets claims, not the history"
