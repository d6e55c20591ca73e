"""A one-slot mailbox between the subscription callbacks and the inference worker.

The callback only stores the newest frame (never waits); an unprocessed older frame is
replaced and counted as dropped. The worker always takes the newest frame, so latency stays
one inference at most behind the camera instead of growing with a queue.

The slot also knows whether the worker is busy with a frame it took (`take` ... `task_done`),
so a lifecycle `deactivate` can drop the waiting frame and wait for the one in flight.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestFrameSlot(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self._in_flight = False
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store `item`; returns True when it replaced a frame the worker had not taken (a drop)."""
        with self._cond:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """Wait for and remove the newest item; None on timeout or once closed.

        The taken item counts as in flight until `task_done()`.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._item is not None or self._closed, timeout):
                return None
            if self._closed:
                return None
            item, self._item = self._item, None
            self._in_flight = True
            return item

    def task_done(self) -> None:
        """The worker finished the item it took last."""
        with self._cond:
            self._in_flight = False
            self._cond.notify_all()

    def discard(self) -> bool:
        """Drop the waiting item, if any (not counted as a drop); True when there was one."""
        with self._cond:
            had_item = self._item is not None
            self._item = None
            return had_item

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no item waits and none is in flight; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._item is None and not self._in_flight, timeout)

    def close(self) -> None:
        """Wake the worker for shutdown; later takes return None."""
        with self._cond:
            self._closed = True
            self._item = None
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def in_flight(self) -> bool:
        return self._in_flight
