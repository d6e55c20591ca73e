"""TensorRT engine cache keys, engine headers and INT8 calibration batching, without TensorRT."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from decode_margins import assert_leading_persons_found

from centerpose_core.affine import preprocess
from centerpose_core.export.options import BuildOptions
from centerpose_core.export.tensorrt.build import TensorRTUnavailableError, engine_key, fp32_layer_names
from centerpose_core.export.tensorrt.cache import (
    EngineCache,
    EngineKey,
    StaleEngineError,
    check_engine_key,
    read_engine,
    write_engine,
)
from centerpose_core.export.tensorrt.calibrator import CalibrationBatches, CalibrationCacheFile

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None

KEY = EngineKey(
    onnx_sha256="a" * 64,
    tensorrt_version="10.3.0",
    gpu_name="Orin (nvgpu)",
    compute_capability="8.7",
    precision="fp16",
    input_size=512,
)


@pytest.mark.parametrize(
    "change",
    [
        {"onnx_sha256": "b" * 64},
        {"tensorrt_version": "10.3.1"},
        {"tensorrt_version": "8.5.2"},
        {"gpu_name": "NVIDIA GeForce RTX 4090"},
        {"compute_capability": "8.9"},
        {"precision": "fp32"},
        {"input_size": 384},
        {"max_batch": 2},
    ],
)
def test_every_key_field_changes_the_cache_file(change):
    other = replace(KEY, **change)
    assert other.digest() != KEY.digest()
    assert other.file_name() != KEY.file_name()
    assert KEY.mismatches(other) == [
        f"{name}: {value!r} != {getattr(KEY, name)!r}" for name, value in change.items()
    ]


def test_key_is_deterministic_and_readable():
    assert KEY.digest() == replace(KEY).digest()
    assert KEY.file_name().startswith("centerpose-fp16-512-b1-trt10.3.0-orin-nvgpu-")
    with pytest.raises(ValueError, match="precision"):
        replace(KEY, precision="int4")
    with pytest.raises(ValueError, match="int8"):
        replace(KEY, calibration_sha256="c" * 64)


def test_cache_builds_once_and_rebuilds_for_another_tensorrt(tmp_path):
    cache = EngineCache(tmp_path)
    builds = []

    def build(tag):
        return lambda: builds.append(tag) or f"engine-{tag}".encode()

    engine, path, built = cache.get_or_build(KEY, build("first"))
    assert (engine, built) == (b"engine-first", True)
    engine, same_path, built = cache.get_or_build(KEY, build("again"))
    assert (engine, same_path, built) == (b"engine-first", path, False)
    newer = replace(KEY, tensorrt_version="10.4.0")
    engine, other_path, built = cache.get_or_build(newer, build("newer"))
    assert (engine, built) == (b"engine-newer", True) and other_path != path
    assert builds == ["first", "newer"]


def test_engine_header_round_trip_and_raw_engines(tmp_path):
    path = write_engine(tmp_path / "model.engine", KEY, b"\x00serialized\xff")
    assert read_engine(path) == (KEY, b"\x00serialized\xff")
    raw = tmp_path / "trtexec.engine"
    raw.write_bytes(b"raw engine bytes")
    assert read_engine(raw) == (None, b"raw engine bytes")
    with pytest.raises(FileNotFoundError, match="missing.engine"):
        read_engine(tmp_path / "missing.engine")


def test_stale_engine_from_another_tensorrt_is_refused_by_name(tmp_path):
    path = write_engine(tmp_path / "robot.engine", replace(KEY, tensorrt_version="8.5.2"), b"x")
    found, _ = read_engine(path)
    with pytest.raises(
        StaleEngineError, match=r"robot\.engine: stale TensorRT engine \(tensorrt_version: '8\.5\.2'"
    ):
        check_engine_key(path, found, KEY)
    # A renamed stale file inside the cache directory is refused too, never reused.
    cache = EngineCache(tmp_path / "cache")
    cache.path_for(KEY).parent.mkdir(parents=True)
    path.replace(cache.path_for(KEY))
    with pytest.raises(StaleEngineError, match="tensorrt_version"):
        cache.lookup(KEY)


def test_corrupt_engine_header_is_named(tmp_path):
    path = write_engine(tmp_path / "broken.engine", KEY, b"x")
    data = bytearray(path.read_bytes())
    data[25:30] = b"#####"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"broken\.engine: corrupt engine header"):
        read_engine(path)


def _write_images(folder, count, size=(40, 60)):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        cv2.imwrite(str(folder / f"img{i:02d}.png"), rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return sorted(folder.glob("*.png"))


def test_calibration_batches_are_full_and_preprocessed_like_inference(tmp_path):
    paths = _write_images(tmp_path / "calib", 7)
    batches = CalibrationBatches(tmp_path / "calib", input_size=64, batch_size=3)
    assert len(batches) == 2  # 7 images -> two full batches, the seventh is dropped
    produced = list(batches)
    assert [b.shape for b in produced] == [(3, 3, 64, 64)] * 2
    assert all(b.dtype == np.float32 for b in produced)
    for index, path in enumerate(paths[:6]):
        expected, _ = preprocess(cv2.imread(str(path)), 64)
        np.testing.assert_array_equal(produced[index // 3][index % 3], expected)
    assert batches.used_images == paths[:6]


def test_calibration_fingerprint_follows_the_images(tmp_path):
    _write_images(tmp_path / "calib", 4)
    first = CalibrationBatches(tmp_path / "calib", 64, 2).fingerprint()
    assert first == CalibrationBatches(tmp_path / "calib", 64, 2).fingerprint()
    assert first != CalibrationBatches(tmp_path / "calib", 96, 2).fingerprint()
    cv2.imwrite(str(tmp_path / "calib" / "img00.png"), np.zeros((40, 60, 3), np.uint8))
    assert first != CalibrationBatches(tmp_path / "calib", 64, 2).fingerprint()


def test_calibration_input_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        CalibrationBatches(tmp_path / "nowhere", 64)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no images"):
        CalibrationBatches(tmp_path / "empty", 64)
    _write_images(tmp_path / "few", 2)
    with pytest.raises(ValueError, match="has 2 images, fewer than one batch of 8"):
        CalibrationBatches(tmp_path / "few", 64, batch_size=8)


def test_calibration_cache_file_round_trip(tmp_path):
    cache = CalibrationCacheFile(tmp_path / "sub" / "calib.cache")
    assert cache.read() is None
    cache.write(b"TRT-8601-EntropyCalibration2\ninput: 3c010a14\n")
    assert cache.read() == b"TRT-8601-EntropyCalibration2\ninput: 3c010a14\n"
    assert CalibrationCacheFile(None).read() is None


def test_int8_key_includes_the_calibration_set(tmp_path, native_onnx):
    _write_images(tmp_path / "calib", 4)
    options = BuildOptions(precision="int8", calibration_folder=str(tmp_path / "calib"), calibration_batch=2)
    gpu = ("NVIDIA H100", "9.0")
    key = engine_key(native_onnx, options, 128, "10.3.0", gpu)
    assert key.precision == "int8" and len(key.calibration_sha256) == 64
    fp16 = engine_key(native_onnx, BuildOptions(), 128, "10.3.0", gpu)
    assert fp16.calibration_sha256 == "" and fp16.digest() != key.digest()
    with pytest.raises(ValueError, match="int8 needs a calibration"):
        BuildOptions(precision="int8")


def test_fp32_pinned_layers_are_the_sampling_subgraph(decomposed_onnx):
    import onnx

    names = [node.name for node in onnx.load(str(decomposed_onnx), load_external_data=False).graph.node]
    pinned = fp32_layer_names(names)
    ops = {
        node.name: node.op_type
        for node in onnx.load(str(decomposed_onnx), load_external_data=False).graph.node
    }
    assert {ops[name] for name in pinned} >= {"Floor", "Clip", "Greater", "Less"}
    assert sum(ops[name] == "Floor" for name in pinned) == 2 * 16  # y and x of all 16 DCNs
    assert all(ops[name] != "MatMul" for name in pinned)  # the convolution itself may run in FP16


@pytest.mark.skipif(
    HAS_TENSORRT, reason="TensorRT is installed: the missing-TensorRT message cannot be shown"
)
def test_tensorrt_backend_without_tensorrt_says_what_to_do(native_onnx):
    from centerpose_core.runtime import Predictor

    with pytest.raises(TensorRTUnavailableError, match="TensorRT is not installed.*onnxruntime"):
        Predictor(native_onnx, backend="tensorrt", input_size=128)


def test_torch2trt_absent_points_to_onnx(pose_model):
    if importlib.util.find_spec("torch2trt") is not None:
        pytest.skip("torch2trt is installed")
    from centerpose_core.runtime import Predictor
    from centerpose_core.runtime.torch2trt_backend import Torch2TRTUnavailableError

    with pytest.raises(Torch2TRTUnavailableError, match="centerpose export"):
        Predictor(pose_model, backend="torch2trt", input_size=128)


needs_tensorrt_gpu = pytest.mark.skipif(
    not (HAS_TENSORRT and torch.cuda.is_available()), reason="needs TensorRT and a CUDA GPU"
)


@pytest.mark.gpu
@needs_tensorrt_gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_gives_the_torch_persons(precision, native_onnx, pose_model, real_images, tmp_path):
    from centerpose_core.runtime import Predictor

    engine_dir = tmp_path / "engines"
    reference = Predictor(pose_model, input_size=128)
    trt_predictor = Predictor(
        native_onnx, backend="tensorrt", input_size=128, precision=precision, cache_dir=engine_dir
    )
    assert len(list(engine_dir.glob("*.engine"))) == 1
    # Reduced precision moves scores by up to ~1e-3 (FP32 with TF32) or ~1e-2 (FP16): near-tied
    # peaks may swap ranks or NMS cells, so persons are matched loosely, never by rank.
    score_tolerance = 2e-3 if precision == "fp32" else 2e-2
    for image in real_images:
        cell = max(image.shape[:2]) / reference.output_size
        assert_leading_persons_found(
            reference.predict(image), trt_predictor.predict(image), score_tolerance=score_tolerance, cell=cell
        )
    Predictor(native_onnx, backend="tensorrt", input_size=128, precision=precision, cache_dir=engine_dir)
    assert len(list(engine_dir.glob("*.engine"))) == 1  # cached, not rebuilt


@pytest.mark.gpu
@needs_tensorrt_gpu
def test_decomposed_fp16_engine_keeps_sampling_in_fp32(decomposed_onnx, pose_model, real_images, tmp_path):
    from centerpose_core.runtime import Predictor

    backend = Predictor(decomposed_onnx, backend="tensorrt", input_size=128, cache_dir=tmp_path).backend
    batch = np.stack([preprocess(image, 128)[0] for image in real_images[:2]])
    with torch.inference_mode():
        expected = pose_model(torch.from_numpy(batch))
    heads = backend(batch)
    assert (heads["hm"].cpu() - expected["hm"]).abs().max().item() < 0.1
