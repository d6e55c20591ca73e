"""INT8 static quantization (ONNX Runtime, QDQ): what is quantized and what stays fp32, that the file
runs in ONNX Runtime and OpenVINO close to fp32, and errors that name a bad calibration folder.

A seeded random network is not a trained one: its heads carry no structure, so INT8 noise is large
relative to them (measured here: RMS error 0.15-0.27 of each head's spread; bf16 0.05-0.07) and
its flat person scores reorder. The tests check the structure and that the error stays a fraction
of the signal (a wrong scale or channel mapping gives an error of the order of the signal); the
accuracy cost on a trained model is measured in keypoint AP (README, benchmarks/quant_accuracy.py).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import onnx
import pytest
from decode_margins import assert_leading_persons_found
from onnx import numpy_helper

from centerpose_core.export.onnx_export import read_metadata
from centerpose_core.export.options import QuantizeOptions
from centerpose_core.export.quantize import fp32_nodes, quantize_onnx
from centerpose_core.export.tensorrt.qdq import qdq_problems
from centerpose_core.runtime import Predictor

SIZE = 128
MAX_RELATIVE_RMS = 0.35  # measured 0.15-0.27 per head on the seeded net (ORT and OpenVINO)
# The symmetric file on both CPU runtimes: measured 0.13-0.30 on a VNNI CPU; before the tree roots
# were kept fp32, OpenVINO gave 0.64-1.16. The wider bound leaves room for CPUs whose INT8 kernels
# round differently (no VNNI) and still fails the old placement.
MAX_SYMMETRIC_RMS = 0.5


@pytest.fixture(scope="module")
def calibration_folder(shared_data, tmp_path_factory):
    """The 4 COCO samples and their mirror images: 8 images, a multiple of ONNX Runtime's optional
    calibration chunk (with CalibMaxIntermediateOutputs=8, ORT 1.32 dropped every full chunk)."""
    folder = tmp_path_factory.mktemp("calib")
    for path in sorted((shared_data / "coco_mini" / "images").glob("*.jpg")):
        image = cv2.imread(str(path))
        cv2.imwrite(str(folder / f"{path.stem}.png"), image)
        cv2.imwrite(str(folder / f"{path.stem}_mirrored.png"), image[:, ::-1])
    return folder


@pytest.fixture(scope="module")
def int8_onnx(native_onnx, calibration_folder, tmp_path_factory):
    """The uint8 file (`export --uint8`): activations quantized on every op of QUANTIZED_OP_TYPES."""
    out = tmp_path_factory.mktemp("int8") / "seeded.int8.onnx"
    result = quantize_onnx(native_onnx, out, QuantizeOptions(str(calibration_folder), symmetric=False))
    assert result.path == out and result.calibration_images == 8
    return out


def real_image(folder):
    return cv2.imread(str(sorted(folder.glob("*.png"))[0]))


def _initializers(model):
    return {init.name: init for init in model.graph.initializer}


def _offset_paths(model, producers):
    """For each DeformConv: the nodes from its offset and mask inputs back to the convolution that
    computes them (chunk, concatenation, sigmoid), that convolution last."""
    paths = []
    for node in model.graph.node:
        if node.op_type != "DeformConv":
            continue
        path, frontier = [], [node.input[2], node.input[4]]
        while frontier:
            source = producers.get(frontier.pop())
            if source is None or source in path:
                continue
            path.append(source)
            if source.op_type != "Conv":
                frontier.extend(source.input[:1] if source.op_type != "Concat" else source.input)
        paths.append(path)
    return paths


def test_convolutions_are_int8_per_channel_except_the_fp32_ones(int8_onnx, native_onnx):
    model = onnx.load(str(int8_onnx))
    inits = _initializers(model)
    producers = {out: node for node in model.graph.node for out in node.output}
    kept = set(fp32_nodes(onnx.load(str(native_onnx))))
    heads = {producers[o.name].name for o in model.graph.output}
    assert len(heads) == 6 and heads <= kept  # the heads' last convs write the outputs, in fp32
    # Offsets and masks reach each DeformConv in fp32 from an fp32 convolution: no Q/DQ on the way.
    paths = _offset_paths(model, producers)
    offset_convs = {n.name for path in paths for n in path if n.op_type == "Conv"}
    assert len(paths) == 16 and len(offset_convs) == 16
    for path in paths:
        assert not {n.op_type for n in path} & {"QuantizeLinear", "DequantizeLinear"}, [n.name for n in path]
    quantized = 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "DeformConv"):
            continue
        weight = producers.get(node.input[1])
        if node.op_type == "DeformConv" or node.name in heads | offset_convs:
            assert weight is None and node.input[1] in inits, f"{node.name} should keep fp32 weights"
            continue
        assert weight is not None and weight.op_type == "DequantizeLinear", node.name
        scale = numpy_helper.to_array(inits[weight.input[1]])
        kernel = numpy_helper.to_array(inits[weight.input[0]])
        axis = next((a.i for a in weight.attribute if a.name == "axis"), 1)
        assert kernel.dtype == np.int8 and axis == 0 and scale.shape == (kernel.shape[0],), node.name
        quantized += 1
    assert quantized == 65 - 6 - 16  # every other convolution of DLA-34 + neck + heads


@pytest.fixture(scope="module")
def symmetric_onnx(native_onnx, calibration_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8") / "seeded.symmetric.onnx"
    return quantize_onnx(native_onnx, out, QuantizeOptions(str(calibration_folder))).path  # the default


def test_symmetric_file_keeps_the_tree_roots_that_read_a_concatenation_fp32(symmetric_onnx):
    """No signed Q/DQ on a concatenation: OpenVINO's CPU plugin runs one feeding an INT8
    convolution with its activation scale lost (`export.quantize.concat_fed_convs`). DLA-34
    concatenates only into its 6 tree roots (levels 2-5: 1 + 2 + 2 + 1), which stay fp32."""
    model = onnx.load(str(symmetric_onnx))
    made_by = {out: node.op_type for node in model.graph.node for out in node.output}
    quantizers = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert quantizers and all(made_by.get(n.input[0]) != "Concat" for n in quantizers)
    roots = [n for n in model.graph.node if n.op_type == "Conv" and made_by.get(n.input[0]) == "Concat"]
    inits = _initializers(model)
    assert len(roots) == 6 and all(root.input[1] in inits for root in roots), [r.name for r in roots]
    assert qdq_problems(model) == []


def test_symmetric_file_stays_close_to_fp32_on_openvino_too(symmetric_onnx, pose_model, real_images):
    """The one INT8 file for all runtimes: before the roots were kept fp32, OpenVINO ran it 0.64-1.16
    of each head's spread from fp32 (ONNX Runtime 0.14-0.27; seeded net, measured)."""
    images = real_images[:1]
    reference = Predictor(pose_model, input_size=SIZE).head_maps(images)
    for backend in ("onnxruntime", "openvino"):
        int8 = Predictor(symmetric_onnx, backend=backend, input_size=SIZE, precision="int8")
        got = int8.head_maps(images)
        for name, value in reference.items():
            rms = float((got[name] - value).pow(2).mean().sqrt() / value.std())
            assert rms <= MAX_SYMMETRIC_RMS, f"symmetric, {backend} {name}: RMS error {rms:.3f} of the spread"


