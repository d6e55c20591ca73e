"""`centerpose track`: persons with track ids through a video or an image folder, as JSON lines.

Each frame is predicted, thresholded (`--threshold`, `--max-persons`) and passed to one
`PoseTracker`, exactly as the ROS node does per processed frame. The stamp of frame i is
i / fps (the video's frame rate, or `--fps`), so tracking ages by time as on a robot.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np

from centerpose_core.commands.common import add_model_arguments, build_predictor, check_model_arguments
from centerpose_core.image_io import IMAGE_SUFFIXES, read_image
from centerpose_core.tracking.config import TrackerConfig

FOLDER_FPS = 10.0
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, random_weights=True)
    parser.add_argument("--threshold", type=float, default=0.3, help="minimum person score before tracking")
    parser.add_argument("--max-persons", type=int, default=20, help="at most this many persons per frame")
    parser.add_argument(
        "--jsonl", type=Path, required=True, help="write one JSON line per frame here ('-': stdout)"
    )
    parser.add_argument(
        "--draw", type=Path, help="write an annotated video (.mp4 or .avi), persons coloured by id"
    )
    parser.add_argument(
        "--keypoint-threshold", type=float, default=0.1, help="minimum keypoint score to draw a joint"
    )
    parser.add_argument(
        "--fps",
        type=float,
        help=f"frame rate for the stamps (default: the video's; {FOLDER_FPS:g} for a folder)",
    )
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    group = parser.add_argument_group(
        "tracking (TrackerConfig; YAML keys and ROS parameters use underscores)"
    )
    descriptions = TrackerConfig.describe()
    for f in fields(TrackerConfig):
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=type(f.default),
            default=f.default,
            metavar="N" if isinstance(f.default, int) else "X",
            help=f"{descriptions[f.name]} (default {f.default})",
        )
    parser.add_argument("source", type=Path, metavar="VIDEO_OR_FOLDER")


def open_frames(
    source: Path, fps: float | None, max_frames: int | None
) -> tuple[float, Iterator[tuple[int, str | None, np.ndarray]]]:
    """The frame rate and an iterator of `(index, image name or None, BGR image)`.

    A folder yields its image files in name order; anything else is opened as a video. Fails
    here, before any model is loaded, on a missing, empty or unreadable source.
    """
    import cv2

    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"--fps must be a positive number, got {fps}")
    limit = max_frames if max_frames is not None else sys.maxsize
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{source}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")

        def images() -> Iterator[tuple[int, str | None, np.ndarray]]:
            for index, path in enumerate(files[:limit]):
                yield index, path.name, read_image(path)

        return fps or FOLDER_FPS, images()
    if not source.exists():
        raise FileNotFoundError(f"{source}: video or image folder not found")
    capture = cv2.VideoCapture(str(source))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        capture.release()
        raise ValueError(f"{source}: video could not be opened or has no frames")
    video_fps = capture.get(cv2.CAP_PROP_FPS)
    if fps is None and not (math.isfinite(video_fps) and video_fps > 0):
        capture.release()
        raise ValueError(f"{source}: the video has no frame rate; give --fps")

    def frames() -> Iterator[tuple[int, str | None, np.ndarray]]:
        try:
            image, index = first, 0
            while index < limit:
                yield index, None, image
                ok, image = capture.read()
                if not ok:
                    return
                index += 1
        finally:
            capture.release()

    return fps or float(video_fps), frames()


class _VideoOut:
    """An annotated video of frames of one size; opened on the first frame."""

    def __init__(self, path: Path, fps: float) -> None:
        codec = VIDEO_CODECS.get(path.suffix.lower())
        if codec is None:
            raise ValueError(f"--draw {path}: use a .mp4 or .avi file name")
        self.path, self.fps, self.codec = path, fps, codec
        self.writer = None
        self.size: tuple[int, int] | None = None

    def write(self, image: np.ndarray, name: str) -> None:
        import cv2

        size = (image.shape[1], image.shape[0])
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), self.fps, size)
            if not self.writer.isOpened():
                raise ValueError(f"--draw {self.path}: OpenCV cannot write this video")
            self.size = size
        elif size != self.size:
            raise ValueError(f"{name}: frame size {size} differs from the first frame's {self.size} (--draw)")
        self.writer.write(image)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def run(args: argparse.Namespace) -> int:
    from centerpose_core.tracking import PoseTracker
    from centerpose_core.viz import draw_persons

    check_model_arguments(args)
    if args.max_persons <= 0:
        raise ValueError(f"--max-persons must be positive, got {args.max_persons}")
    if args.max_frames is not None and args.max_frames <= 0:
        raise ValueError(f"--max-frames must be positive, got {args.max_frames}")
    tracker = PoseTracker(
        TrackerConfig.from_mapping({f.name: getattr(args, f.name) for f in fields(TrackerConfig)})
    )
    fps, frames = open_frames(args.source, args.fps, args.max_frames)
    video = _VideoOut(args.draw, fps) if args.draw is not None else None
    predictor = build_predictor(args)
    print(f"running {predictor.describe()}", file=sys.stderr)
    to_stdout = str(args.jsonl) == "-"
    if not to_stdout:
        args.jsonl.parent.mkdir(parents=True, exist_ok=True)
    out = sys.stdout if to_stdout else args.jsonl.open("w")
    count, ids = 0, set()
    try:
        for index, name, image in frames:
            stamp = index / fps
            persons = predictor.predict(image, threshold=args.threshold, max_persons=args.max_persons)
            persons = tracker.update(persons, stamp)
            line: dict = {"frame": index, "stamp": round(stamp, 6)}
            if name is not None:
                line["image"] = name
            line["persons"] = [p.to_json(with_id=True) for p in persons]
            out.write(json.dumps(line) + "\n")
            out.flush()
            if video is not None:
                label = name or f"{args.source} frame {index}"
                video.write(
                    draw_persons(
                        image, persons, keypoint_threshold=args.keypoint_threshold, colour_by_id=True
                    ),
                    label,
                )
            ids.update(p.id for p in persons if p.id >= 0)
            count += 1
    finally:
        if video is not None:
            video.close()
        if not to_stdout:
            out.close()
    print(f"{args.source}: {count} frame(s) at {fps:g} fps, {len(ids)} track id(s)", file=sys.stderr)
    return 0
