"""The `centerpose` console script as users run it (a real subprocess of .venv/bin/centerpose)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from seeded_nets import seeded_pose_net

from centerpose_core.model.checkpoint import save_checkpoint

CLI = [sys.executable, "-m", "centerpose_core.cli"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pth", seeded_pose_net())


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def _predict(checkpoint: Path, *args: str, threshold: str = "0") -> subprocess.CompletedProcess:
    """`centerpose predict` at 128 px on the torch fp32 reference (exact scores, no export);
    `args` are the remaining options and the images."""
    return _run(
        "predict", "--model", str(checkpoint), "--backend", "torch", "--input-size", "128",
        "--threshold", threshold, *args,
    )  # fmt: skip


def test_console_script_is_installed():
    assert shutil.which("centerpose", path=str(Path(sys.executable).parent)), (
        "centerpose not in the venv's bin"
    )


def test_predict_json_schema_and_drawing(checkpoint, tmp_path, shared_data):
    images = sorted((shared_data / "coco_mini" / "images").glob("*.jpg"))[:2]
    out = tmp_path / "out.json"
    result = _predict(
        checkpoint,
        "--max-persons",
        "100",
        "--json",
        str(out),
        "--draw",
        str(tmp_path / "draw"),
        *map(str, images),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert [entry["image"] for entry in data] == [str(p) for p in images]
    for entry in data:
        persons = entry["persons"]
        assert len(persons) == 100
        assert [p["score"] for p in persons] == sorted((p["score"] for p in persons), reverse=True)
        for p in persons:
            assert set(p) == {"bbox", "score", "keypoints"}
            assert len(p["bbox"]) == 4 and len(p["keypoints"]) == 17
            assert all(len(k) == 3 for k in p["keypoints"])
    drawn = sorted((tmp_path / "draw").iterdir())
    assert [d.name for d in drawn] == [f"{p.stem}_pose.jpg" for p in images]
    assert cv2.imread(str(drawn[0])).shape == cv2.imread(str(images[0])).shape


def test_threshold_filters_and_grayscale_png_reads_as_three_channels(checkpoint, tmp_path):
    gray = np.random.default_rng(0).integers(0, 255, (80, 100), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "color.png"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    result = _predict(
        checkpoint,
        "--max-persons",
        "100",
        "--json",
        "-",
        str(tmp_path / "gray.png"),
        str(tmp_path / "color.png"),
    )
    assert result.returncode == 0, result.stderr
    gray_result, color_result = json.loads(result.stdout)
    assert gray_result["persons"] == color_result["persons"]  # the same pixels, the same computation
    # The threshold keeps exactly the persons scoring at least it (ties with the cut included), in order.
    everyone = gray_result["persons"]
    cut = everyone[5]["score"]
    result = _predict(checkpoint, "--json", "-", str(tmp_path / "gray.png"), threshold=repr(cut))
    assert result.returncode == 0, result.stderr
    kept = json.loads(result.stdout)[0]["persons"]
    assert kept == [p for p in everyone if p["score"] >= cut] and len(kept) >= 6


def test_missing_image_and_bad_checkpoint_are_one_line_errors(checkpoint, tmp_path):
    result = _run("predict", "--model", str(checkpoint), str(tmp_path / "nope.jpg"))
    assert result.returncode == 2
    assert "nope.jpg: image file not found" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "not_image.jpg").write_bytes(b"not a jpeg")
    result = _run("predict", "--model", str(checkpoint), str(tmp_path / "not_image.jpg"))
    assert result.returncode == 2 and "not_image.jpg: image could not be decoded" in result.stderr
    (tmp_path / "broken.pth").write_bytes(b"\x00" * 100)
    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((8, 8, 3), np.uint8))
    result = _run("predict", "--model", str(tmp_path / "broken.pth"), str(tmp_path / "ok.png"))
    assert result.returncode == 2 and "broken.pth" in result.stderr and "Traceback" not in result.stderr


def test_fit_aspect_option_gives_a_camera_shaped_input(checkpoint):
    """--fit-aspect at 128 on a 640x480 frame: a 128x96 input (stride-4 maps 32 wide, 24 high)."""
    from centerpose_core.cli import build_parser
    from centerpose_core.commands.common import build_predictor

    frame = np.zeros((480, 640, 3), np.uint8)
    for extra, map_shape in ((["--fit-aspect"], (24, 32)), ([], (32, 32))):
        argv = ["predict", "--model", str(checkpoint), "--backend", "torch", "--input-size", "128"]
        argv += [*extra, "frame.png"]
        predictor = build_predictor(build_parser(argv).parse_args(argv))
        assert predictor.head_maps([frame])["hm"].shape[-2:] == map_shape, extra


def _expected_cpu_choice() -> tuple[str, str]:
    """The README's rule on a CPU machine for a float model: OpenVINO (bf16 where OpenVINO reports
    native BF16), else ONNX Runtime fp32, else torch fp32."""
    import importlib.util

    if importlib.util.find_spec("openvino") is not None:
        import openvino

        capabilities = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        return ("openvino", "bf16" if "BF16" in capabilities else "fp32")
    if importlib.util.find_spec("onnxruntime") is not None:
        return ("onnxruntime", "fp32")
    return ("torch", "fp32")


def test_bench_prints_one_json_object_and_runs_the_auto_choice_by_default(tmp_path):
    """No --backend: the CLI runs what the node runs (`auto`), not torch."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("checks the CPU rows of the auto rule")
    cv2.imwrite(str(tmp_path / "img.png"), np.zeros((60, 80, 3), np.uint8))
    result = _run(
        "bench", "--random-weights", "--size", "64", "--runs", "2", "--warmup", "1", str(tmp_path / "img.png")
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["backend"], report["precision"]) == _expected_cpu_choice()
    assert report["size"] == 64 and report["runs"] == 2
    assert set(report["ms"]) == {"preprocess", "forward", "decode", "postprocess", "total"}
    assert report["ms"]["total"] >= report["ms"]["forward"] > 0


