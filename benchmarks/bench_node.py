"""Benchmark the ROS 2 node over real DDS (loopback) at 640x480: overhead, latency, throughput, memory,
and the per-frame cost of each pipeline step (tracking, outputs, 3D).

    .venv/bin/python benchmarks/bench_node.py [--checkpoint PATH] [--backend auto] [--input-size 128]
        [--overhead-frames 150] [--stream-frames 2000] [--rate 30] [--depth] [--threshold 0.3]

Three processes, as in the tests: a publisher (tests/ros/peer.py publish), the node
(`centerpose-ros`, per-frame timings at debug level) and a recorder (tests/ros/peer.py record).

1. Node overhead: frames sent one at a time (each after the previous answer, so nothing waits in
   the node): overhead = (publish -> /pose/detections received) - the Predictor's time for that
   frame (from the node's debug log), p50/p95.
2. Stream: frames at --rate Hz (default 30, faster than one inference here): latency of processed
   frames p50/p95 vs one inference, throughput (processed frames per second), drops, and the
   node's RSS after 100 and after all frames received (/proc/PID/status VmRSS).
3. Steps: the node's own time per frame in each step after inference (its debug line per frame:
   tracking, detections, markers, annotated, and with --depth the 3D step), p50/p95 over both runs.
   With --depth every colour frame comes with a 640x480 16UC1 depth image of the same stamp (a
   floor-like ramp) and the depth camera_info, and the node runs with use_depth.
Prints one JSON object. Without --checkpoint, seeded random weights (same cost as real ones);
tracking is on (the default); --threshold sets score_threshold (more persons: more tracking work).
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from centerpose_ros.demo.local_dds import loopback_env, pick_domain_id  # noqa: E402

PEER = REPO / "tests" / "ros" / "peer.py"
FRAME_LINE = re.compile(
    r"frame (\d+)\.(\d{9}) '([^']*)': inference ([\d.]+) ms, receive->publish ([\d.]+) ms, "
    r"(\d+) persons; steps \(ms\): ([^\n]*)"
)
DEPTH_FRAME = "camera_depth_optical"
K_640 = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]  # a RealSense-like 640x480 K


def _frame(width: int = 640, height: int = 480) -> np.ndarray:
    photo = Path("/work/shared/data/media/basketball1.png")  # a real 640x480 photo when present
    if photo.is_file():
        import cv2

        image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        if image is not None and image.shape[:2] == (height, width):
            return image
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _ramp_depth(width: int = 640, height: int = 480) -> np.ndarray:
    """16UC1 millimetres: 8 m at the top row to 1.5 m at the bottom (a floor seen from above)."""
    rows = np.linspace(8000, 1500, height, dtype=np.float64)
    return np.repeat(rows[:, None], width, axis=1).astype("<u2")


def _plan(path: Path, image: np.ndarray, count: int, prefix: str, depth: bool) -> Path:
    """Colour frames (stamped when sent); with `depth`, each preceded by its depth image (also
    stamped when sent, a fraction of a millisecond earlier: well within depth_sync_tolerance)."""
    h, w = image.shape[:2]
    entry = dict(type="raw", height=h, width=w, encoding="bgr8", step=w * 3, data=image.tobytes())
    plan = []
    if depth:
        ramp = _ramp_depth(w, h)
        plan.append(
            dict(type="camera_info", k=K_640, width=w, height=h, frame_id=DEPTH_FRAME, sleep_after=0.5)
        )
        depth_entry = dict(
            type="depth",
            height=h,
            width=w,
            encoding="16UC1",
            step=w * 2,
            data=ramp.tobytes(),
            frame_id=DEPTH_FRAME,
        )
    for i in range(count):
        if depth:
            plan.append(depth_entry)
        plan.append(dict(entry, frame_id=f"{prefix}{i:05d}"))
    with open(path, "wb") as f:
        pickle.dump(plan, f)
    return path


def _step_times(log: str) -> dict[str, dict[str, float]]:
    """Per step: p50/p95 of its time per frame (ms), from the node's debug lines."""
    times: dict[str, list[float]] = {}
    for match in FRAME_LINE.finditer(log):
        for part in match.group(7).split(", "):
            name, ms = part.rsplit(" ", 1)
            times.setdefault(name, []).append(float(ms))
    return {name: _pct(values) for name, values in times.items()}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _node_pid(popen_pid: int) -> int:
    """The Python process running the node (the ROS wheels' bootstrap may re-exec or spawn once)."""
    children = Path(f"/proc/{popen_pid}/task/{popen_pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return int(kids[0]) if kids else popen_pid


def _records(path: Path, topic: str) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        if record["topic"] == topic:
            out.append(record)
    return out


def _diagnostics(path: Path) -> dict[str, str]:
    records = _records(path, "diagnostics")
    return records[-1]["values"] if records else {}


def _pub_times(path: Path) -> dict[str, float]:
    return {json.loads(line)["frame_id"]: json.loads(line)["t_pub"] for line in path.read_text().splitlines()}


def _pct(values: list[float] | np.ndarray) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return (
        {
            "p50": round(float(np.percentile(arr, 50)), 2),
            "p95": round(float(np.percentile(arr, 95)), 2),
            "n": int(arr.size),
        }
        if arr.size
        else {"n": 0}
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--overhead-frames", type=int, default=150)
    parser.add_argument("--stream-frames", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--depth", action="store_true", help="use_depth with a 640x480 16UC1 depth stream")
    parser.add_argument("--threshold", type=float, default=0.3, help="the node's score_threshold")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_node_"))
    if args.checkpoint is None:
        from centerpose_core.model.random_weights import save_random_checkpoint

        args.checkpoint = save_random_checkpoint(tmp / "random_seed0.pth")
    env = loopback_env(pick_domain_id())
    exe = Path(sys.executable).parent / "centerpose-ros"
    node_log, rec_out = tmp / "node.log", tmp / "records.jsonl"
    node = subprocess.Popen(
        [
            str(exe),
            "--ros-args",
            "--params-file",
            str(REPO / "config" / "pose.yaml"),
            "-p",
            f"model_path:={args.checkpoint}",
            "-p",
            f"backend:={args.backend}",
            "-p",
            f"input_size:={args.input_size}",
            "-p",
            f"score_threshold:={args.threshold}",
            "-p",
            f"use_depth:={str(args.depth).lower()}",
            "--log-level",
            "centerpose:=debug",
        ],
        env=env,
        stdout=open(node_log, "w"),  # noqa: SIM115 - the child owns it
        stderr=subprocess.STDOUT,
    )
    recorder = subprocess.Popen(
        [sys.executable, str(PEER), "record", str(rec_out), "--topics", "detections,diagnostics"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    image = _frame()
    result: dict = {
        "image": f"{image.shape[1]}x{image.shape[0]} bgr8",
        "input_size": args.input_size,
        "depth": "640x480 16UC1" if args.depth else None,
    }
    try:
        deadline = time.monotonic() + 300
        while "ready:" not in node_log.read_text():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node did not start:\n{node_log.read_text()[-2000:]}")
            time.sleep(0.2)
        result["backend"] = re.search(r" on (\S+) at", node_log.read_text()).group(1)
        pid = _node_pid(node.pid)

        # 1. overhead, one frame at a time
        times1 = tmp / "times1.jsonl"
        subprocess.run(
            [
                sys.executable,
                str(PEER),
                "publish",
                str(_plan(tmp / "p1.pkl", image, args.overhead_frames, "ovh_", args.depth)),
                "--lockstep",
                "--stamp-now",
                "--times",
                str(times1),
            ],
            env=env,
            check=True,
            timeout=3600,
        )
        time.sleep(1.0)
        inference = {(m.group(3)): float(m.group(4)) for m in FRAME_LINE.finditer(node_log.read_text())}
        internal = {(m.group(3)): float(m.group(5)) for m in FRAME_LINE.finditer(node_log.read_text())}
        sent = _pub_times(times1)
        e2e, overhead, node_internal = [], [], []
        for rec in _records(rec_out, "detections"):
            fid = rec["frame_id"]
            if fid in sent and fid in inference:
                latency = (rec["t_recv"] - sent[fid]) * 1e3
                e2e.append(latency)
                overhead.append(latency - inference[fid])
                node_internal.append(internal[fid] - inference[fid])
        result["overhead_run"] = {
            "frames": len(e2e),
            "end_to_end_ms": _pct(e2e),
            "predictor_ms": _pct([inference[f] for f in sent if f in inference]),
            "node_overhead_ms": _pct(overhead),
            "of_which_inside_node_ms": _pct(node_internal),
        }

        # 2. stream at --rate: latency, throughput, drops, memory
        before = _diagnostics(rec_out)
        received0 = int(before.get("frames_received", 0))
        times2 = tmp / "times2.jsonl"
        pub = subprocess.Popen(
            [
                sys.executable,
                str(PEER),
                "publish",
                str(_plan(tmp / "p2.pkl", image, args.stream_frames, "str_", args.depth)),
                "--rate",
                str(args.rate),
                "--stamp-now",
                "--times",
                str(times2),
            ],
            env=env,
        )
        rss_100 = None
        rss_samples = []
        while pub.poll() is None:
            time.sleep(0.5)
            diag = _diagnostics(rec_out)
            received = int(diag.get("frames_received", 0)) - received0
            rss_samples.append((received, _rss_mb(pid)))
            if rss_100 is None and received >= 100:
                rss_100 = rss_samples[-1][1]
        time.sleep(3.0)
        after = _diagnostics(rec_out)
        rss_end = _rss_mb(pid)
        sent2 = _pub_times(times2)
        stream = [r for r in _records(rec_out, "detections") if r["frame_id"].startswith("str_")]
        latency2 = [(r["t_recv"] - sent2[r["frame_id"]]) * 1e3 for r in stream if r["frame_id"] in sent2]
        duration = max(sent2.values()) - min(sent2.values())
        inference2 = [
            inference_ms
            for fid, inference_ms in (
                (m.group(3), float(m.group(4))) for m in FRAME_LINE.finditer(node_log.read_text())
            )
            if fid.startswith("str_")
        ]
        result["stream_run"] = {
            "rate_hz": args.rate,
            "frames_sent": len(sent2),
            "frames_received_by_node": int(after.get("frames_received", 0)) - received0,
            "frames_processed": len(stream),
            "frames_dropped": int(after.get("frames_dropped", 0)) - int(before.get("frames_dropped", 0)),
            "throughput_hz": round(len(stream) / duration, 2) if duration > 0 else None,
            "end_to_end_ms": _pct(latency2),
            "predictor_ms": _pct(inference2),
            "latency_p95_over_inference_p50": round(
                float(np.percentile(latency2, 95) / np.percentile(inference2, 50)), 2
            )
            if latency2
            else None,
            "first_third_latency_p50_ms": _pct(latency2[: len(latency2) // 3]).get("p50"),
            "last_third_latency_p50_ms": _pct(latency2[-(len(latency2) // 3) :]).get("p50"),
            "rss_mb_after_100_frames": None if rss_100 is None else round(rss_100, 1),
            "rss_mb_after_all_frames": round(rss_end, 1),
            "rss_growth_percent": None if rss_100 is None else round(100 * (rss_end - rss_100) / rss_100, 2),
        }
        log = node_log.read_text()
        result["persons_per_frame"] = _pct([int(m.group(6)) for m in FRAME_LINE.finditer(log)])
        result["step_ms"] = _step_times(log)
        diagnostics = _diagnostics(rec_out)
        result["node_diagnostics"] = {
            key: value
            for key, value in diagnostics.items()
            if key.startswith(("depth_", "tracks_", "tracking_"))
        }
    finally:
        for proc in (recorder, node):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    result["node_exit_code"] = node.returncode
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
