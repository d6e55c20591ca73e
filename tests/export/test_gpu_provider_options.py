"""ONNX Runtime's CUDA and TensorRT providers get the GPU index, FP16 and an engine cache (issue 11).

Option names as in ONNX Runtime's "TensorRT Execution Provider" / "CUDA Execution Provider" pages
(device_id, trt_fp16_enable, trt_engine_cache_enable, trt_engine_cache_path, trt_timing_cache_*).
The GPU providers are not in this machine's onnxruntime, so the options are checked as built.
"""

from __future__ import annotations

from centerpose_core.runtime.onnxruntime_backend import provider_options

GPU_PROVIDERS = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_second_gpu_fp16_and_an_engine_cache_under_our_root(tmp_path):
    trt, cuda, cpu = provider_options(GPU_PROVIDERS, "cuda:1", cache_root=tmp_path)
    assert trt == (
        "TensorrtExecutionProvider",
        {
            "device_id": 1,
            "trt_fp16_enable": True,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(tmp_path / "ort-tensorrt"),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(tmp_path / "ort-tensorrt"),
        },
    )
    assert (tmp_path / "ort-tensorrt").is_dir()
    assert cuda == ("CUDAExecutionProvider", {"device_id": 1})
    assert cpu == "CPUExecutionProvider"


def test_plain_cuda_is_device_0_and_fp32_on_request(tmp_path):
    trt, cuda, _ = provider_options(GPU_PROVIDERS, "cuda", tensorrt_fp16=False, cache_root=tmp_path)
    assert trt[1]["device_id"] == 0 and trt[1]["trt_fp16_enable"] is False
    assert cuda == ("CUDAExecutionProvider", {"device_id": 0})


def test_default_cache_root_is_ours_and_explicit_options_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CENTERPOSE_CACHE", str(tmp_path / "root"))
    mine = ("TensorrtExecutionProvider", {"device_id": 3})
    assert provider_options([mine, "CPUExecutionProvider"], "cuda:1") == [mine, "CPUExecutionProvider"]
    trt, _ = provider_options(GPU_PROVIDERS[:2], "cuda:0")
    assert trt[1]["trt_engine_cache_path"] == str(tmp_path / "root" / "ort-tensorrt")
    assert provider_options(["CPUExecutionProvider"], "cpu") == ["CPUExecutionProvider"]