def test_a_precision_the_backend_cannot_run_is_one_error_line(checkpoint, tmp_path):
    cv2.imwrite(str(tmp_path / "img.png"), np.zeros((60, 80, 3), np.uint8))
    result = _predict(checkpoint, "--precision", "bf16", str(tmp_path / "img.png"))
    assert result.returncode == 2
    assert result.stderr == (
        "centerpose predict: error: precision bf16 cannot run here (torch: backend torch runs fp32 only)\n"
    )

def test_bench_of_a_mask_model_prints_the_masks_stage(tmp_path):
    cv2.imwrite(str(tmp_path / "img.png"), np.zeros((60, 80, 3), np.uint8))
    result = _run(
        "bench", "--random-weights", "--backend", "torch", "--masks", "--max-persons", "3", "--size", "64",
        "--runs", "2", "--warmup", "1", str(tmp_path / "img.png"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ms = json.loads(result.stdout)["ms"]
    assert set(ms) == {"preprocess", "forward", "decode", "postprocess", "masks", "total"}
    assert ms["total"] >= ms["masks"] > 0


def test_predict_json_of_a_mask_model_has_rle_segmentations(tmp_path):
    from pycocotools import mask as mask_utils

    from centerpose_core.model.random_weights import save_random_checkpoint

    checkpoint = save_random_checkpoint(tmp_path / "masks.pth", masks=True)
    cv2.imwrite(str(tmp_path / "img.png"), np.full((60, 80, 3), 90, np.uint8))
    result = _run(
        "predict", "--model", str(checkpoint), "--backend", "torch", "--input-size", "64", "--threshold", "0",
        "--max-persons", "2",
        "--json", str(tmp_path / "out.json"), "--draw", str(tmp_path / "drawn"), str(tmp_path / "img.png"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    persons = json.loads((tmp_path / "out.json").read_text())[0]["persons"]
    assert len(persons) == 2
    for person in persons:
        rle = person["segmentation"]
        assert isinstance(rle["counts"], str) and rle["size"] == [60, 80]
        assert mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).shape == (60, 80)
    assert (tmp_path / "drawn" / "img_pose.jpg").is_file()


def test_masks_whole_map_flag_gives_masks_outside_the_boxes(tmp_path):
    """Default: masks cut to each person's box; --masks-whole-map: the seed's whole-map rule (random
    weights' masks cover most of the image, far beyond their boxes)."""
    from pycocotools import mask as mask_utils

    from centerpose_core.masks import box_pixels
    from centerpose_core.model.random_weights import save_random_checkpoint

    checkpoint = save_random_checkpoint(tmp_path / "masks.pth", masks=True)
    cv2.imwrite(str(tmp_path / "img.png"), np.random.default_rng(0).integers(0, 255, (96, 160, 3), np.uint8))
    outside = {}
    for flags in ((), ("--masks-whole-map",)):
        out = tmp_path / f"out{len(flags)}.json"
        result = _run(
            "predict", "--model", str(checkpoint), "--backend", "torch", "--input-size", "128",
            "--threshold", "0", "--max-persons", "20", *flags, "--json", str(out), str(tmp_path / "img.png"),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outside[flags] = 0
        for person in json.loads(out.read_text())[0]["persons"]:
            rle = person["segmentation"]
            mask = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)
            pixels = box_pixels(person["bbox"], mask.shape)
            if pixels is not None:
                x0, y0, x1, y1 = pixels
                mask[y0:y1, x0:x1] = False
            outside[flags] += int(mask.sum())
    assert outside[()] == 0 and outside[("--masks-whole-map",)] > 1000
