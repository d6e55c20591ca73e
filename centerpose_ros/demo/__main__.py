"""`make demo`: the pose node on a bundled clip of pedestrians, over real DDS on loopback.

Starts three processes on a private ROS domain with loopback-only Fast DDS: the node
(`centerpose-ros`), a player publishing the clip as sensor_msgs/Image at its frame rate, and a
recorder writing demo_out/detections.jsonl and demo_out/annotated.mp4. Prints a summary.

    python -m centerpose_ros.demo [--checkpoint PATH] [--out demo_out] [--input-size N] [--loops N] [--depth]

With --depth (Makefile: DEPTH=1) the player also publishes a SYNTHETIC aligned depth image and its
camera_info with every frame (player.py), the node runs with use_depth, and the recorder writes
demo_out/detections_3d.jsonl; the summary adds the 3D counts.

Without --checkpoint (Makefile: CHECKPOINT=...), the node runs seeded RANDOM weights: the
pipeline is real, the skeletons are not.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from centerpose_ros.demo.local_dds import loopback_env, pick_domain_id

CLIP = Path(__file__).resolve().parents[1] / "assets" / "pedestrians_768x576.mp4"
PARAMS_FILE = Path(__file__).resolve().parents[2] / "config" / "pose.yaml"
DEPTH_TOPIC, INFO_TOPIC = "/camera/depth/image_raw", "/camera/depth/camera_info"
RANDOM_WEIGHTS_BANNER = """
################################################################################
#  WARNING: no CHECKPOINT given -- the node runs SEEDED RANDOM WEIGHTS.        #
#  Everything below is real (DDS, node, threading, messages, video), but the   #
#  detected "persons" are meaningless. Use: make demo CHECKPOINT=model.pth     #
################################################################################
"""


def _default_input_size() -> int:
    import torch

    return 512 if torch.cuda.is_available() else 256  # CPU: ~4x faster at 256, still camera-sized input


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(
                f"{log.stem} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}"
            )
        time.sleep(0.1)
    raise RuntimeError(f"{log.stem}: '{text}' not seen within {timeout:.0f} s; see {log}")


def _stop(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m centerpose_ros.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--checkpoint", type=Path, help="model file (default: seeded random weights)")
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument(
        "--input-size", type=int, default=0, help="network input (default 512 on GPU, 256 on CPU)"
    )
    parser.add_argument("--loops", type=int, default=2, help="times the clip is played")
    parser.add_argument("--depth", action="store_true", help="add a synthetic depth stream: 3D output")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in (
        "detections.jsonl",
        "detections_3d.jsonl",
        "annotated.mp4",
        "recorder_summary.json",
        "summary.json",
    ):
        (args.out / stale).unlink(missing_ok=True)

    if args.checkpoint is None:
        print(RANDOM_WEIGHTS_BANNER, flush=True)
        from centerpose_core.model.random_weights import save_random_checkpoint

        model_path = save_random_checkpoint(args.out / "random_weights_seed0.pth", seed=0)
    else:
        model_path = args.checkpoint
        if not model_path.is_file():
            print(f"demo: CHECKPOINT {model_path}: file not found", file=sys.stderr)
            return 2
    input_size = args.input_size or _default_input_size()
    env = loopback_env(pick_domain_id())
    bin_dir = Path(sys.executable).parent
    logs = {name: args.out / f"{name}.log" for name in ("node", "recorder", "player")}
    print(
        f"demo: ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, DDS on loopback only; model {model_path}, "
        f"input {input_size}px; logs in {args.out}/",
        flush=True,
    )

    depth_args = [
        "-p",
        "use_depth:=true",
        "-r",
        f"depth/image:={DEPTH_TOPIC}",
        "-r",
        f"depth/camera_info:={INFO_TOPIC}",
    ]
    procs: list[subprocess.Popen] = []
    try:
        node = _start(
            [
                str(bin_dir / "centerpose-ros"),
                "--ros-args",
                "--params-file",
                str(PARAMS_FILE),
                "-p",
                f"model_path:={model_path}",
                "-p",
                f"input_size:={input_size}",
                "-p",
                "score_threshold:=0.3",
                "-r",
                "image:=/camera/image_raw",
                *(depth_args if args.depth else []),
            ],
            env,
            logs["node"],
        )
        procs.append(node)
        _wait_for(logs["node"], "ready:", node, timeout=300)
        recorder = _start(
            [
                sys.executable,
                "-m",
                "centerpose_ros.demo.recorder",
                "--out",
                str(args.out),
                *(["--depth"] if args.depth else []),
            ],
            env,
            logs["recorder"],
        )
        procs.append(recorder)
        _wait_for(logs["recorder"], "recorder: ready", recorder, timeout=120)
        player = _start(
            [
                sys.executable,
                "-m",
                "centerpose_ros.demo.player",
                str(CLIP),
                "--topic",
                "/camera/image_raw",
                "--loops",
                str(args.loops),
                *(["--depth-topic", DEPTH_TOPIC, "--info-topic", INFO_TOPIC] if args.depth else []),
            ],
            env,
            logs["player"],
        )
        procs.append(player)
        print("demo: playing the clip ...", flush=True)
        if player.wait(600) != 0:
            raise RuntimeError(f"player failed:\n{logs['player'].read_text()}")
        time.sleep(3.0)  # the frame in flight, then one more /diagnostics period
        _stop(recorder)
        node_rc = _stop(node)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in procs:
            _stop(proc, timeout=10)

    summary = _summary(args.out, logs["player"].read_text(), node_rc, args.depth)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(_format_summary(summary, args.out), flush=True)
    return 0 if summary["node_exit_code"] == 0 and summary["frames_processed"] > 0 else 1


def _summary(out: Path, player_log: str, node_rc: int, depth: bool) -> dict:
    recorder = json.loads((out / "recorder_summary.json").read_text())
    diagnostics = recorder["node_diagnostics"]
    records = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    latencies = np.array([r["t_recv"] - (r["stamp"][0] + r["stamp"][1] * 1e-9) for r in records]) * 1e3
    sent = int(player_log.split("sent ")[1].split()[0]) if "sent " in player_log else -1
    persons = [len(r["persons"]) for r in records]
    tracked = [p["id"] for r in records for p in r["persons"] if p["id"] >= 0]
    summary = {
        "frames_sent": sent,
        "frames_received_by_node": int(diagnostics.get("frames_received", -1)),
        "frames_processed": len(records),
        "frames_dropped": int(diagnostics.get("frames_dropped", -1)),
        "annotated_frames": recorder["annotated_frames"],
        "persons_per_frame_mean": float(np.mean(persons)) if persons else 0.0,
        "persons_with_track_id_percent": 100.0 * len(tracked) / max(sum(persons), 1),
        "track_ids": len(set(tracked)),
        "end_to_end_latency_ms_p50": float(np.percentile(latencies, 50)) if len(latencies) else None,
        "end_to_end_latency_ms_p95": float(np.percentile(latencies, 95)) if len(latencies) else None,
        "node_latency_ms_p50": diagnostics.get("latency_p50_ms"),
        "node_latency_ms_p95": diagnostics.get("latency_p95_ms"),
        "inference_ms_p50": diagnostics.get("inference_p50_ms"),
        "node_exit_code": node_rc,
    }
    if depth:
        summary.update(_summary_3d(out, diagnostics))
    return summary


def _summary_3d(out: Path, diagnostics: dict) -> dict:
    records = [json.loads(line) for line in (out / "detections_3d.jsonl").read_text().splitlines()]
    positions = np.array([p["position"] for r in records for p in r["persons"]], dtype=np.float64).reshape(
        -1, 3
    )
    known = positions[np.all(np.isfinite(positions), axis=1)]
    return {
        "frames_with_3d": len(records),
        "depth_paired": diagnostics.get("depth_paired"),
        "depth_unpaired": diagnostics.get("depth_unpaired"),
        "persons_3d": len(positions),
        "persons_3d_with_position": len(known),
        "position_distance_m_median": float(np.median(np.linalg.norm(known, axis=1))) if len(known) else None,
        "step_depth_p50_ms": diagnostics.get("step_depth_p50_ms"),
        "step_tracking_p50_ms": diagnostics.get("step_tracking_p50_ms"),
    }


def _format_summary(s: dict, out: Path) -> str:
    def ms(value: object) -> str:
        return "n/a" if value is None else f"{float(value):.0f} ms"

    text = (
        f"\ndemo summary\n"
        f"  frames in:  sent {s['frames_sent']}, received by the node {s['frames_received_by_node']}\n"
        f"  frames out: processed {s['frames_processed']}, "
        f"dropped (stale, replaced by newer) {s['frames_dropped']}, "
        f"annotated {s['annotated_frames']}\n"
        f"  latency publish -> /pose/detections received: p50 {ms(s['end_to_end_latency_ms_p50'])}, "
        f"p95 {ms(s['end_to_end_latency_ms_p95'])} (inference p50 {ms(s['inference_ms_p50'])})\n"
        f"  persons per frame (mean): {s['persons_per_frame_mean']:.1f}, "
        f"{s['persons_with_track_id_percent']:.0f}% with a track id ({s['track_ids']} ids)\n"
    )
    if "frames_with_3d" in s:
        distance = s["position_distance_m_median"]
        text += (
            f"  3D (synthetic depth): {s['frames_with_3d']} frames on /pose/detections_3d "
            f"(paired {s['depth_paired']}, unpaired {s['depth_unpaired']}), "
            f"{s['persons_3d_with_position']} of {s['persons_3d']} persons with a position (median distance "
            f"{'n/a' if distance is None else f'{distance:.2f} m'}); "
            f"step cost p50: 3D {s['step_depth_p50_ms']} ms, tracking {s['step_tracking_p50_ms']} ms\n"
        )
        text += f"  outputs: {out / 'detections.jsonl'}, {out / 'detections_3d.jsonl'}, "
    else:
        text += f"  outputs: {out / 'detections.jsonl'}, "
    return text + f"{out / 'annotated.mp4'}, {out / 'summary.json'}\n"


if __name__ == "__main__":
    sys.exit(main())
