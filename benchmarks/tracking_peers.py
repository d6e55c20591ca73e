"""Other tracking libraries as rows of bench_tracking.py, loaded only where installed.

They are not dependencies of the project: install them into their own folders, outside the
project's environment, and the benchmark finds them there (or anywhere on PYTHONPATH):

    .venv/bin/pip install --no-deps --target /work/peerlibs/boxmot \
        boxmot==25.0.0 filterpy==1.4.5 "lapx<1.0" rich
    .venv/bin/pip install --no-deps --target /work/peerlibs/norfair norfair==2.3.0 filterpy==1.4.5

(`--no-deps`: boxmot's declared dependencies pull in timm, gdown, huggingface-hub, pyarrow and a
second torch; its box trackers need only numpy, scipy, OpenCV, torch, filterpy, lapx and rich.)
A missing library gives a "peer not installed" row instead.

Settings, as close to ours as each library allows (ours: high 0.5, low 0.1, 1 s lost timeout,
confirmed after 2 hits):
- boxmot ByteTrack: track_thresh 0.5, min_conf 0.1, match_thresh 0.8 (its default),
  track_buffer 25 frames at frame_rate 25 (1 s), min_hits 2, variable_dt with the frame stamps.
- boxmot OC-SORT: det_thresh 0.5, min_conf 0.1, use_byte (its low-score stage), max_age 25,
  min_hits 2, variable_dt with the frame stamps; other settings its defaults.
- boxmot BoT-SORT without ReID: use_embeddings False, track_high_thresh 0.5, track_low_thresh 0.1,
  new_track_thresh 0.6 (its default), track_buffer 25 at frame_rate 25, its camera-motion
  compensation "sof" (sparse optical flow, as BoT-SORT's paper) on the rendered frames,
  min_hits 2, variable_dt with the frame stamps.
- norfair: the 17 keypoints as points, a keypoint-vote distance (1 / (1 + joints closer than a
  tenth of the person's box height, both scoring above 0.1)), distance_threshold 0.8 (one vote),
  hit_counter_max 25 frames, initialization_delay 1 (an id at the second hit),
  pointwise detection_threshold 0.1, its default Kalman filter; detections scoring 0.3 or more
  (it has no low-score stage). It counts frames, not seconds.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from centerpose_core.types import Person

PEER_FOLDERS = ("/work/peerlibs/boxmot", "/work/peerlibs/norfair")
FPS = 25


def _import(module: str):
    """The module, looked for on sys.path and then in PEER_FOLDERS; None when not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pass
    for folder in PEER_FOLDERS:
        if Path(folder).is_dir() and folder not in sys.path:
            sys.path.append(folder)
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _quiet_boxmot() -> None:
    """boxmot logs every tracker's settings at INFO; norfair warns about scalar distances."""
    import logging

    boxmot_utils = importlib.import_module("boxmot.utils")
    boxmot_utils.logger.setLevel(logging.WARNING)


class BoxmotAdapter:
    """A boxmot tracker fed `[x1, y1, x2, y2, score, class]` rows; ids mapped back by detection index."""

    def __init__(self, make: Callable[[], object]) -> None:
        self.tracker = make()

    def step(self, persons: list[Person], stamp: float, image: np.ndarray | None) -> list[Person]:
        dets = np.array([[*p.bbox, p.score, 0.0] for p in persons], dtype=np.float32).reshape(-1, 6)
        frame = image if image is not None else np.zeros((8, 8, 3), np.uint8)
        out = self.tracker.update(dets, frame, timestamp_s=stamp)
        ids = [-1] * len(persons)
        for row in np.asarray(out).reshape(-1, 8):
            ids[int(row[7])] = int(row[4]) + 1  # its ids start at 0 or 1: ours are >= 1
        return [Person(p.score, p.bbox, p.keypoints, id=i) for p, i in zip(persons, ids)]


class NorfairAdapter:
    """norfair over the 17 keypoints with a keypoint-vote distance (see the module docstring)."""

    def __init__(self, norfair) -> None:
        self.norfair = norfair
        self.tracker = norfair.Tracker(
            distance_function=_keypoint_votes,
            distance_threshold=0.8,
            hit_counter_max=FPS,
            initialization_delay=1,
            detection_threshold=0.1,
        )

    def step(self, persons: list[Person], stamp: float, image: np.ndarray | None) -> list[Person]:
        kept = [i for i, p in enumerate(persons) if p.score >= 0.3]
        detections = [
            self.norfair.Detection(
                points=np.asarray(persons[i].keypoints[:, :2], float),
                scores=np.asarray(persons[i].keypoints[:, 2], float),
                data={"index": i, "height": float(persons[i].bbox[3] - persons[i].bbox[1])},
            )
            for i in kept
        ]
        ids = [-1] * len(persons)
        by_object = {id(d): d for d in detections}
        for obj in self.tracker.update(detections=detections):
            last = obj.last_detection
            if obj.id is not None and id(last) in by_object and by_object[id(last)] is last:
                ids[last.data["index"]] = int(obj.id)
        return [Person(p.score, p.bbox, p.keypoints, id=i) for p, i in zip(persons, ids)]


def _keypoint_votes(detection, tracked) -> float:
    """1 / (1 + joints of the detection within a tenth of its height of the track's estimate)."""
    close = np.linalg.norm(detection.points - tracked.estimate, axis=1) < 0.1 * detection.data["height"]
    seen = (detection.scores > 0.1) & (tracked.last_detection.scores > 0.1)
    return 1.0 / (1.0 + np.count_nonzero(close & seen))


def peer_factories() -> dict[str, Callable[[], object] | None]:
    """Row name -> a factory of adapters with `step(persons, stamp, image)`; None: not installed."""
    boxmot = _import("boxmot")
    norfair = _import("norfair")
    out: dict[str, Callable[[], object] | None] = {}
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # norfair's scalar-distance warning, once per tracker
    if boxmot is None:
        out.update({"boxmot ByteTrack": None, "boxmot OC-SORT": None, "boxmot BoT-SORT": None})
    else:
        _quiet_boxmot()
        common = dict(min_hits=2, variable_dt=True)
        out["boxmot ByteTrack"] = lambda: BoxmotAdapter(
            lambda: boxmot.ByteTrack(
                track_thresh=0.5, min_conf=0.1, track_buffer=25, frame_rate=FPS, **common
            )
        )
        out["boxmot OC-SORT"] = lambda: BoxmotAdapter(
            lambda: boxmot.OcSort(det_thresh=0.5, min_conf=0.1, use_byte=True, max_age=25, **common)
        )
        out["boxmot BoT-SORT"] = lambda: BoxmotAdapter(
            lambda: boxmot.BotSort(
                use_embeddings=False,
                track_high_thresh=0.5,
                track_low_thresh=0.1,
                track_buffer=25,
                frame_rate=FPS,
                cmc_method="sof",
                **common,
            )
        )
    out["norfair keypoints"] = None if norfair is None else (lambda: NorfairAdapter(norfair))
    return out
