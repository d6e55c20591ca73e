"""`centerpose track` as users run it: JSON lines with ids, an annotated video, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from centerpose_core.cli import main
from centerpose_core.data.synthetic import SyntheticConfig, generate_image

CLI = [sys.executable, "-m", "centerpose_core.cli", "track", "--random-weights", "--input-size", "128"]
CLI += ["--backend", "torch"]  # the fp32 reference: no export (the default, auto, is tested in test_cli)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_ids(lines: list[dict]) -> None:
    """Ids are -1 or >= 1, unique within a frame, and first appear in increasing order."""
    first_seen: list[int] = []
    for line in lines:
        ids = [p["id"] for p in line["persons"] if p["id"] != -1]
        assert all(isinstance(i, int) and i >= 1 for i in ids)
        assert len(ids) == len(set(ids)), f"frame {line['frame']}: duplicate ids {ids}"
        first_seen += [i for i in ids if i not in first_seen]
    assert first_seen == sorted(first_seen)


def test_video_gives_one_line_per_frame_and_a_readable_annotated_video(tmp_path, shared_data):
    clip = shared_data / "media" / "vtest.avi"
    capture = cv2.VideoCapture(str(clip))
    fps, size = capture.get(cv2.CAP_PROP_FPS), (int(capture.get(3)), int(capture.get(4)))
    capture.release()
    out, video = tmp_path / "tracks.jsonl", tmp_path / "tracks.mp4"
    result = _run("--max-frames", "10", "--jsonl", str(out), "--draw", str(video), str(clip))
    assert result.returncode == 0, result.stderr
    lines = _lines(out)
    assert [line["frame"] for line in lines] == list(range(10))
    assert [line["stamp"] for line in lines] == pytest.approx([i / fps for i in range(10)])
    for line in lines:
        assert set(line) == {"frame", "stamp", "persons"}
        persons = line["persons"]
        assert len(persons) <= 20
        assert [p["score"] for p in persons] == sorted((p["score"] for p in persons), reverse=True)
        for p in persons:
            assert set(p) == {"id", "bbox", "score", "keypoints"} and p["score"] >= 0.3
            assert len(p["bbox"]) == 4 and len(p["keypoints"]) == 17
    _check_ids(lines)
    assert sum(len(line["persons"]) for line in lines) > 0
    reader = cv2.VideoCapture(str(video))
    frames = 0
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        assert (frame.shape[1], frame.shape[0]) == size
        frames += 1
    assert frames == 10


def test_static_image_folder_keeps_every_id(tmp_path):
    image, _ = generate_image(
        np.random.default_rng(0), SyntheticConfig(image_size=(160, 120), persons=(3, 3))
    )
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    out = tmp_path / "tracks.jsonl"
    result = _run("--threshold", "0.2", "--jsonl", str(out), "--fps", "5", str(folder))
    assert result.returncode == 0, result.stderr
    lines = _lines(out)
    assert [(line["frame"], line["image"]) for line in lines] == [(i, f"{i:03d}.png") for i in range(4)]
    assert [line["stamp"] for line in lines] == pytest.approx([0.0, 0.2, 0.4, 0.6])
    _check_ids(lines)
    # Identical frames give identical persons: all -1 on the first frame (tentative), then every
    # person scoring >= 0.5 (with a box that has an area) has one id from the second frame on that
    # never changes; one scoring 0.35-0.5 gets its id at the fourth (low_birth_hits 4); lower: none.
    assert all(p["id"] == -1 for p in lines[0]["persons"])
    persons = lines[1]["persons"]
    has_area = [(p["bbox"][2] != p["bbox"][0]) and (p["bbox"][3] != p["bbox"][1]) for p in persons]
    high = [p["score"] >= 0.5 and ok for p, ok in zip(persons, has_area)]
    low_born = [0.35 <= p["score"] < 0.5 and ok for p, ok in zip(persons, has_area)]
    assert any(high)
    ids = [p["id"] for p in persons]
    assert [i >= 1 for i in ids] == high
    for line in lines[2:3]:
        assert [p["id"] for p in line["persons"]] == ids
    last = [p["id"] for p in lines[3]["persons"]]
    assert [i >= 1 for i in last] == [h or lb for h, lb in zip(high, low_born)]
    assert all(a == b for a, b, h in zip(last, ids, high) if h)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jsonl", "-", "nowhere.avi"], "nowhere.avi: video or image folder not found"),
        (["--jsonl", "-", "{empty}"], "folder has no images"),
        (["--jsonl", "-", "{bad_video}"], "video could not be opened or has no frames"),
        (["--jsonl", "-", "--draw", "out.gif", "{folder}"], "--draw out.gif: use a .mp4 or .avi file name"),
        (
            ["--jsonl", "-", "--lost-timeout-s", "-1", "{folder}"],
            "tracking lost_timeout_s must be a finite number",
        ),
        (["--jsonl", "-", "--fps", "0", "{folder}"], "--fps must be a positive number"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "folder").mkdir()
    cv2.imwrite(str(tmp_path / "folder" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "bad.avi").write_bytes(b"not a video")
    paths = {"empty": tmp_path / "empty", "folder": tmp_path / "folder", "bad_video": tmp_path / "bad.avi"}
    argv = ["track", "--random-weights", *[a.format(**paths) for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("centerpose track: error:")


def test_model_and_random_weights_are_exclusive(tmp_path, capsys):
    assert main(["track", "--jsonl", "-", str(tmp_path)]) == 2
    assert "give exactly one of --model PATH or --random-weights" in capsys.readouterr().err
