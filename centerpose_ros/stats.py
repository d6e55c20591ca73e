"""Thread-safe counters and recent-window statistics for the node's log line and /diagnostics.

Rates are computed over the last RATE_WINDOW_S seconds, percentiles over the last
`window` processed frames, so the numbers describe the node now rather than since start.

The latency trend compares the latency p50 of the last TREND_WINDOW_S seconds with that of the first
TREND_WINDOW_S seconds after the input started (node start, lifecycle activate): a robot's monitor
sees the node drift over hours without running a benchmark. It is NaN until the first window is
complete.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

RATE_WINDOW_S = 5.0
TREND_WINDOW_S = 60.0


@dataclass(frozen=True)
class StatsSnapshot:
    received: int  # frames that arrived (all subscriptions)
    processed: int  # frames that went through the Predictor and were published
    dropped: int  # frames replaced by a newer one before the worker took them
    rejected: int  # bad frames skipped (encoding, size, corrupt data)
    input_hz: float
    processed_hz: float
    latency_p50_ms: float  # receive -> publish of /pose/detections
    latency_p95_ms: float
    inference_p50_ms: float  # Predictor time (pre-process, forward, decode, post-process)
    inference_p95_ms: float
    annotated: int  # annotated images published (only while someone subscribes)
    markers: int  # marker arrays published
    masks: int  # /pose/masks label images published (mask models, only while someone subscribes)
    masks_computed: int  # frames whose masks the Predictor computed (only while someone consumes them)
    step_ms: dict[str, tuple[float, float]]  # per-frame step name -> (p50, p95) of its time, ms
    latency_first_window_p50_ms: float  # latency p50 over the first trend window after input started
    latency_last_window_p50_ms: float  # ... and over the last trend window (NaN until the first is complete)

    @property
    def latency_trend_percent(self) -> float:
        """How much the last window's latency p50 is above (+) or below (-) the first window's."""
        first, last = self.latency_first_window_p50_ms, self.latency_last_window_p50_ms
        return 100.0 * (last - first) / first if first > 0 else float("nan")

    def log_line(self) -> str:
        return (
            f"in {self.input_hz:.1f} Hz, processed {self.processed_hz:.1f} Hz, dropped {self.dropped}, "
            f"rejected {self.rejected}, "
            f"latency p50/p95 {self.latency_p50_ms:.1f}/{self.latency_p95_ms:.1f} ms, "
            f"inference p50/p95 {self.inference_p50_ms:.1f}/{self.inference_p95_ms:.1f} ms "
            f"(frames in {self.received}, out {self.processed})"
        )


class NodeStats:
    def __init__(self, window: int = 200, trend_window_s: float = TREND_WINDOW_S) -> None:
        self._lock = threading.Lock()
        self._received = self._processed = self._dropped = self._rejected = 0
        self._annotated = self._markers = self._masks = self._masks_computed = 0
        self._receive_times: deque[float] = deque()
        self._process_times: deque[float] = deque()
        self._latency = np.zeros(window, dtype=np.float64)
        self._inference = np.zeros(window, dtype=np.float64)
        self._samples = 0
        self._window = window
        self._steps: dict[str, deque[float]] = {}
        self._trend_window_s = trend_window_s
        self._input_since: float | None = None
        self._first_window: list[float] = []  # latencies of the first trend window after input started
        self._last_window: deque[tuple[float, float]] = deque()  # (time, latency) of the last window

    def input_started(self, now: float | None = None) -> None:
        """Frames flow from now on (node start, lifecycle activate): the latency trend starts again."""
        with self._lock:
            self._input_since = time.monotonic() if now is None else now
            self._first_window.clear()
            self._last_window.clear()

    def frame_received(self, now: float | None = None) -> None:
        with self._lock:
            self._received += 1
            self._receive_times.append(time.monotonic() if now is None else now)

    def frame_dropped(self, count: int = 1) -> None:
        with self._lock:
            self._dropped += count

    def frame_rejected(self) -> None:
        with self._lock:
            self._rejected += 1

    def annotated_published(self) -> None:
        with self._lock:
            self._annotated += 1

    def markers_published(self) -> None:
        with self._lock:
            self._markers += 1

    def masks_published(self) -> None:
        with self._lock:
            self._masks += 1

    def masks_computed(self) -> None:
        with self._lock:
            self._masks_computed += 1

    def frame_processed(self, latency_ms: float, inference_ms: float, now: float | None = None) -> None:
        with self._lock:
            slot = self._samples % len(self._latency)
            self._latency[slot] = latency_ms
            self._inference[slot] = inference_ms
            self._samples += 1
            self._processed += 1
            now = time.monotonic() if now is None else now
            self._process_times.append(now)
            if self._input_since is not None:
                if now - self._input_since <= self._trend_window_s:
                    self._first_window.append(latency_ms)
                self._last_window.append((now, latency_ms))
                self._drop_old(now)

    def _drop_old(self, now: float) -> None:
        while self._last_window and self._last_window[0][0] < now - self._trend_window_s:
            self._last_window.popleft()

    def step_timed(self, name: str, ms: float) -> None:
        """One frame's time in the per-frame step `name` (the last `window` frames are kept)."""
        with self._lock:
            self._steps.setdefault(name, deque(maxlen=self._window)).append(ms)

    def snapshot(self, now: float | None = None) -> StatsSnapshot:
        now = time.monotonic() if now is None else now
        with self._lock:
            for times in (self._receive_times, self._process_times):
                while times and times[0] < now - RATE_WINDOW_S:
                    times.popleft()
            n = min(self._samples, len(self._latency))
            if n:
                lat50, lat95 = np.percentile(self._latency[:n], [50, 95])
                inf50, inf95 = np.percentile(self._inference[:n], [50, 95])
            else:
                lat50 = lat95 = inf50 = inf95 = float("nan")
            self._drop_old(now)
            first_complete = self._input_since is not None and now - self._input_since >= self._trend_window_s
            if first_complete and self._first_window and self._last_window:
                first = float(np.median(self._first_window))
                last = float(np.median([latency for _, latency in self._last_window]))
            else:
                first = last = float("nan")
            step_ms = {
                name: tuple(float(v) for v in np.percentile(np.fromiter(times, float), [50, 95]))
                for name, times in self._steps.items()
                if times
            }
            return StatsSnapshot(
                received=self._received,
                processed=self._processed,
                dropped=self._dropped,
                rejected=self._rejected,
                input_hz=len(self._receive_times) / RATE_WINDOW_S,
                processed_hz=len(self._process_times) / RATE_WINDOW_S,
                latency_p50_ms=float(lat50),
                latency_p95_ms=float(lat95),
                inference_p50_ms=float(inf50),
                inference_p95_ms=float(inf95),
                annotated=self._annotated,
                markers=self._markers,
                masks=self._masks,
                masks_computed=self._masks_computed,
                step_ms=step_ms,
                latency_first_window_p50_ms=first,
                latency_last_window_p50_ms=last,
            )
