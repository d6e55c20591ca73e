"""The newest-frame mailbox: a slow consumer sees only the newest item, and drops are counted."""

from __future__ import annotations

import threading
import time

from centerpose_ros.latest_frame import LatestFrameSlot


def test_put_replaces_unread_item_and_counts_a_drop() -> None:
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True and slot.put(3) is True
    assert slot.dropped == 2
    assert slot.take(timeout=0) == 3
    assert slot.take(timeout=0.01) is None


def test_slow_consumer_processes_newest_items_in_order() -> None:
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    seen: list[int] = []

    def consume() -> None:
        while (item := slot.take()) is not None:
            seen.append(item)
            time.sleep(0.01)

    worker = threading.Thread(target=consume)
    worker.start()
    for i in range(200):
        slot.put(i)
        time.sleep(0.001)
    deadline = time.monotonic() + 5
    while (not seen or seen[-1] != 199) and time.monotonic() < deadline:
        time.sleep(0.01)
    slot.close()
    worker.join(2)
    assert not worker.is_alive()
    assert seen == sorted(seen) and seen[-1] == 199
    assert len(seen) + slot.dropped == 200 and slot.dropped > 0


def test_close_wakes_a_waiting_consumer() -> None:
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(slot.take()))
    worker.start()
    time.sleep(0.05)
    slot.close()
    worker.join(1)
    assert result == [None]


def test_wait_idle_waits_for_the_item_in_flight_and_discard_drops_the_waiting_one() -> None:
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    assert slot.wait_idle(timeout=0) is True  # nothing waiting, nothing in flight
    slot.put(1)
    assert slot.take(timeout=0) == 1 and slot.in_flight
    slot.put(2)
    assert slot.discard() is True and slot.discard() is False
    assert slot.dropped == 0, "a discarded frame is not a dropped one"
    assert slot.wait_idle(timeout=0.05) is False, "item 1 is still in flight"

    finished: list[float] = []

    def finish() -> None:
        time.sleep(0.2)
        finished.append(time.monotonic())
        slot.task_done()

    worker = threading.Thread(target=finish)
    worker.start()
    assert slot.wait_idle(timeout=5) is True
    returned = time.monotonic()
    worker.join()
    assert finished and returned >= finished[0] and not slot.in_flight
    assert slot.take(timeout=0) is None, "the discarded item never reaches the worker"
