"""Pair each colour frame with the depth frame whose stamp is nearest, within a tolerance.

Why not message_filters' ApproximateTimeSynchronizer: it emits the first set whose stamps fit in
its slop as soon as one fits, then forgets both messages, so a colour frame can be paired with a
depth frame that is not the nearest (e.g. one 40 ms early when another 5 ms late was still in
transit), and every pair costs a callback even for colour frames the node then drops as stale.
The node needs the opposite: for the colour frame it actually processes, the depth frame of
nearest stamp, or none when none lies within the tolerance.

So the depth stream goes into a short history (message_filters.Cache on a robot, else
`NearestStampBuffer`), and `DepthPairing` keeps one *claim* per recently received colour frame:
the nearest depth frame seen so far, taken from the history when the colour frame arrives and
improved by every depth frame that arrives after it (depth and colour travel on separate topics,
in either order). The worker thread takes the claim when it reaches the depth step, after
inference, so a slow model never needs a long depth history. All times are stamps in integer
nanoseconds; no ROS types here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NS_PER_S = 1_000_000_000
CLAIMS = 8  # a safety bound: normally only the frame in flight and the one waiting hold claims
STREAM_ALIVE_S = 1.0  # only wait for depth while depth frames arrived this recently (wall clock)


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time (sec, nanosec) -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


@dataclass(frozen=True)
class Candidate:
    """A depth message and how far its stamp lies from the colour frame's (nanoseconds)."""

    distance_ns: int
    msg: Any


class NearestStampBuffer:
    """The newest `capacity` messages with their stamps; nearest-stamp lookup (the fallback for
    message_filters.Cache). Not thread-safe: used on the executor thread only."""

    def __init__(self, capacity: int) -> None:
        self._items: deque[tuple[int, Any]] = deque(maxlen=capacity)

    def add(self, stamp_ns: int, msg: Any) -> None:
        self._items.append((stamp_ns, msg))

    def nearest(self, stamp_ns: int) -> Candidate | None:
        """The message of nearest stamp (the newer one on a tie), or None when empty."""
        best: Candidate | None = None
        for stamp, msg in self._items:
            distance = abs(stamp - stamp_ns)
            if best is None or distance <= best.distance_ns:
                best = Candidate(distance, msg)
        return best


class DepthPairing:
    """Claims of recent colour frames on the depth frame of nearest stamp (see the module docstring).

    `colour_arrived`, `colour_dropped` and `depth_arrived` run on the executor thread, `take` on the
    worker thread. `history(stamp_ns)` answers the nearest depth frame already received (or None).
    A claim lives from its colour frame's arrival until the frame is taken, dropped as stale, or
    passed over (frames are processed in arrival order, so taking one ends the claims of all
    frames that arrived before it, e.g. frames rejected before the 3D step).
    """

    def __init__(self, history: Callable[[int], Candidate | None], claims: int = CLAIMS) -> None:
        self._history = history
        self._capacity = claims
        self._claims: OrderedDict[int, Candidate | None] = OrderedDict()
        self._newest_depth_ns: int | None = None
        self._last_depth_wall = -float("inf")
        self._changed = threading.Condition()

    def colour_arrived(self, stamp_ns: int) -> None:
        candidate = self._history(stamp_ns)
        with self._changed:
            self._claims[stamp_ns] = candidate
            self._claims.move_to_end(stamp_ns)
            while len(self._claims) > self._capacity:
                self._claims.popitem(last=False)

    def colour_dropped(self, stamp_ns: int) -> None:
        """The colour frame was replaced by a newer one before the worker took it."""
        with self._changed:
            self._claims.pop(stamp_ns, None)

    def depth_arrived(self, stamp_ns: int, msg: Any) -> None:
        with self._changed:
            for colour_ns, best in self._claims.items():
                distance = abs(stamp_ns - colour_ns)
                if best is None or distance <= best.distance_ns:
                    self._claims[colour_ns] = Candidate(distance, msg)
            if self._newest_depth_ns is None or stamp_ns > self._newest_depth_ns:
                self._newest_depth_ns = stamp_ns
            self._last_depth_wall = time.monotonic()
            self._changed.notify_all()

    def take(self, stamp_ns: int, tolerance_ns: int, wait_s: float = 0.0) -> Any | None:
        """The depth message paired with the colour frame `stamp_ns`, or None when no depth frame
        lies within `tolerance_ns`.

        Without a depth frame within the tolerance yet, waits up to `wait_s` for one while it may
        still be in transit: none at or after the colour stamp has arrived and the depth stream is
        live. With one in hand it does not wait for a possibly nearer one (by the time inference is
        done, a depth frame published with the colour frame has normally arrived and improved the
        claim already).
        """
        deadline = time.monotonic() + wait_s
        with self._changed:
            if stamp_ns not in self._claims:  # arrived before the step started: ask the history now
                self._claims[stamp_ns] = self._history(stamp_ns)
            while True:
                best = self._claims[stamp_ns]
                paired = best is not None and best.distance_ns <= tolerance_ns
                pending = self._newest_depth_ns is None or self._newest_depth_ns < stamp_ns
                live = time.monotonic() - self._last_depth_wall < STREAM_ALIVE_S
                remaining = deadline - time.monotonic()
                if paired or not (pending and live and remaining > 0):
                    break
                self._changed.wait(remaining)
            while self._claims:  # this claim and the older ones (frames passed over) end here
                if self._claims.popitem(last=False)[0] == stamp_ns:
                    break
        return best.msg if paired else None

    def clear(self) -> None:
        with self._changed:
            self._claims.clear()
            self._newest_depth_ns = None
            self._last_depth_wall = -float("inf")
