"""Benchmark the ROS 2 node over real DDS (loopback) at 640x480: overhead, latency, throughput, memory,
and the per-frame cost of each pipeline step (tracking, outputs, 3D).

    .venv/bin/python benchmarks/bench_node.py [--checkpoint PATH] [--backend auto] [--input-size 128]
        [--fit-aspect] [--overhead-frames 150] [--stream-frames 2000] [--rate 30] [--depth] [--threshold 0.3]
        [--soak MINUTES]

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

`--soak MINUTES` replaces 1-3 with one long stream at --rate: per tenth of the run, end-to-end
latency, the node's receive->publish, inference, the rest of receive->publish (per frame; what a busy
machine changes least), mailbox wait and each step (p50/p95), how far the
publisher ran behind its schedule, and the node's RSS, open file descriptors and threads at the
start (after 100 frames) and the end; `goal` checks the last tenth's latency p50 against the first
tenth's (within 5 %) and RSS / fds / threads.

The recorder file is read incrementally (`RecordTail`): parsing it whole at every poll (as this
benchmark once did, every 0.5 s) costs O(frames so far) per poll; at 28 processed frames a second
that grew to half a CPU core after 4,000 frames, starving the node on a 2-core machine and showing
up as latency creep (see the README, "Long runs").
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
    r"(\d+) persons; steps \(ms\): ([^;\n]*)(?:; stages \(ms\): ([^\n]*))?"
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


def _named_ms(text: str | None) -> dict[str, float]:
    """ "tracking 0.7, detections 1.9" -> {"tracking": 0.7, "detections": 1.9}."""
    out = {}
    for part in (text or "").split(", "):
        if part:
            name, ms = part.rsplit(" ", 1)
            out[name] = float(ms)
    return out


def _frame_lines(log: str) -> list[dict]:
    """The node's per-frame debug lines: frame_id, inference, receive->publish, persons, steps, stages."""
    return [
        dict(
            frame_id=m.group(3),
            inference=float(m.group(4)),
            latency=float(m.group(5)),
            persons=int(m.group(6)),
            steps=_named_ms(m.group(7)),
            stages=_named_ms(m.group(8)),
        )
        for m in FRAME_LINE.finditer(log)
    ]


def _step_times(log: str) -> dict[str, dict[str, float]]:
    """Per step: p50/p95 of its time per frame (ms), from the node's debug lines."""
    times: dict[str, list[float]] = {}
    for line in _frame_lines(log):
        for name, ms in line["steps"].items():
            times.setdefault(name, []).append(ms)
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