def test_metadata_is_carried_with_the_quantization_settings(int8_onnx, native_onnx, calibration_folder):
    fp32, int8 = read_metadata(native_onnx), read_metadata(int8_onnx)
    assert {k: v for k, v in int8.items() if k != "quantization"} == fp32
    settings = json.loads(int8["quantization"])
    assert settings["calibration_folder"] == str(calibration_folder)
    assert settings["calibration_images"] == 8 and settings["format"] == "QDQ"


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_int8_heads_and_leading_persons_stay_close_to_fp32(backend, int8_onnx, pose_model, real_images):
    reference = Predictor(pose_model, input_size=SIZE)
    candidate = Predictor(int8_onnx, backend=backend, input_size=SIZE, precision="int8")
    expected, got = reference.head_maps(real_images), candidate.head_maps(real_images)
    for name, value in expected.items():
        rms = float((got[name] - value).pow(2).mean().sqrt() / value.std())
        assert rms <= MAX_RELATIVE_RMS, f"{backend} {name}: RMS error {rms:.3f} of the head's spread"
    # The one person that stands clear of the others (0.51 vs 0.31 on the first image) is found.
    image = real_images[0]
    assert_leading_persons_found(
        reference.predict(image),
        candidate.predict(image),
        score_tolerance=0.05,
        cell=max(image.shape[:2]) / (SIZE // 4),
        leading=1,
    )


def test_decomposed_form_keeps_its_sampling_subgraph_fp32(decomposed_onnx, calibration_folder, tmp_path):
    out = tmp_path / "decomposed.int8.onnx"
    result = quantize_onnx(decomposed_onnx, out, QuantizeOptions(str(calibration_folder), max_images=2))
    model = onnx.load(str(out))
    sampling = [n for n in model.graph.node if n.name.startswith("dcn_fp32_sampling/")]
    assert sampling and result.calibration_images == 2
    # Offsets enter as dequantized floats; from there on coordinates are never re-quantized.
    inside = {o for n in sampling for o in n.output}
    quantized_inputs = {n.input[0] for n in model.graph.node if n.op_type == "QuantizeLinear"}
    assert not inside & quantized_inputs
    assert (
        len(
            Predictor(out, backend="onnxruntime", input_size=SIZE, precision="int8").predict(
                real_image(calibration_folder)
            )
        )
        == 100
    )


def test_bad_calibration_folders_are_named(native_onnx, tmp_path):
    out = tmp_path / "never.int8.onnx"
    with pytest.raises(FileNotFoundError, match=r"calibration folder not found: .*missing"):
        quantize_onnx(native_onnx, out, QuantizeOptions(str(tmp_path / "missing")))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"calibration folder .*empty has no images"):
        quantize_onnx(native_onnx, out, QuantizeOptions(str(empty)))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "frame.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"frame\.jpg: image could not be decoded \(calibration image\)"):
        quantize_onnx(native_onnx, out, QuantizeOptions(str(broken)))
    assert not out.exists()
    with pytest.raises(ValueError, match="calibration method must be one of minmax"):
        QuantizeOptions(str(empty), method="mse")
    with pytest.raises(ValueError, match=r"calibration percentile must be within \(50, 100\], got 40"):
        QuantizeOptions(str(empty), method="percentile", percentile=40)


