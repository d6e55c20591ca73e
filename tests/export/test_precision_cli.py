"""`--precision` and `bench --all` as users run them (a real subprocess of the CLI), on the
session's exported 128 px ONNX file: the precision reported is the one OpenVINO's own
OPTIMIZATION_CAPABILITIES (read here directly) call for."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from centerpose_core.runtime.precision import AUTO_RULES

SIZE = 128
CLI = [sys.executable, "-m", "centerpose_core.cli"]


def _cpu_capabilities() -> set[str]:
    ov = pytest.importorskip("openvino")
    return set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def _bench(native_onnx, image, *args: str) -> subprocess.CompletedProcess:
    command = [*CLI, "bench", "--model", str(native_onnx), "--size", str(SIZE), "--runs", "1"]
    command += ["--warmup", "0"]
    return subprocess.run([*command, *args, str(image)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "img.png"
    cv2.imwrite(str(path), np.zeros((60, 80, 3), np.uint8))
    return path


def test_precision_option_reaches_the_predictor_and_the_json(native_onnx, image):
    """`--precision auto` on the openvino backend: bf16 exactly where OpenVINO reports native BF16."""
    expected = "bf16" if "BF16" in _cpu_capabilities() else "fp32"
    result = _bench(native_onnx, image, "--backend", "openvino")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["backend"], report["precision"]) == ("openvino", expected)
    result = _bench(native_onnx, image, "--backend", "openvino", "--precision", "fp32")
    assert json.loads(result.stdout)["precision"] == "fp32"


def test_bench_all_prints_every_auto_row_and_the_choice(native_onnx, image):
    """One line per row of the README's rule table; GPU rows say why not on a CPU machine; the row
    auto picks is the openvino row the CPU's capabilities call for, and it was timed."""
    capabilities = _cpu_capabilities()
    if torch.cuda.is_available():
        pytest.skip("checks the CPU rows")
    result = _bench(native_onnx, image, "--all")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    rows, summary = lines[:-1], lines[-1]
    assert [(r["backend"], r["precision"]) for r in rows] == [(r.backend, r.precision) for r in AUTO_RULES]
    by_key = {(r["backend"], r["precision"]): r for r in rows}
    assert by_key[("tensorrt", "fp16")]["why_not"] in ("needs a GPU", "tensorrt is not installed")
    assert "INT8 (Q/DQ) file" in by_key[("openvino", "int8")]["why_not"]
    assert "cannot read a onnx" in by_key[("torch", "fp32")]["why_not"]
    picked = ("openvino", "bf16" if "BF16" in capabilities else "fp32")
    assert summary["auto"] == " ".join(picked)
    floors = summary["floor_ms"]
    assert set(floors) == {"fp32", "bf16", "int8"} and all(ms > 0 for ms in floors.values())
    timed = by_key[picked]
    assert timed["x_own_floor"] == pytest.approx(timed["ms"]["total"] / floors[picked[1]], rel=0.02, abs=0.01)
    assert [key for key, r in by_key.items() if r["auto"]] == [picked]
    assert by_key[picked]["ms"]["total"] > 0 and by_key[("onnxruntime", "fp32")]["ap_cost"] == 0.0