def _resources(pid: int) -> dict[str, float]:
    """RSS (MB), open file descriptors and threads of a process (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    return {
        "rss_mb": round(_rss_mb(pid), 1),
        "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())),
        "threads": threads,
    }


class RecordTail:
    """The recorder's JSON lines, read incrementally: each `poll()` parses only the lines written
    since the last one, so polling costs O(new lines), not O(file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self.diagnostics: dict[str, str] = {}  # values of the newest /diagnostics status
        self.detections: list[tuple[str, float]] = []  # (frame_id, receive wall time)

    def poll(self) -> RecordTail:
        if not self.path.exists():
            return self
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written stays for the next poll
        self._offset += len(complete)
        for line in complete.splitlines():
            record = json.loads(line)
            if record["topic"] == "diagnostics":
                self.diagnostics = record["values"]
            elif record["topic"] == "detections":
                self.detections.append((record["frame_id"], record["t_recv"]))
        return self


def _pub_times(path: Path) -> dict[str, float]:
    records = (json.loads(line) for line in path.read_text().splitlines())
    return {record["frame_id"]: record["t_pub"] for record in records}


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


def _stream(env: dict[str, str], tmp: Path, image: np.ndarray, count: int, prefix: str, args) -> tuple:
    """Start a publisher of `count` frames at --rate (stamped when sent); returns (process, times file)."""
    times = tmp / f"times_{prefix}.jsonl"
    plan = _plan(tmp / f"plan_{prefix}.pkl", image, count, prefix, args.depth)
    command = [sys.executable, str(PEER), "publish", str(plan), "--rate", str(args.rate), "--stamp-now"]
    return subprocess.Popen([*command, "--times", str(times)], env=env, stdout=subprocess.DEVNULL), times


def _per_tenth(
    frames: list[str], sent: dict[str, float], received: dict[str, float], lines: dict, rate: float
):
    """Per tenth of the frames sent: latencies, node stages and steps (p50/p95), publisher lag."""
    t0 = sent[frames[0]]
    tenths = []
    for k in range(10):
        part = frames[k * len(frames) // 10 : (k + 1) * len(frames) // 10]
        done = [f for f in part if f in received and f in lines]
        node_lines = [lines[f] for f in done]
        row = {
            "frames_sent": len(part),
            "frames_processed": len(done),
            "end_to_end_ms": _pct([(received[f] - sent[f]) * 1e3 for f in done]),
            "receive_to_publish_ms": _pct([line["latency"] for line in node_lines]),
            "inference_ms": _pct([line["inference"] for line in node_lines]),
            "receive_to_publish_minus_inference_ms": _pct(
                [line["latency"] - line["inference"] for line in node_lines]
            ),
            "publisher_behind_schedule_ms": _pct(
                [(sent[f] - t0 - frames.index(f) / rate) * 1e3 for f in part[:: max(1, len(part) // 200)]]
            ),
        }
        for key in ("stages", "steps"):
            names = dict.fromkeys(name for line in node_lines for name in line[key])
            row[key] = {
                name: _pct([line[key][name] for line in node_lines if name in line[key]]) for name in names
            }
        tenths.append(row)
    return tenths


def _soak(
    args, env: dict[str, str], tmp: Path, image: np.ndarray, pid: int, node_log: Path, tail: RecordTail
):
    count = int(round(args.soak * 60 * args.rate))
    pub, times = _stream(env, tmp, image, count, "soak_", args)
    start = None
    samples = []
    while pub.poll() is None:
        time.sleep(2.0)
        received = int(tail.poll().diagnostics.get("frames_received", 0))
        sample = {"frames_received": received, **_resources(pid)}
        samples.append(sample)
        if start is None and received >= 100:
            start = sample
    time.sleep(3.0)
    end = {"frames_received": int(tail.poll().diagnostics.get("frames_received", 0)), **_resources(pid)}
    sent = _pub_times(times)
    frames = sorted(sent)
    lines = {line["frame_id"]: line for line in _frame_lines(node_log.read_text())}
    tenths = _per_tenth(frames, sent, dict(tail.detections), lines, args.rate)
    first, last = tenths[0], tenths[-1]

    def change(key: str) -> float | None:
        a, b = first[key].get("p50"), last[key].get("p50")
        return round(100 * (b - a) / a, 1) if a and b is not None else None

    start = start or (samples[0] if samples else end)
    return {
        "minutes": args.soak,
        "rate_hz": args.rate,
        "frames_sent": len(sent),
        "frames_processed": len(tail.detections),
        "frames_dropped": int(tail.diagnostics.get("frames_dropped", 0)),
        "resources_start": start,
        "resources_end": end,
        "resources_max": {k: max(s[k] for s in samples) for k in ("rss_mb", "fds", "threads")}
        if samples
        else None,
        "per_tenth": tenths,
        "goal": {
            "end_to_end_p50_last_vs_first_tenth_percent": change("end_to_end_ms"),
            "receive_to_publish_p50_last_vs_first_tenth_percent": change("receive_to_publish_ms"),
            "inference_p50_last_vs_first_tenth_percent": change("inference_ms"),
            "not_inference_p50_last_vs_first_tenth_percent": change("receive_to_publish_minus_inference_ms"),
            "rss_change_percent": round(100 * (end["rss_mb"] - start["rss_mb"]) / start["rss_mb"], 2),
            "fds_change": end["fds"] - start["fds"],
            "threads_change": end["threads"] - start["threads"],
        },
        "node_diagnostics": {k: v for k, v in tail.diagnostics.items() if k.startswith("latency_")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument(
        "--fit-aspect", action="store_true", help="the node's fit_aspect (640x480 at 512: a 512x384 input)"
    )
    parser.add_argument("--overhead-frames", type=int, default=150)
    parser.add_argument("--stream-frames", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--depth", action="store_true", help="use_depth with a 640x480 16UC1 depth stream")
    parser.add_argument("--threshold", type=float, default=0.3, help="the node's score_threshold")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="one long stream instead (see above)")
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
            f"precision:={args.precision}",
            "-p",
            f"input_size:={args.input_size}",
            "-p",
            f"fit_aspect:={str(args.fit_aspect).lower()}",
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
        [sys.executable, str(PEER), "record", str(rec_out), "--topics", "detections,diagnostics", "--brief"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tail = RecordTail(rec_out)
    image = _frame()
    result: dict = {
        "image": f"{image.shape[1]}x{image.shape[0]} bgr8",
        "input_size": args.input_size,
        "fit_aspect": args.fit_aspect,
        "depth": "640x480 16UC1" if args.depth else None,
        "log_dir": str(tmp),
    }
    try:
        deadline = time.monotonic() + 300
        while "ready:" not in node_log.read_text():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node did not start:\n{node_log.read_text()[-2000:]}")
            time.sleep(0.2)
        running = re.search(r" on (\S+) at", node_log.read_text()).group(1)  # backend/precision/device
        result["backend"], result["precision"], result["device"] = running.split("/", 2)
        pid = _node_pid(node.pid)
        if args.soak:
            result["soak"] = _soak(args, env, tmp, image, pid, node_log, tail)
        else:
            _overhead_and_stream(args, env, tmp, image, pid, node_log, tail, result)
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


def _overhead_and_stream(
    args, env, tmp: Path, image: np.ndarray, pid: int, node_log: Path, tail: RecordTail, result
):
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
        stdout=subprocess.DEVNULL,  # the JSON printed at the end is the only output
    )
    time.sleep(1.0)
    lines = {line["frame_id"]: line for line in _frame_lines(node_log.read_text())}
    sent = _pub_times(times1)
    e2e, overhead, node_internal = [], [], []
    for fid, t_recv in tail.poll().detections:
        if fid in sent and fid in lines:
            latency = (t_recv - sent[fid]) * 1e3
            e2e.append(latency)
            overhead.append(latency - lines[fid]["inference"])
            node_internal.append(lines[fid]["latency"] - lines[fid]["inference"])
    result["overhead_run"] = {
        "frames": len(e2e),
        "end_to_end_ms": _pct(e2e),
        "predictor_ms": _pct([lines[f]["inference"] for f in sent if f in lines]),
        "node_overhead_ms": _pct(overhead),
        "of_which_inside_node_ms": _pct(node_internal),
    }

    # 2. stream at --rate: latency, throughput, drops, memory
    before = dict(tail.poll().diagnostics)
    received0 = int(before.get("frames_received", 0))
    pub, times2 = _stream(env, tmp, image, args.stream_frames, "str_", args)
    rss_100 = None
    while pub.poll() is None:
        time.sleep(0.5)
        received = int(tail.poll().diagnostics.get("frames_received", 0)) - received0
        if rss_100 is None and received >= 100:
            rss_100 = _rss_mb(pid)
    time.sleep(3.0)
    after = tail.poll().diagnostics
    rss_end = _rss_mb(pid)
    sent2 = _pub_times(times2)
    stream = [(fid, t) for fid, t in tail.detections if fid.startswith("str_")]
    latency2 = [(t - sent2[fid]) * 1e3 for fid, t in stream if fid in sent2]
    duration = max(sent2.values()) - min(sent2.values())
    frame_lines = _frame_lines(node_log.read_text())
    inference2 = [line["inference"] for line in frame_lines if line["frame_id"].startswith("str_")]
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
    result["persons_per_frame"] = _pct([line["persons"] for line in frame_lines])
    result["step_ms"] = _step_times(node_log.read_text())
    result["node_diagnostics"] = {
        key: value
        for key, value in tail.poll().diagnostics.items()
        if key.startswith(("depth_", "tracks_", "tracking_", "latency_"))
    }


if __name__ == "__main__":
    sys.exit(main())
