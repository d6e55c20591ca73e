"""Build (and cache) a TensorRT engine from an exported ONNX file with the TensorRT Python API.

Precisions, per TensorRT release (see `tensorrt_versions` for the table and the documents it follows):
  * fp32: TF32 cleared (BuilderFlag.TF32 is on by default), so "fp32" means IEEE FP32 convolutions.
  * fp16 on 8.5-10.x (weakly typed network): BuilderFlag.FP16, with the DCN sampling layers
    (ONNX names starting with `decomposed_dcn.FP32_NODE_PREFIX`) and the native DeformConv plugin
    layers pinned to FP32 (layer.precision + set_output_type + OBEY_PRECISION_CONSTRAINTS), so a
    sampling position is never rounded to a half float.
  * fp16 on 11 (strongly typed, no FP16 flag): the network is parsed from an FP16 copy of the ONNX
    file (`tensorrt_fp16`) whose sampling and DeformConv nodes stay FP32 behind Casts.
  * int8 on 8.5-10.x: an entropy calibrator over an image folder (its table keyed, see
    `tensorrt_calibrator`), or a Q/DQ ONNX file; on 11 a Q/DQ ONNX file only (`tensorrt_qdq`).
Every build runs on the requested GPU (`torch.cuda.device(index)`); engines are cached per
`EngineKey` (ONNX hash, TensorRT version, GPU, precision, size, batch, calibration).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

from centerpose_core.errors import MissingDependencyError, UserError, import_optional
from centerpose_core.export.decomposed_dcn import FP32_NODE_PREFIX
from centerpose_core.export.onnx_export import file_sha256
from centerpose_core.export.options import BuildOptions
from centerpose_core.export.tensorrt.cache import EngineCache, EngineKey
from centerpose_core.export.tensorrt.versions import (
    SUPPORTED_TEXT,
    UnsupportedTensorRTError,
    check_supported,
    has_int8_calibrator,
    native_dcn_parses,
    parse_version,
    weak_typing,
)

LOG = logging.getLogger(__name__)


class TensorRTUnavailableError(MissingDependencyError):
    """TensorRT or a CUDA GPU is missing."""


class TensorRTBuildError(UserError, RuntimeError):
    """TensorRT could not parse the file or build the engine; the message says why."""


def import_tensorrt() -> ModuleType:
    """The `tensorrt` module of a supported release, or a clear error pointing to the ONNX Runtime path."""
    instead = (
        "use backend 'onnxruntime' with the exported ONNX file, or install TensorRT (JetPack ships it; "
        "x86: pip install tensorrt)"
    )
    try:
        trt = import_optional("tensorrt", "TensorRT", instead, TensorRTUnavailableError)
    except TensorRTUnavailableError:
        raise
    except (OSError, RuntimeError) as exc:  # e.g. the PyPI stub, or libnvinfer missing
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise TensorRTUnavailableError(
            f"TensorRT cannot be loaded ({type(exc).__name__}: {first_line}); {instead}"
        ) from exc
    check_supported(trt.__version__)
    return trt


def require_cuda(device: str = "cuda") -> str:
    """'cuda:<index>' for the requested GPU ('cuda' = the current one); an error when there is none."""
    import torch

    if not torch.cuda.is_available():
        raise TensorRTUnavailableError(
            "TensorRT needs a CUDA GPU, but torch.cuda.is_available() is False; use backend 'onnxruntime'"
        )
    requested = torch.device(device if str(device).startswith("cuda") else "cuda")
    index = requested.index if requested.index is not None else torch.cuda.current_device()
    count = torch.cuda.device_count()
    if not 0 <= index < count:
        raise TensorRTUnavailableError(f"device {device!r}: this machine has {count} CUDA GPU(s) (cuda:0..)")
    return f"cuda:{index}"


def device_index(device: str) -> int:
    import torch

    return torch.device(device).index or 0


def gpu_identity(device: str = "cuda") -> tuple[str, str]:
    import torch

    index = device_index(device)
    major, minor = torch.cuda.get_device_capability(index)
    return torch.cuda.get_device_name(index), f"{major}.{minor}"


def engine_key(
    onnx_path: str | Path, options: BuildOptions, input_size: int, tensorrt_version: str, gpu: tuple[str, str]
) -> EngineKey:
    calibration = ""
    if options.precision == "int8":
        calibration = _calibration_fingerprint(onnx_path, options, input_size)
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


def _calibration_fingerprint(onnx_path: str | Path, options: BuildOptions, input_size: int) -> str:
    import hashlib

    from centerpose_core.export.tensorrt.calibrator import CalibrationBatches
    from centerpose_core.export.tensorrt.qdq import is_qdq

    if is_qdq(onnx_path):  # the scales are in the file: its hash is the whole story
        return "qdq"
    if options.calibration_folder:
        return CalibrationBatches(options.calibration_folder, input_size, batch_size=1).fingerprint()
    return hashlib.sha256(Path(options.calibration_cache).read_bytes()).hexdigest()


def fp32_layer_names(layer_names: list[str]) -> list[str]:
    """Layers TensorRT must keep in FP32: those built from the DCN sampling-coordinate nodes."""
    return [name for name in layer_names if name.startswith(FP32_NODE_PREFIX)]


def build_engine_bytes(
    onnx_path: str | Path,
    options: BuildOptions,
    input_size: int,
    device: str = "cuda",
    *,
    work_dir: str | Path | None = None,
) -> bytes:
    """Parse the ONNX file and build a serialized engine on `device` (needs TensorRT and a GPU).

    `work_dir` holds derived files (the FP16 copy for TensorRT 11); by default the engine cache.
    """
    import torch

    trt = import_tensorrt()
    device = require_cuda(device)
    with torch.cuda.device(device_index(device)):  # builder, calibration buffers and tactics on this GPU
        try:
            return _build(trt, Path(onnx_path), options, input_size, device, work_dir)
        except AttributeError as exc:  # an API this release lacks: one line, not a traceback
            raise UnsupportedTensorRTError(
                f"TensorRT {trt.__version__} lacks an API the build needs ({exc}); "
                f"supported: {SUPPORTED_TEXT}"
            ) from exc


def check_buildable(trt, onnx_path: str | Path, options: BuildOptions) -> None:
    """Fail before any work when this TensorRT cannot build `onnx_path` at `options.precision`:
    native DeformConv below 10.1, INT8 on a strongly typed release from a file without Q/DQ."""
    from centerpose_core.export.onnx_checks import uses_deform_conv
    from centerpose_core.export.tensorrt.qdq import is_qdq

    version = trt.__version__
    if uses_deform_conv(onnx_path) and not native_dcn_parses(version):
        raise TensorRTBuildError(
            f"{onnx_path} uses ONNX DeformConv, which TensorRT {version} cannot parse (needs >= 10.1); "
            "export it with --dcn decomposed"
        )
    if options.precision == "int8" and not weak_typing(trt):
        _require_tensorrt_qdq(Path(onnx_path), is_qdq(onnx_path))


def _build(trt, onnx_path: Path, options: BuildOptions, input_size: int, device: str, work_dir) -> bytes:
    from centerpose_core.export.tensorrt.qdq import is_qdq

    version = trt.__version__
    check_buildable(trt, onnx_path, options)
    weak = weak_typing(trt)
    quantized = is_qdq(onnx_path)
    parse_path = _network_source(onnx_path, options, weak, quantized, work_dir)

    logger = trt.Logger(trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(logger, "")  # ModulatedDeformConv2d for native DeformConv
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt, strongly_typed=not weak))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(parse_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise TensorRTBuildError(f"TensorRT {version} cannot parse {parse_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_gib * (1 << 30)))

    input_tensor = network.get_input(0)
    dynamic = input_tensor.shape[0] == -1
    if dynamic:  # one profile up to max_batch
        profile = builder.create_optimization_profile()
        shape = tuple(input_tensor.shape)[1:]
        optimal = (options.max_batch, *shape)
        profile.set_shape(input_tensor.name, (1, *shape), optimal, optimal)
        config.add_optimization_profile(profile)

    if hasattr(trt.BuilderFlag, "TF32"):  # on by default; "fp32" means FP32 (reduced precision: fp16)
        config.clear_flag(trt.BuilderFlag.TF32)
    if weak and options.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
        pinned = pin_fp32_layers(trt, network, _deform_conv_node_names(onnx_path))
        if pinned:
            config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
            LOG.info("kept %d DCN sampling / DeformConv layers in FP32", pinned)
    if weak and (options.precision == "int8" or quantized):
        config.set_flag(trt.BuilderFlag.INT8)  # a Q/DQ file's scales, or the calibrator's
        if not quantized:
            _attach_calibrator(trt, builder, config, input_tensor, onnx_path, options, input_size, device)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise TensorRTBuildError(
            f"TensorRT {version} failed to build an engine from {onnx_path} (see its log)"
        )
    return bytes(engine)


def _network_flags(trt, *, strongly_typed: bool) -> int:
    """NetworkDefinitionCreationFlag bits: EXPLICIT_BATCH before 10 (ignored from 10.0 on),
    STRONGLY_TYPED where precision flags are gone (accepted and implied on 11)."""
    flags = 0
    if parse_version(trt.__version__) < (10, 0):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return flags


def _network_source(onnx_path: Path, options: BuildOptions, weak: bool, quantized: bool, work_dir) -> Path:
    """The ONNX file TensorRT parses: the file itself, or (strongly typed FP16) its FP16 copy.

    Strongly typed INT8 reaches here only from a Q/DQ file (`check_buildable` refused the rest)."""
    if weak or options.precision == "fp32" or quantized:  # a Q/DQ file keeps its own types
        return onnx_path
    from centerpose_core.export.tensorrt.fp16 import cached_fp16_onnx

    folder = Path(work_dir) if work_dir is not None else _default_engine_dir() / "fp16-onnx"
    return cached_fp16_onnx(onnx_path, folder)


def _require_tensorrt_qdq(onnx_path: Path, quantized: bool) -> None:
    from centerpose_core.export.tensorrt.qdq import qdq_problems

    if not quantized:
        raise UnsupportedTensorRTError(
            f"TensorRT 11 builds INT8 only from a Q/DQ ONNX file (explicit quantization; it has no "
            f"calibrators), and {onnx_path} has no QuantizeLinear nodes: build from a symmetric INT8 "
            "Q/DQ export, use --precision fp16, or TensorRT 10.x for calibrated INT8"
        )
    problems = qdq_problems(onnx_path)
    if problems:
        raise TensorRTBuildError(f"{onnx_path}: TensorRT cannot take this Q/DQ file: {'; '.join(problems)}")


def _attach_calibrator(trt, builder, config, input_tensor, onnx_path, options, input_size, device) -> None:
    """Implicit quantization (8.5-10.x): IInt8EntropyCalibrator2 over the images or a keyed table."""
    from centerpose_core.export.tensorrt.calibrator import (
        CalibrationBatches,
        CalibrationCacheFile,
        calibration_key,
        make_entropy_calibrator,
    )

    if not has_int8_calibrator(trt):
        raise UnsupportedTensorRTError(
            f"TensorRT {trt.__version__} has no INT8 calibrator; build from a Q/DQ ONNX file instead"
        )
    dynamic = input_tensor.shape[0] == -1
    # A static-batch network is calibrated with its own batch size (explicit batch).
    calibration_batch = options.calibration_batch if dynamic else int(input_tensor.shape[0])
    onnx_sha = file_sha256(onnx_path)
    if options.calibration_folder:
        batches = CalibrationBatches(options.calibration_folder, input_size, calibration_batch)
        key = calibration_key(onnx_sha, batches.fingerprint(), calibration_batch)
        cache = CalibrationCacheFile(options.calibration_cache, key, onnx_sha256=onnx_sha)
    else:  # a table alone: it must be there and belong to this ONNX file
        batches = _EmptyBatches(input_size, calibration_batch)
        cache = CalibrationCacheFile(options.calibration_cache, None, onnx_sha256=onnx_sha)
        cache.check_usable()
    config.int8_calibrator = make_entropy_calibrator(batches, cache, device, trt=trt)
    if dynamic:
        profile = builder.create_optimization_profile()
        fixed = (calibration_batch, *tuple(input_tensor.shape)[1:])
        profile.set_shape(input_tensor.name, fixed, fixed, fixed)
        config.set_calibration_profile(profile)


class _EmptyBatches:
    """Calibration from a table only: TensorRT reads the table and asks for no batch."""

    def __init__(self, input_size: int, batch_size: int) -> None:
        self.input_size = input_size
        self.batch_size = batch_size

    def __iter__(self):
        return iter(())


def _deform_conv_node_names(onnx_path: Path) -> set[str]:
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return {node.name for node in graph.node if node.op_type == "DeformConv" and node.name}


def _plugin_layer_types(trt) -> set:
    names = ("PLUGIN", "PLUGIN_V2", "PLUGIN_V3")
    return {getattr(trt.LayerType, name) for name in names if hasattr(trt.LayerType, name)}


def pin_fp32_layers(trt, network, deform_conv_nodes: set[str] = frozenset()) -> int:
    """Pin the DCN sampling layers and the DeformConv plugin layers to FP32 (weakly typed networks).

    A layer is pinned when its name carries the sampling prefix, names a DeformConv node (the ONNX
    parser names layers after their nodes), or it is a plugin layer (this network's only plugins
    are the ModulatedDeformConv2d layers of native DeformConv). Integer layers (index arithmetic)
    have no precision to pin. Returns the number of layers pinned.
    """
    plugin_types = _plugin_layer_types(trt)
    pinned = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        wanted = (
            layer.name.startswith(FP32_NODE_PREFIX)
            or layer.name in deform_conv_nodes
            or any(layer.name.startswith(f"{node}_") for node in deform_conv_nodes)
            or layer.type in plugin_types
        )
        if not wanted:
            continue
        float_outputs = [
            j for j in range(layer.num_outputs) if layer.get_output(j).dtype in (trt.float32, trt.float16)
        ]
        if not float_outputs:
            continue
        layer.precision = trt.float32
        for j in float_outputs:
            layer.set_output_type(j, trt.float32)
        pinned += 1
    return pinned


def _default_engine_dir() -> Path:
    from centerpose_core.export.cache import default_cache_dir

    return default_cache_dir() / "engines"


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
    check_buildable(trt, onnx_path, options)
    key = engine_key(onnx_path, options, input_size, trt.__version__, gpu_identity(device))
    cache_dir = Path(cache_dir) if cache_dir is not None else _default_engine_dir()
    cache = EngineCache(cache_dir)
    return cache.get_or_build(
        key,
        lambda: build_engine_bytes(onnx_path, options, input_size, device, work_dir=cache_dir / "fp16-onnx"),
    )
