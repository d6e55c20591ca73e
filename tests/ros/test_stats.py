"""NodeStats' latency trend: the last window's latency p50 against the first window's after the input
started, with hand-computed medians (explicit times, a 10 s window instead of the node's minute)."""

from __future__ import annotations

import math

from centerpose_ros.stats import TREND_WINDOW_S, NodeStats


def processed(stats: NodeStats, *frames: tuple[float, float]) -> None:
    for now, latency_ms in frames:
        stats.frame_processed(latency_ms, inference_ms=1.0, now=now)


def test_trend_compares_the_last_window_with_the_first_after_input_started() -> None:
    stats = NodeStats(trend_window_s=10.0)
    processed(stats, (50.0, 999.0))  # before input_started: not part of any window
    stats.input_started(now=100.0)
    processed(stats, (101.0, 10.0), (105.0, 30.0), (109.0, 20.0))  # first window: median 20
    early = stats.snapshot(now=109.5)
    assert math.isnan(early.latency_first_window_p50_ms) and math.isnan(early.latency_trend_percent)

    processed(stats, (115.0, 60.0), (118.0, 40.0), (119.0, 50.0))  # last window (110, 120]: median 50
    snap = stats.snapshot(now=120.0)
    assert snap.latency_first_window_p50_ms == 20.0
    assert snap.latency_last_window_p50_ms == 50.0
    assert snap.latency_trend_percent == 150.0  # (50 - 20) / 20

    # Later: the first window stays, the last one forgets frames older than 10 s.
    processed(stats, (131.0, 15.0))
    later = stats.snapshot(now=140.0)
    assert (later.latency_first_window_p50_ms, later.latency_last_window_p50_ms) == (20.0, 15.0)
    assert later.latency_trend_percent == -25.0


def test_trend_starts_again_when_the_input_starts_again() -> None:
    stats = NodeStats(trend_window_s=10.0)
    stats.input_started(now=0.0)
    processed(stats, (1.0, 100.0), (12.0, 100.0))
    assert stats.snapshot(now=12.0).latency_trend_percent == 0.0
    stats.input_started(now=20.0)  # lifecycle deactivate + activate
    assert math.isnan(stats.snapshot(now=25.0).latency_last_window_p50_ms)
    processed(stats, (21.0, 40.0), (31.0, 60.0))
    snap = stats.snapshot(now=31.0)
    assert (snap.latency_first_window_p50_ms, snap.latency_last_window_p50_ms) == (40.0, 50.0)


def test_the_node_compares_minutes() -> None:
    assert TREND_WINDOW_S == 60.0  # README: "p50 of the last minute vs the first minute"