def _cli(capsys, *args) -> tuple[int, str]:
    """`centerpose export ...` in this process (the command's imports are already loaded)."""
    from centerpose_core.cli import main

    code = main(["export", *map(str, args)])
    return code, capsys.readouterr().err


def test_cli_refuses_a_bad_calibration_folder_before_exporting(
    checkpoint, calibration_folder, tmp_path, capsys
):
    out = tmp_path / "model.onnx"
    for extra, message in (
        ([], "--quantize int8 needs --calib DIR"),
        (["--calib", tmp_path / "nowhere"], "calibration folder not found"),
    ):
        code, err = _cli(
            capsys, "--model", checkpoint, "--onnx", out, "--size", 64, "--quantize", "int8", *extra
        )
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0], err
        assert not out.exists()  # refused before the export
    for flag in ("--symmetric", "--uint8"):
        code, err = _cli(capsys, "--model", checkpoint, "--onnx", out, flag)
        assert code == 2 and f"{flag} needs --quantize int8" in err and not out.exists()
    code, err = _cli(capsys, "--model", checkpoint, "--onnx", out, "--heldout", tmp_path)
    assert code == 2 and "--heldout needs --quantize int8" in err and not out.exists()
    code, err = _cli(
        capsys, "--model", checkpoint, "--onnx", out, "--quantize", "int8", "--calib",
        calibration_folder, "--heldout", tmp_path,
    )  # fmt: skip
    assert code == 2 and "no annotations.json" in err and not out.exists()


