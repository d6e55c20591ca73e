"""The engine build against fake TensorRT 8.6 / 10.0 / 10.3 / 11.0 modules (see fake_tensorrt.py).

Each fake exposes exactly its release's Python API, so a build that touches a removed attribute
fails here as it would on the real thing. Checked: precision flags and FP32 pinning per release
(items 1 and 5 of issue 11), the DCN form below 10.1 (item 6), the GPU index (item 4), INT8 from
Q/DQ files and calibration-table keys (item 2), and that the CLI reports every failure in one line.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from fake_tensorrt import EngineRunNeedsGPUError, install_fake_tensorrt
from onnx import TensorProto, helper, numpy_helper

from centerpose_core.export.decomposed_dcn import FP32_NODE_PREFIX
from centerpose_core.export.options import BuildOptions
from centerpose_core.export.tensorrt.build import (
    TensorRTBuildError,
    TensorRTUnavailableError,
    build_engine_bytes,
    build_or_load_engine,
    import_tensorrt,
)
from centerpose_core.export.tensorrt.cache import read_engine
from centerpose_core.export.tensorrt.calibrator import StaleCalibrationError
from centerpose_core.export.tensorrt.versions import UnsupportedTensorRTError

SIZE = 128


def _flag_names(config) -> set[str]:
    return {flag.name for flag in config.flags}


def _pinned(network_layers) -> list[str]:
    return [layer.name for layer in network_layers if layer.precision is not None]


@pytest.fixture
def engines(tmp_path):
    return tmp_path / "engines"


def _build(onnx_path, precision, engines, **options):
    return build_or_load_engine(
        onnx_path, input_size=SIZE, options=BuildOptions(precision=precision, **options), cache_dir=engines
    )


# ---------------------------------------------------------------- item 1: TensorRT 11 (strongly typed)


def test_tensorrt_11_fp16_builds_a_strongly_typed_network_from_an_fp16_copy(
    monkeypatch, decomposed_onnx, engines
):
    trt, record, _ = install_fake_tensorrt(monkeypatch, "11.0.0")
    engine, path, built = _build(decomposed_onnx, "fp16", engines)
    assert built and engine.startswith(b"fake-engine trt11.0.0")
    assert record.network_flags == [1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)]
    (parsed,) = record.parsed
    assert parsed != decomposed_onnx and parsed.parent == engines / "fp16-onnx"
    # The copy is FP16 where the network computes and FP32 where sampling positions are made.
    model = onnx.load(str(parsed))
    weights = [init for init in model.graph.initializer if init.data_type in (1, 10) and init.dims]
    assert sum(w.data_type == TensorProto.FLOAT16 for w in weights) > 0.9 * len(weights)
    (config,) = record.configs
    assert "TF32" not in _flag_names(config)  # cleared, and no precision flag exists to set
    assert not hasattr(config, "int8_calibrator")
    key, _ = read_engine(path)
    assert (key.tensorrt_version, key.precision) == ("11.0.0", "fp16")


def test_tensorrt_11_fp32_parses_the_file_itself_without_tf32(monkeypatch, native_onnx, engines):
    _, record, _ = install_fake_tensorrt(monkeypatch, "11.0.0")
    _build(native_onnx, "fp32", engines)
    assert record.parsed == [native_onnx]
    assert _flag_names(record.configs[0]) == set()


def test_tensorrt_11_int8_without_qdq_says_what_works(monkeypatch, decomposed_onnx, engines, tmp_path):
    install_fake_tensorrt(monkeypatch, "11.0.0")
    (tmp_path / "calib").mkdir()
    with pytest.raises(UnsupportedTensorRTError, match=r"TensorRT 11 builds INT8 only from a Q/DQ ONNX file"):
        _build(decomposed_onnx, "int8", engines, calibration_folder=str(tmp_path / "calib"))


def _qdq_model(path, zero_point_type=TensorProto.INT8, zero_point=0):
    """input (1, 3, 32, 32) -> QuantizeLinear -> DequantizeLinear -> Conv: a minimal Q/DQ network."""
    scale = numpy_helper.from_array(np.array(0.02, np.float32), "scale")
    dtype = {TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8}[zero_point_type]
    zero = numpy_helper.from_array(np.array(zero_point, dtype), "zero")
    weight = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "scale", "zero"], ["q"], name="q"),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"], name="dq"),
        helper.make_node("Conv", ["dq", "w"], ["hm"], name="conv", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("hm", TensorProto.FLOAT, [1, 4, 32, 32])],
        [scale, zero, weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_tensorrt_11_int8_builds_a_symmetric_qdq_file_as_it_is(monkeypatch, tmp_path, engines):
    trt, record, _ = install_fake_tensorrt(monkeypatch, "11.0.0")
    qdq = _qdq_model(tmp_path / "qdq.onnx")
    build_engine_bytes(qdq, BuildOptions(precision="int8", calibration_cache="unused"), 32, "cuda")
    assert record.parsed == [qdq]
    assert record.network_flags == [1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)]


def test_a_qdq_file_on_tensorrt_10_builds_int8_without_a_calibrator(monkeypatch, tmp_path):
    _, record, _ = install_fake_tensorrt(monkeypatch, "10.3.0")
    qdq = _qdq_model(tmp_path / "qdq.onnx")
    build_engine_bytes(qdq, BuildOptions(precision="fp16"), 32, "cuda")  # the file carries INT8
    (config,) = record.configs
    assert _flag_names(config) == {"FP16", "INT8"} and config.int8_calibrator is None
    assert record.calibration_batches == 0


@pytest.mark.parametrize(
    ("zero_point_type", "zero_point", "problem"),
    [(TensorProto.UINT8, 128, "UINT8 quantization"), (TensorProto.INT8, 3, "asymmetric quantization")],
)
def test_qdq_files_tensorrt_cannot_take_are_named(
    monkeypatch, tmp_path, zero_point_type, zero_point, problem
):
    install_fake_tensorrt(monkeypatch, "11.0.0")
    qdq = _qdq_model(tmp_path / "ort_cpu.onnx", zero_point_type, zero_point)
    with pytest.raises(
        TensorRTBuildError, match=rf"ort_cpu\.onnx: TensorRT cannot take this Q/DQ file: {problem}"
    ):
        build_engine_bytes(qdq, BuildOptions(precision="int8", calibration_cache="unused"), 32, "cuda")


@pytest.mark.parametrize("version", ["7.1.3", "12.0.0"])
def test_unsupported_releases_are_refused_in_one_line(monkeypatch, version):
    install_fake_tensorrt(monkeypatch, version if version != "7.1.3" else "8.6.1")
    import sys

    sys.modules["tensorrt"].__version__ = version
    with pytest.raises(
        UnsupportedTensorRTError, match=rf"TensorRT {version} is not supported; supported: .*11\.x"
    ):
        import_tensorrt()


def test_cli_reports_a_tensorrt_11_int8_failure_in_one_line(monkeypatch, checkpoint, tmp_path, capsys):
    from centerpose_core.cli import main
    from centerpose_core.commands import export as export_command

    build = export_command._build_engine

    def build_with_fake_gpu(args, onnx_path):  # the export itself runs on the real (CPU-only) torch
        install_fake_tensorrt(monkeypatch, "11.0.0")
        return build(args, onnx_path)

    monkeypatch.setattr(export_command, "_build_engine", build_with_fake_gpu)
    (tmp_path / "calib").mkdir()
    code = main(
        [
            "export",
            "--model",
            str(checkpoint),
            "--onnx",
            str(tmp_path / "m.onnx"),
            "--size",
            "64",
            "--dcn",
            "decomposed",
            "--engine",
            str(tmp_path / "m.engine"),
            "--precision",
            "int8",
            "--calib-dir",
            str(tmp_path / "calib"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "TensorRT 11 builds INT8 only from a Q/DQ ONNX file" in err and "was written" in err
    assert (tmp_path / "m.onnx").is_file() and not (tmp_path / "m.engine").exists()


# ---------------------------------------------------------------- item 5: precision on 10.x (weakly typed)


def test_tensorrt_10_fp16_pins_deform_conv_plugins_to_fp32(monkeypatch, native_onnx, engines):
    trt, record, _ = install_fake_tensorrt(monkeypatch, "10.3.0")
    captured = {}
    real_builder = trt.Builder

    class Builder(real_builder):
        def create_network(self, flags=0):
            captured["network"] = super().create_network(flags)
            return captured["network"]

    monkeypatch.setattr(trt, "Builder", Builder)
    _build(native_onnx, "fp16", engines)
    assert record.network_flags == [0]  # weakly typed, explicit batch implied
    assert _flag_names(record.configs[0]) == {"FP16", "OBEY_PRECISION_CONSTRAINTS"}  # TF32 cleared
    layers = captured["network"].layers
    deform = [layer for layer in layers if layer.type == trt.LayerType.PLUGIN_V2]
    assert len(deform) == 16
    for layer in deform:
        assert layer.precision == trt.float32 and layer.output_types == {0: trt.float32}
    assert set(_pinned(layers)) == {layer.name for layer in deform}  # the rest may run in FP16


def test_tensorrt_10_fp16_pins_the_decomposed_sampling_layers(monkeypatch, decomposed_onnx, engines):
    trt, record, _ = install_fake_tensorrt(monkeypatch, "10.3.0")
    captured = {}

    class Builder(trt.Builder):
        def create_network(self, flags=0):
            captured["network"] = super().create_network(flags)
            return captured["network"]

    monkeypatch.setattr(trt, "Builder", Builder)
    _build(decomposed_onnx, "fp16", engines)
    layers = captured["network"].layers
    pinned = _pinned(layers)
    assert pinned and all(name.startswith(FP32_NODE_PREFIX) for name in pinned)
    floats = (trt.float32, trt.float16)
    expected = [
        layer.name
        for layer in layers
        if layer.name.startswith(FP32_NODE_PREFIX) and any(out.dtype in floats for out in layer._outputs)
    ]
    assert sorted(pinned) == sorted(expected)


def test_tensorrt_10_fp32_clears_tf32(monkeypatch, decomposed_onnx, engines):
    _, record, _ = install_fake_tensorrt(monkeypatch, "10.3.0")
    _build(decomposed_onnx, "fp32", engines)
    assert _flag_names(record.configs[0]) == set()


def test_tensorrt_8_6_asks_for_explicit_batch(monkeypatch, decomposed_onnx, engines):
    trt, record, _ = install_fake_tensorrt(monkeypatch, "8.6.1")
    _build(decomposed_onnx, "fp32", engines)
    assert record.network_flags == [1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)]


# ---------------------------------------------------------------- item 6: DCN form below 10.1


@pytest.mark.parametrize("version", ["10.0.1", "8.6.1"])
def test_native_deform_conv_below_10_1_is_refused_with_the_fix(monkeypatch, native_onnx, engines, version):
    install_fake_tensorrt(monkeypatch, version)
    with pytest.raises(TensorRTBuildError, match=rf"TensorRT {version} cannot parse .*--dcn decomposed"):
        _build(native_onnx, "fp16", engines)


@pytest.mark.parametrize(("version", "form"), [("10.0.1", "decomposed"), ("10.3.0", "native")])
def test_backend_auto_exports_the_form_the_tensorrt_parses(
    monkeypatch, checkpoint, native_onnx, decomposed_onnx, onnx_cache, tmp_path, version, form
):
    from centerpose_core.runtime import Predictor

    _, record, _ = install_fake_tensorrt(monkeypatch, version)
    # The checkpoint's exports already sit in the session's ONNX cache: point the default cache there.
    monkeypatch.setenv("CENTERPOSE_CACHE", str(tmp_path))
    os.symlink(onnx_cache, tmp_path / "onnx")
    with pytest.raises(EngineRunNeedsGPUError):  # running the engine needs a real GPU
        Predictor(checkpoint, backend="tensorrt", input_size=SIZE, max_batch=2, precision="fp32")
    (parsed,) = record.parsed
    assert parsed.name == (decomposed_onnx if form == "decomposed" else native_onnx).name


# ---------------------------------------------------------------- item 4: the GPU index


def test_build_runs_on_the_requested_gpu(monkeypatch, decomposed_onnx, engines, tmp_path):
    _, record, cuda = install_fake_tensorrt(monkeypatch, "10.3.0", gpus=2)
    _, path, _ = _build(decomposed_onnx, "fp32", engines)
    assert record.build_devices == [0]
    key, _ = read_engine(path)
    assert key.gpu_name == "Fake GPU 0"
    _, path, built = build_or_load_engine(
        decomposed_onnx,
        input_size=SIZE,
        options=BuildOptions(precision="fp32"),
        cache_dir=engines,
        device="cuda:1",
    )
    assert built and record.build_devices == [0, 1] and cuda.current == 0
    assert read_engine(path)[0].gpu_name == "Fake GPU 1"
    with pytest.raises(TensorRTUnavailableError, match=r"'cuda:2': this machine has 2 CUDA GPU"):
        build_or_load_engine(
            decomposed_onnx,
            input_size=SIZE,
            options=BuildOptions(precision="fp32"),
            cache_dir=engines,
            device="cuda:2",
        )


# ---------------------------------------------------------------- item 2: INT8 calibration table keys


def _images(folder, count, seed):
    import cv2

    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        cv2.imwrite(str(folder / f"im{i}.png"), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return folder


def test_calibration_table_is_reused_only_for_the_same_onnx_and_images(
    monkeypatch, decomposed_onnx, native_onnx, tmp_path
):
    _, record, cuda = install_fake_tensorrt(monkeypatch, "10.3.0")
    first = _images(tmp_path / "first", 4, seed=0)
    other = _images(tmp_path / "other", 4, seed=1)
    table = tmp_path / "calib.cache"

    def build(onnx_path, folder, device="cuda"):
        options = BuildOptions(
            precision="int8",
            calibration_folder=str(folder),
            calibration_cache=str(table),
            calibration_batch=2,
        )
        before = record.calibration_batches
        build_engine_bytes(onnx_path, options, SIZE, device, work_dir=tmp_path / "work")
        return record.calibration_batches - before

    assert build(decomposed_onnx, first) == 2  # 4 images, batches of 2: calibrated
    assert _flag_names(record.configs[-1]) >= {"INT8", "FP16"}
    assert json.loads(table.read_bytes().split(b"\n")[1])["onnx_sha256"]
    assert build(decomposed_onnx, first) == 0  # same ONNX, same images: the table is reused
    assert build(decomposed_onnx, other) == 2  # other images: calibrated again
    assert build(decomposed_onnx, other, device="cuda:1") == 0
    assert cuda.buffers[-1] == "cuda:1"  # the calibration batches live on the GPU being built for
    (first / "im0.png").write_bytes((other / "im0.png").read_bytes())
    assert build(decomposed_onnx, first) == 2  # changed image contents: calibrated again
    assert build(native_onnx, first) == 2  # another ONNX file: calibrated again
    assert build(native_onnx, first) == 0


def test_a_table_alone_must_belong_to_the_onnx_file(monkeypatch, decomposed_onnx, native_onnx, tmp_path):
    _, record, _ = install_fake_tensorrt(monkeypatch, "10.3.0")
    images = _images(tmp_path / "images", 2, seed=0)
    table = tmp_path / "calib.cache"
    options = BuildOptions(
        precision="int8", calibration_folder=str(images), calibration_cache=str(table), calibration_batch=2
    )
    build_engine_bytes(decomposed_onnx, options, SIZE, "cuda", work_dir=tmp_path)
    only_table = BuildOptions(precision="int8", calibration_cache=str(table))
    build_engine_bytes(decomposed_onnx, only_table, SIZE, "cuda", work_dir=tmp_path)
    assert record.calibration_batches == 1  # the second build read the table
    with pytest.raises(
        StaleCalibrationError, match=r"calib\.cache: calibration table made for another ONNX file"
    ):
        build_engine_bytes(native_onnx, only_table, SIZE, "cuda", work_dir=tmp_path)
    raw = tmp_path / "trtexec.cache"
    raw.write_bytes(b"TRT-8601-EntropyCalibration2\ninput: 3c010a14\n")  # no key: the user's word
    _, record, _ = install_fake_tensorrt(monkeypatch, "10.3.0")
    build_engine_bytes(decomposed_onnx, BuildOptions(precision="int8", calibration_cache=str(raw)), SIZE)
    assert record.calibration_batches == 0
