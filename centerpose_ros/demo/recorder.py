"""Record the pose node's output: /pose/detections -> JSON lines, /pose/image_annotated -> MP4.

    python -m centerpose_ros.demo.recorder --out demo_out [--fps 10] [--depth]

Writes OUT/detections.jsonl (one PersonPoseArray per line as in `msg_to_dict`, plus the
receive wall time `t_recv`), OUT/annotated.mp4, with --depth OUT/detections_3d.jsonl (one
PersonPose3DArray per line as in `msg3d_to_dict`; NaN where a value is unknown), and on exit
(SIGINT/SIGTERM) OUT/recorder_summary.json with the message counts and the node's last
/diagnostics values.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from centerpose_msgs.msg import PersonPose3DArray, PersonPoseArray
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from centerpose_ros.conversions.image import ImageConversionError, image_to_bgr
from centerpose_ros.conversions.messages import msg_to_dict
from centerpose_ros.conversions.messages_3d import msg3d_to_dict


class Recorder:
    def __init__(self, node: Node, out: Path, fps: float, depth: bool = False) -> None:
        self.out, self.fps = out, fps
        self.detections_file = open(out / "detections.jsonl", "w", buffering=1)  # noqa: SIM115 - closed in close()
        self.detections_3d_file = open(out / "detections_3d.jsonl", "w", buffering=1) if depth else None  # noqa: SIM115
        self.video: cv2.VideoWriter | None = None
        self.video_size: tuple[int, int] | None = None
        self.detections = self.annotated = self.detections_3d = 0
        self.diagnostics: dict[str, str] = {}
        self.lock = threading.Lock()
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(PersonPoseArray, "/pose/detections", self.on_detections, reliable)
        node.create_subscription(Image, "/pose/image_annotated", self.on_annotated, QoSProfile(depth=5))
        node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, reliable)
        if depth:
            node.create_subscription(
                PersonPose3DArray, "/pose/detections_3d", self.on_detections_3d, reliable
            )

    def on_detections(self, msg: PersonPoseArray) -> None:
        record = msg_to_dict(msg)
        record["t_recv"] = time.time()
        with self.lock:
            self.detections_file.write(json.dumps(record) + "\n")
            self.detections += 1

    def on_detections_3d(self, msg: PersonPose3DArray) -> None:
        record = msg3d_to_dict(msg)
        record["t_recv"] = time.time()
        with self.lock:
            self.detections_3d_file.write(json.dumps(record) + "\n")
            self.detections_3d += 1

    def on_annotated(self, msg: Image) -> None:
        try:
            frame = image_to_bgr(msg)
        except ImageConversionError as exc:
            print(f"recorder: skipped an annotated image: {exc}", file=sys.stderr)
            return
        with self.lock:
            if self.video is None:
                self.video_size = (frame.shape[1], frame.shape[0])
                path = str(self.out / "annotated.mp4")
                self.video = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.video_size)
            if (frame.shape[1], frame.shape[0]) != self.video_size:
                frame = cv2.resize(frame, self.video_size)
            self.video.write(np.ascontiguousarray(frame))
            self.annotated += 1

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "pose estimation" in status.name:
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def close(self) -> dict[str, Any]:
        with self.lock:
            self.detections_file.close()
            if self.detections_3d_file is not None:
                self.detections_3d_file.close()
            if self.video is not None:
                self.video.release()
            summary = {
                "detections": self.detections,
                "detections_3d": self.detections_3d,
                "annotated_frames": self.annotated,
                "node_diagnostics": self.diagnostics,
            }
        (self.out / "recorder_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate written into annotated.mp4")
    parser.add_argument("--depth", action="store_true", help="also record /pose/detections_3d")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    rclpy.init()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = Node("pose_recorder")
    recorder = Recorder(node, args.out, args.fps, depth=args.depth)
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    ready = False
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)
            if not ready and node.count_publishers("/pose/detections") > 0:
                ready = True
                print("recorder: ready", flush=True)
    finally:
        summary = recorder.close()
        print(
            f"recorder: {summary['detections']} detection messages, {summary['annotated_frames']} annotated "
            f"frames -> {args.out}",
            flush=True,
        )
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
