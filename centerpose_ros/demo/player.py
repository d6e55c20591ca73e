"""Play a video file as a camera: sensor_msgs/Image (bgr8) at the video's frame rate.

    python -m centerpose_ros.demo.player VIDEO [--topic image] [--frame-id camera] [--rate HZ] [--loops N]
        [--depth-topic depth/image --info-topic depth/camera_info]

Frames are stamped with the wall clock when sent, so a subscriber can measure end-to-end
latency. Publishing starts once a subscriber has matched (the pose node subscribes only after
its model is loaded), so no frame is sent into the void.

With --depth-topic, each frame also gets a SYNTHETIC aligned depth image of the same stamp (16UC1
millimetres at half the video's resolution, as a RealSense publishes it; a floor-like ramp: 12 m
at the top row to 3 m at the bottom, as seen by a camera looking down a street) and its
CameraInfo (a 60 degree horizontal field of view). Depth this fake shows the 3D pipeline working,
not where the people really are.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from centerpose_core.geometry import PinholeIntrinsics
from centerpose_ros.conversions.depth import depth_image_to_msg, intrinsics_to_camera_info
from centerpose_ros.conversions.image import bgr_to_image_msg

DEPTH_FRAME_ID = "camera_depth_optical_frame"

CAMERA_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


def read_frames(path: Path) -> tuple[list, float]:
    """All frames of a (short) video and its frame rate; raises ValueError naming the file."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"{path}: cannot open video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    if not frames:
        raise ValueError(f"{path}: no frames could be decoded")
    return frames, float(fps)


def synthetic_depth(width: int, height: int) -> tuple[np.ndarray, PinholeIntrinsics]:
    """A (height, width) 16UC1 ramp (12 m top row -> 3 m bottom row) and its 60 degree-FOV intrinsics."""
    rows = np.linspace(12000, 3000, height)
    depth = np.repeat(rows[:, None], width, axis=1).astype(np.uint16)
    focal = (width / 2) / np.tan(np.radians(30))
    intrinsics = PinholeIntrinsics(
        fx=float(focal), fy=float(focal), cx=(width - 1) / 2, cy=(height - 1) / 2, width=width, height=height
    )
    return depth, intrinsics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--topic", default="image")
    parser.add_argument("--frame-id", default="camera")
    parser.add_argument("--rate", type=float, default=0.0, help="frames per second (default: the video's)")
    parser.add_argument("--loops", type=int, default=1)
    parser.add_argument("--wait-timeout", type=float, default=120.0, help="seconds to wait for a subscriber")
    parser.add_argument("--depth-topic", help="also publish a synthetic aligned depth image here")
    parser.add_argument(
        "--info-topic", default="depth/camera_info", help="its CameraInfo (with --depth-topic)"
    )
    args = parser.parse_args(argv)
    try:
        frames, fps = read_frames(args.video)
    except ValueError as exc:
        print(f"player: {exc}", file=sys.stderr)
        return 2
    rate = args.rate or fps

    rclpy.init()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = Node("clip_player")
    publisher = node.create_publisher(Image, args.topic, CAMERA_QOS)
    depth_out = None
    if args.depth_topic:
        height, width = frames[0].shape[:2]
        depth, intrinsics = synthetic_depth(width // 2, height // 2)
        depth_out = (
            node.create_publisher(Image, args.depth_topic, CAMERA_QOS),
            node.create_publisher(CameraInfo, args.info_topic, CAMERA_QOS),
        )
    try:
        deadline = time.monotonic() + args.wait_timeout
        while publisher.get_subscription_count() == 0 and not stop.is_set():
            if time.monotonic() > deadline:
                print(
                    f"player: nobody subscribed to '{publisher.topic_name}' within {args.wait_timeout} s",
                    file=sys.stderr,
                )
                return 3
            time.sleep(0.05)
        time.sleep(0.3)
        sent = 0
        start = time.monotonic()
        for index in range(len(frames) * args.loops):
            if stop.is_set():
                break
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            header = Header(stamp=node.get_clock().now().to_msg(), frame_id=args.frame_id)
            if depth_out is not None:  # depth first: drivers publish both stamps within milliseconds
                depth_header = Header(stamp=header.stamp, frame_id=DEPTH_FRAME_ID)
                depth_out[1].publish(intrinsics_to_camera_info(intrinsics, depth_header))
                depth_out[0].publish(depth_image_to_msg(depth, "16UC1", depth_header))
            publisher.publish(bgr_to_image_msg(frames[index % len(frames)], header))
            sent += 1
        time.sleep(0.5)  # let reliable delivery of the last frames complete
        print(
            f"player: sent {sent} frames of {args.video.name} at {rate:g} Hz to '{publisher.topic_name}'",
            flush=True,
        )
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
