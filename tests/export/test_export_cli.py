"""`centerpose export` end to end: the file, its metadata, its validity, and bad input."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import pytest
from decode_margins import assert_same_persons, clear_decisions

from centerpose_core.cli import main
from centerpose_core.constants import HEAD_NAMES, KEYPOINT_NAMES, MEAN_BGR, STD_BGR
from centerpose_core.export.onnx_export import read_metadata
from centerpose_core.flip import FLIP_PAIRS
from centerpose_core.runtime import Predictor

CLI_SIZE = 64


@pytest.fixture(scope="module")
def cli_export(checkpoint, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("cli")
    onnx_path = out_dir / "pose.onnx"
    summary = out_dir / "summary.json"
    code = main(
        [
            "export",
            "--model",
            str(checkpoint),
            "--onnx",
            str(onnx_path),
            "--size",
            str(CLI_SIZE),
            "--batch",
            "1",
            "--json",
            str(summary),
        ]
    )
    assert code == 0
    return onnx_path, json.loads(summary.read_text())


def test_one_self_contained_valid_file(cli_export):
    onnx_path, summary = cli_export
    assert sorted(p.name for p in onnx_path.parent.iterdir()) == [
        "pose.onnx",
        "summary.json",
    ]  # no .onnx.data
    onnx.checker.check_model(str(onnx_path), full_check=True)
    model = onnx.load(str(onnx_path))
    assert [o.name for o in model.graph.output] == list(HEAD_NAMES)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, CLI_SIZE, CLI_SIZE]
    assert next(o.version for o in model.opset_import if o.domain == "") == 19
    assert sum(node.op_type == "DeformConv" for node in model.graph.node) == 16 == summary["deform_convs"]
    assert summary["tensorrt"]["minimum_tensorrt"] == "10.1"


def test_metadata_is_all_a_runtime_needs(cli_export, checkpoint):
    onnx_path, _ = cli_export
    meta = read_metadata(onnx_path)
    assert meta["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert int(meta["input_size"]) == CLI_SIZE
    assert json.loads(meta["keypoint_names"]) == list(KEYPOINT_NAMES)
    assert [tuple(p) for p in json.loads(meta["flip_pairs"])] == list(FLIP_PAIRS)
    np.testing.assert_array_equal(np.float32(json.loads(meta["mean_bgr"])), MEAN_BGR)
    np.testing.assert_array_equal(np.float32(json.loads(meta["std_bgr"])), STD_BGR)
    assert json.loads(meta["heads"]) == {"hm": 1, "wh": 2, "hps": 34, "reg": 2, "hm_hp": 17, "hp_offset": 2}
    options = json.loads(meta["export_options"])
    assert (options["dcn"], options["batch"], options["opset"], options["size"]) == (
        "native",
        "1",
        19,
        CLI_SIZE,
    )


def test_batch_one_file_flip_tests_like_torch(cli_export, pose_model, real_images):
    onnx_path, _ = cli_export
    candidate = Predictor(onnx_path, backend="onnxruntime", input_size=CLI_SIZE, flip_test=True)
    reference = Predictor(pose_model, input_size=CLI_SIZE, flip_test=True)
    for image in real_images[:2]:
        clear = clear_decisions(reference.head_maps([image]), limit=10)
        expected, actual = reference.predict(image), candidate.predict(image)
        assert_same_persons(expected, actual, clear, min_ranked=5)


@pytest.mark.parametrize(
    "content",
    [b"this is not a checkpoint", b"PK\x03\x04 truncated zip"],
    ids=["garbage", "truncated"],
)
def test_corrupt_checkpoint_is_named(content, tmp_path, capsys):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(content)
    assert main(["export", "--model", str(bad), "--onnx", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "broken.pth" in err and err.count("\n") == 1
    assert not (tmp_path / "x.onnx").exists()


def test_truncated_real_checkpoint_is_named(checkpoint, tmp_path, capsys):
    bad = tmp_path / "half.pth"
    bad.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    assert main(["export", "--model", str(bad), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "half.pth" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--size", "100"], "multiple of 32"),
        (["--opset", "18"], "native DeformConv needs opset >= 19"),
    ],
)
def test_bad_options_are_refused_before_work(extra, message, checkpoint, tmp_path, capsys):
    assert main(["export", "--model", str(checkpoint), "--onnx", str(tmp_path / "x.onnx"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_missing_checkpoint(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path / "none.pth"), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "none.pth" in capsys.readouterr().err
