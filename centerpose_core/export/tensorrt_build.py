"""Build (and cache) a TensorRT engine from an exported ONNX file with the TensorRT Python API.

FP16 by default, FP32, or INT8 with an entropy calibrator over a folder of images. The
decomposed DCN's sampling-coordinate layers (ONNX node names starting with
`decomposed_dcn.FP32_NODE_PREFIX`) are pinned to FP32 with precision constraints, so an FP16
engine never rounds a sampling position to a half float. Engines are cached per
`EngineKey` (ONNX hash, TensorRT version, GPU, precision, size, batch, calibration).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

from centerpose_core.errors import MissingDependencyError, import_optional
from centerpose_core.export.decomposed_dcn import FP32_NODE_PREFIX
from centerpose_core.export.onnx_export import file_sha256
from centerpose_core.export.options import BuildOptions
from centerpose_core.export.tensorrt_cache import EngineCache, EngineKey

LOG = logging.getLogger(__name__)


class TensorRTUnavailableError(MissingDependencyError):
    """TensorRT or a CUDA GPU is missing."""


def import_tensorrt() -> ModuleType:
    """The `tensorrt` module, or a clear error pointing to the ONNX Runtime path."""
    return import_optional(
        "tensorrt",
        "TensorRT",
        "use backend 'onnxruntime' with the exported ONNX file, or install TensorRT (JetPack ships it; "
        "x86: pip install tensorrt)",
        TensorRTUnavailableError,
    )


def require_cuda(device: str = "cuda") -> str:
    import torch

    if not torch.cuda.is_available():
        raise TensorRTUnavailableError(
            "TensorRT needs a CUDA GPU, but torch.cuda.is_available() is False; use backend 'onnxruntime'"
        )
    return device if device.startswith("cuda") else "cuda"


def gpu_identity(device: str = "cuda") -> tuple[str, str]:
    import torch

    index = torch.device(device).index or 0
    major, minor = torch.cuda.get_device_capability(index)
    return torch.cuda.get_device_name(index), f"{major}.{minor}"


def engine_key(
    onnx_path: str | Path, options: BuildOptions, input_size: int, tensorrt_version: str, gpu: tuple[str, str]
) -> EngineKey:
    calibration = ""
    if options.precision == "int8":
        calibration = _calibration_fingerprint(options, input_size)
    return EngineKey(
        onnx_sha256=file_sha256(onnx_path),
        tensorrt_version=tensorrt_version,
        gpu_name=gpu[0],
        compute_capability=gpu[1],
        precision=options.precision,
        input_size=input_size,
        max_batch=options.max_batch,
        calibration_sha256=calibration,
    )


def _calibration_fingerprint(options: BuildOptions, input_size: int) -> str:
    import hashlib

    from centerpose_core.export.tensorrt_calibrator import CalibrationBatches

    if options.calibration_folder:
        return CalibrationBatches(options.calibration_folder, input_size, batch_size=1).fingerprint()
    return hashlib.sha256(Path(options.calibration_cache).read_bytes()).hexdigest()


def fp32_layer_names(layer_names: list[str]) -> list[str]:
    """Layers TensorRT must keep in FP32: those built from the DCN sampling-coordinate nodes."""
    return [name for name in layer_names if name.startswith(FP32_NODE_PREFIX)]


def build_engine_bytes(
    onnx_path: str | Path, options: BuildOptions, input_size: int, device: str = "cuda"
) -> bytes:
    """Parse the ONNX file and build a serialized engine (needs TensorRT and a GPU)."""
    trt = import_tensorrt()
    require_cuda(device)
    logger = trt.Logger(trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(logger, "")  # ModulatedDeformConv2d for native DeformConv
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"TensorRT {trt.__version__} cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_gib * (1 << 30)))

    input_tensor = network.get_input(0)
    if input_tensor.shape[0] == -1:  # dynamic batch: one profile up to max_batch
        profile = builder.create_optimization_profile()
        shape = tuple(input_tensor.shape)[1:]
        optimal = (options.max_batch, *shape)
        profile.set_shape(input_tensor.name, (1, *shape), optimal, optimal)
        config.add_optimization_profile(profile)

    if options.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
        pinned = _pin_fp32_layers(trt, network)
        if pinned:
            config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
            LOG.info("kept %d DCN sampling layers in FP32", pinned)
    if options.precision == "int8":
        from centerpose_core.export.tensorrt_calibrator import CalibrationBatches, make_entropy_calibrator

        config.set_flag(trt.BuilderFlag.INT8)
        # A static-batch network is calibrated with its own batch size (explicit batch).
        dynamic = input_tensor.shape[0] == -1
        calibration_batch = options.calibration_batch if dynamic else int(input_tensor.shape[0])
        batches = (
            CalibrationBatches(options.calibration_folder, input_size, calibration_batch)
            if options.calibration_folder
            else _EmptyBatches(input_size, calibration_batch)
        )
        config.int8_calibrator = make_entropy_calibrator(batches, options.calibration_cache, device)
        if dynamic:
            profile = builder.create_optimization_profile()
            fixed = (calibration_batch, *tuple(input_tensor.shape)[1:])
            profile.set_shape(input_tensor.name, fixed, fixed, fixed)
            config.set_calibration_profile(profile)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise RuntimeError(
            f"TensorRT {trt.__version__} failed to build an engine from {onnx_path} (see its log)"
        )
    return bytes(engine)


class _EmptyBatches:
    """Calibration from a cache file only: TensorRT reads the table and asks for no batch."""

    def __init__(self, input_size: int, batch_size: int) -> None:
        self.input_size = input_size
        self.batch_size = batch_size

    def __iter__(self):
        return iter(())


def _pin_fp32_layers(trt, network) -> int:
    names = [network.get_layer(i).name for i in range(network.num_layers)]
    pinned = set(fp32_layer_names(names))
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.name not in pinned:
            continue
        float_outputs = [
            j for j in range(layer.num_outputs) if layer.get_output(j).dtype in (trt.float32, trt.float16)
        ]
        if not float_outputs:  # integer index arithmetic has no precision to pin
            continue
        layer.precision = trt.float32
        for j in float_outputs:
            layer.set_output_type(j, trt.float32)
    return len(pinned)


def build_or_load_engine(
    onnx_path: str | Path,
    *,
    input_size: int,
    options: BuildOptions | None = None,
    cache_dir: str | Path | None = None,
    device: str = "cuda",
) -> tuple[bytes, Path, bool]:
    """(engine bytes, cached engine path, whether it was built now) for this ONNX file and GPU."""
    options = options or BuildOptions()
    trt = import_tensorrt()
    device = require_cuda(device)
    key = engine_key(onnx_path, options, input_size, trt.__version__, gpu_identity(device))
    if cache_dir is None:
        from centerpose_core.export.cache import default_cache_dir

        cache_dir = default_cache_dir() / "engines"
    cache = EngineCache(cache_dir)
    return cache.get_or_build(key, lambda: build_engine_bytes(onnx_path, options, input_size, device))
