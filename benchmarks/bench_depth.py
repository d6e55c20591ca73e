"""Per-frame cost of the 3D step: 2D persons + an aligned 640x480 depth image -> 3D persons.

    .venv/bin/python benchmarks/bench_depth.py [--persons 20] [--runs 500] [--width 640] [--height 480]

A synthetic scene: a wall at 5 m, `--persons` people (rectangles at 1.5-4.5 m with 3% of pixels
missing), each with 17 keypoints and a box in a realistic layout, and a RealSense-like K. Times
(median and p95 in ms, after warm-up), per encoding (16UC1, 32FC1):
- lift: centerpose_core.geometry.lift_persons for all persons (the step the node runs per frame);
- lift_masks: the same for persons with masks (a mask model: positions from the median depth under
  each mask; here each person's mask is its whole rectangle, the worst case);
- decode_full: decoding the whole image to metres (not on the node's path; for comparison);
- from_msg: sensor_msgs/Image -> DepthImage (centerpose_ros.conversions.depth), when ROS is importable;
- to_msg, to_markers: PersonPose3DArray and 3D MarkerArray construction, when ROS is importable.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from centerpose_core.geometry import (  # noqa: E402
    DepthImage,
    DepthLiftConfig,
    PinholeIntrinsics,
    decode_depth,
    lift_persons,
)
from centerpose_core.types import Person  # noqa: E402

# A standing person in a unit box (x, y in [0, 1]), COCO order.
_UNIT_POSE = np.array(
    [
        (0.50, 0.08), (0.45, 0.06), (0.55, 0.06), (0.40, 0.08), (0.60, 0.08),
        (0.30, 0.22), (0.70, 0.22), (0.22, 0.38), (0.78, 0.38), (0.18, 0.52), (0.82, 0.52),
        (0.36, 0.55), (0.64, 0.55), (0.38, 0.75), (0.62, 0.75), (0.38, 0.95), (0.62, 0.95),
    ]
)  # fmt: skip


def _scene(persons: int, width: int, height: int) -> tuple[np.ndarray, list[Person]]:
    rng = np.random.default_rng(0)
    depth_mm = np.full((height, width), 5000, np.uint16)
    result = []
    for _ in range(persons):
        z = rng.uniform(1.5, 4.5)
        box_h = min(height * 0.95, 600.0 * 1.7 / z)  # a 1.7 m person seen with fx ~600
        box_w = box_h * 0.4
        x0 = rng.uniform(0, width - box_w)
        y0 = rng.uniform(0, height - box_h)
        region = depth_mm[int(y0) : int(y0 + box_h), int(x0) : int(x0 + box_w)]
        np.minimum(region, np.uint16(z * 1000), out=region)
        keypoints = np.empty((17, 3), np.float32)
        keypoints[:, 0] = x0 + _UNIT_POSE[:, 0] * box_w
        keypoints[:, 1] = y0 + _UNIT_POSE[:, 1] * box_h
        keypoints[:, 2] = rng.uniform(0.05, 0.9, 17)
        box = np.array([x0, y0, x0 + box_w, y0 + box_h], np.float32)
        result.append(Person(score=float(rng.uniform(0.3, 0.9)), bbox=box, keypoints=keypoints))
    depth_mm[rng.random((height, width)) < 0.03] = 0
    return depth_mm, result


def _with_box_masks(persons: list[Person], size: tuple[int, int]) -> list[Person]:
    """The persons with their rectangles as masks (and mask boxes), as a mask model would give them."""
    out = []
    for person in persons:
        x0, y0, x1, y1 = (int(v) for v in person.bbox)
        mask = np.zeros((size[1], size[0]), bool)
        mask[y0:y1, x0:x1] = True
        out.append(replace(person, mask=mask, mask_box=(x0, y0, x1, y1)))
    return out


def _time(fn: Callable[[], object], runs: int) -> dict[str, float]:
    for _ in range(min(20, runs)):
        fn()
    samples = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples[i] = (time.perf_counter_ns() - start) / 1e6
    return {
        "median_ms": round(float(np.median(samples)), 4),
        "p95_ms": round(float(np.percentile(samples, 95)), 4),
    }


def _bench_encoding(
    values: np.ndarray, encoding: str, persons: list[Person], intrinsics: PinholeIntrinsics, runs: int
) -> dict[str, object]:
    config = DepthLiftConfig()
    size = (intrinsics.width, intrinsics.height)
    depth = DepthImage.from_array(values, encoding)
    timings: dict[str, object] = {
        "lift": _time(partial(lift_persons, persons, depth, intrinsics, size, config), runs),
        "lift_masks": _time(
            partial(lift_persons, _with_box_masks(persons, size), depth, intrinsics, size, config), runs
        ),
        "decode_full": _time(
            partial(decode_depth, values, encoding, config.min_range, config.max_range), runs
        ),
    }
    lifted = lift_persons(persons, depth, intrinsics, size, config)
    try:
        from std_msgs.msg import Header

        from centerpose_ros.conversions.depth import depth_image_from_msg, depth_image_to_msg
        from centerpose_ros.conversions.messages_3d import persons3d_to_markers, persons3d_to_msg
    except ImportError as exc:
        print(f"ROS timings skipped: {exc}", file=sys.stderr)
    else:
        header = Header(frame_id="camera_depth_optical_frame")
        msg = depth_image_to_msg(values, encoding, header)
        timings["from_msg"] = _time(partial(depth_image_from_msg, msg), runs)
        timings["to_msg"] = _time(partial(persons3d_to_msg, lifted, header), runs)
        timings["to_markers"] = _time(partial(persons3d_to_markers, lifted, header), runs)
    timings["lifted_keypoints"] = sum(int(np.sum(p.keypoints[:, 3] > 0)) for p in lifted)
    timings["persons_with_position"] = sum(int(np.all(np.isfinite(p.position))) for p in lifted)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=20)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()

    depth_mm, persons = _scene(args.persons, args.width, args.height)
    fx = 615.0 * args.width / 640
    k = [fx, 0.0, args.width / 2, 0.0, fx, args.height / 2, 0.0, 0.0, 1.0]
    intrinsics = PinholeIntrinsics.from_k(k, args.width, args.height)
    report: dict[str, object] = {
        "persons": args.persons,
        "image": f"{args.width}x{args.height}",
        "runs": args.runs,
    }
    report["16UC1"] = _bench_encoding(depth_mm, "16UC1", persons, intrinsics, args.runs)
    metres = (depth_mm / 1000.0).astype(np.float32)
    report["32FC1"] = _bench_encoding(metres, "32FC1", persons, intrinsics, args.runs)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