def test_uint8_activations_are_named_as_unfit_for_tensorrt(int8_onnx):
    assert qdq_problems(int8_onnx) == ["UINT8 quantization (TensorRT takes INT8 only)"]


def test_cli_writes_the_fp32_and_a_symmetric_int8_file(
    checkpoint, pose_model, calibration_folder, tmp_path, capsys
):
    """The default INT8 file: signed activations with zero point 0, the only Q/DQ form TensorRT
    takes; the file still runs on ONNX Runtime with camera-shaped input, close to torch."""
    out = tmp_path / "model.onnx"
    code, err = _cli(
        capsys, "--model", checkpoint, "--onnx", out, "--size", 64, "--hw", "dynamic",
        "--quantize", "int8", "--calib", calibration_folder, "--calib-images", 2,
        "--json", tmp_path / "s.json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["int8_onnx"] == str(tmp_path / "model.int8.onnx") and summary["calibration_images"] == 2
    model = onnx.load(summary["int8_onnx"])
    inits = _initializers(model)
    zero_points = [
        numpy_helper.to_array(inits[n.input[2]]) for n in model.graph.node if n.op_type == "QuantizeLinear"
    ]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)
    assert qdq_problems(model) == []
    # TensorRT's placement: Q/DQ only on tensors a convolution reads (weights and activations);
    # no convolution output is requantized (ORT's all-op placement rounds each one).
    consumers, producers = {}, {out: node.op_type for node in model.graph.node for out in node.output}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    dequantized = [n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert dequantized and all("Conv" in consumers[name] for name in dequantized)
    quantizers = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    quantized_from = [producers.get(n.input[0], "input") for n in quantizers]
    assert quantized_from and "Conv" not in quantized_from, quantized_from
    assert json.loads(read_metadata(summary["int8_onnx"])["quantization"])["activations"] == "int8 symmetric"
    image = real_image(calibration_folder)
    reference = Predictor(pose_model, input_size=64, fit_aspect=True)
    candidate = Predictor(
        summary["int8_onnx"], backend="onnxruntime", input_size=64, fit_aspect=True, precision="int8"
    )
    expected, got = reference.head_maps([image]), candidate.head_maps([image])
    for name, value in expected.items():
        rms = float((got[name] - value).pow(2).mean().sqrt() / value.std())
        assert rms <= MAX_RELATIVE_RMS, f"symmetric {name}: RMS error {rms:.3f} of the head's spread"
    assert len(candidate.predict(image)) == 100


def test_cli_uint8_writes_the_cpu_only_file(checkpoint, calibration_folder, tmp_path, capsys):
    """--uint8: unsigned activations (zero points of type uint8), which TensorRT refuses; it and
    --symmetric exclude each other."""
    out = tmp_path / "model.onnx"
    common = ("--model", checkpoint, "--onnx", out, "--size", 64, "--quantize", "int8")
    common += ("--calib", calibration_folder)
    with pytest.raises(SystemExit) as refused:
        _cli(capsys, *common, "--uint8", "--symmetric")
    err = capsys.readouterr().err
    assert refused.value.code == 2 and "not allowed with argument" in err and not out.exists()
    code, err = _cli(capsys, *common, "--calib-images", 2, "--uint8")
    assert code == 0, err
    model = onnx.load(str(tmp_path / "model.int8.onnx"))
    inits = _initializers(model)
    zero_points = [inits[n.input[2]].data_type for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and set(zero_points) == {onnx.TensorProto.UINT8}
    assert qdq_problems(model) == ["UINT8 quantization (TensorRT takes INT8 only)"]


def test_auto_runs_an_int8_file_only_with_a_passing_recorded_check(int8_onnx, tmp_path):
    """No check: 'auto' refuses and says how to run it anyway; a failing check names its failure;
    a passing one (recorded in the file's metadata, read back) makes 'auto' run it as int8."""
    import shutil

    from centerpose_core.export.accuracy_check import AccuracyCheck, read_accuracy_check, write_accuracy_check
    from centerpose_core.runtime.precision import PrecisionError, inspect_model_file

    copy = tmp_path / "checked.int8.onnx"
    shutil.copy(int8_onnx, copy)
    info = inspect_model_file(copy)
    assert info.int8 and not info.symmetric and info.accuracy_check is None  # uint8 activations
    with pytest.raises(PrecisionError, match="carries no accuracy check.*precision 'int8'"):
        Predictor(copy, backend="auto", input_size=SIZE)
    failing = AccuracyCheck("0" * 64, "heldout", 125, 0.477, 0.140, (0.29, 0.38), 18.6, "onnxruntime")
    write_accuracy_check(copy, failing)
    assert read_accuracy_check(copy) == failing
    with pytest.raises(PrecisionError, match="125 persons.*33.7 points below fp32.*18.60 px"):
        Predictor(copy, backend="onnxruntime", input_size=SIZE)
    passing = AccuracyCheck("0" * 64, "heldout", 600, 0.477, 0.470, (-0.003, 0.017), 0.4, "openvino")
    write_accuracy_check(copy, passing)  # replaces the failing record
    assert read_accuracy_check(copy) == passing
    assert Predictor(copy, backend="onnxruntime", input_size=SIZE).describe() == "onnxruntime int8"
    # everything else in the file is untouched
    original = onnx.load(str(int8_onnx))
    assert [n.name for n in onnx.load(str(copy)).graph.node] == [n.name for n in original.graph.node]


@pytest.fixture
def heldout(shared_data, tmp_path):
    """The 4 COCO samples with their 14 annotated persons, as the DIR layout `--heldout` reads."""
    import shutil

    folder, source = tmp_path / "heldout", shared_data / "coco_mini"
    shutil.copytree(source / "images", folder / "images")
    shutil.copy(source / "annotations" / "person_keypoints_mini.json", folder / "annotations.json")
    return folder


def test_export_with_heldout_records_the_check_it_measured_on_each_runtime(
    checkpoint, calibration_folder, heldout, tmp_path, capsys
):
    """`export --quantize int8 --heldout DIR` measures and records the check itself: it names both
    CPU runtimes, counts the held-out set's persons, fingerprints exactly the calibration images the
    file was made from; 14 persons (< 500) fail it, so 'auto' refuses the file naming that reason."""
    import hashlib

    pytest.importorskip("openvino")
    from centerpose_core.export.accuracy_check import read_accuracy_check
    from centerpose_core.runtime.precision import PrecisionError

    out = tmp_path / "model.onnx"
    code, err = _cli(
        capsys, "--model", checkpoint, "--onnx", out, "--size", SIZE, "--quantize", "int8",
        "--calib", calibration_folder, "--calib-images", 2, "--heldout", heldout, "--check-rounds", 5,
        "--json", tmp_path / "s.json",
    )  # fmt: skip
    assert code == 0, err
    check = read_accuracy_check(tmp_path / "model.int8.onnx")
    assert check.runtimes == ("onnxruntime", "openvino") and set(check.per_runtime) == set(check.runtimes)
    annotations = json.loads((heldout / "annotations.json").read_text())["annotations"]
    assert check.persons == sum(1 for a in annotations if not a.get("iscrowd")) == 14
    digest = hashlib.sha256()
    for path in sorted(calibration_folder.glob("*.png"))[:2]:  # the first two by name
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    assert check.calibration_sha256 == digest.hexdigest()
    worst = max(r["ap_fp32"] - r["ap_int8"] for r in check.per_runtime.values())
    assert check.ap_drop == pytest.approx(worst)
    assert check.displacement_px == max(r["displacement_px"] for r in check.per_runtime.values())
    low, high = check.ap_drop_interval
    assert 0.0 <= check.ap_int8 <= 1.0 and low <= high and check.displacement_px >= 0.0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["accuracy_check"]["persons"] == 14 and summary["accuracy_check"]["passes"] is False
    with pytest.raises(PrecisionError, match="14 persons"):
        Predictor(tmp_path / "model.int8.onnx", backend="auto", input_size=SIZE)
