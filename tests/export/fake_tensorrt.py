"""Fake `tensorrt` modules that record calls, with exactly the Python API surface of one release.

No GPU and no TensorRT here, so the engine build is checked against stand-ins whose attribute
sets follow NVIDIA's documents:
  * TensorRT Python API reference (docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api):
    Builder, NetworkDefinitionCreationFlag (EXPLICIT_BATCH ignored from 10.0, STRONGLY_TYPED:
    "Setting layer precision and layer output types is not allowed"), IBuilderConfig (set_flag /
    clear_flag / int8_calibrator / set_calibration_profile), BuilderFlag (TF32 on by default),
    IInt8EntropyCalibrator2 callbacks (get_batch_size, get_batch, read/write_calibration_cache).
  * "Removed Python APIs and Replacements" of the TensorRT 10.x -> 11.x migration guide: 11 has no
    BuilderFlag.FP16/INT8/BF16/FP8/OBEY_PRECISION_CONSTRAINTS/PREFER_PRECISION_CONSTRAINTS, no
    IBuilderConfig.int8_calibrator, set_calibration_profile, nor the INT8 calibrator classes.
The fake ONNX parser makes one layer per ONNX node, named after the node as TensorRT's parser does;
a DeformConv node becomes a plugin layer (ModulatedDeformConv2d), integer-typed nodes give integer
outputs. The fake builder drives a calibrator exactly as TensorRT documents: read the cache; when
there is none, ask for batches until get_batch returns None, then write the cache.
"""

from __future__ import annotations

import enum
import types
from dataclasses import dataclass, field
from pathlib import Path

import onnx

WEAK_FLAGS = ("FP16", "INT8", "BF16", "FP8", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS")


@dataclass
class Record:
    """What one fake TensorRT saw."""

    network_flags: list[int] = field(default_factory=list)
    parsed: list[Path] = field(default_factory=list)
    configs: list = field(default_factory=list)
    build_devices: list = field(default_factory=list)
    calibration_batches: int = 0
    calibration_shapes: list = field(default_factory=list)


class DataType(enum.Enum):
    FLOAT = "float32"
    HALF = "float16"
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"
    INT8 = "int8"


_ONNX_TO_TRT = {
    onnx.TensorProto.FLOAT: DataType.FLOAT,
    onnx.TensorProto.FLOAT16: DataType.HALF,
    onnx.TensorProto.INT32: DataType.INT32,
    onnx.TensorProto.INT64: DataType.INT64,
    onnx.TensorProto.BOOL: DataType.BOOL,
    onnx.TensorProto.INT8: DataType.INT8,
}


def make_fake_tensorrt(version: str, *, current_device=lambda: 0) -> tuple[types.ModuleType, Record]:
    """A `tensorrt` module of `version` ('8.6.1', '10.0.1', '10.3.0', '11.0.0') and its record."""
    major, minor = (int(part) for part in version.split(".")[:2])
    strongly_typed_only = major >= 11
    record = Record()
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.float32, trt.float16, trt.int32, trt.int64, trt.bool, trt.int8 = (
        DataType.FLOAT,
        DataType.HALF,
        DataType.INT32,
        DataType.INT64,
        DataType.BOOL,
        DataType.INT8,
    )

    flag_names = ["TF32", "REFIT", "DEBUG", "GPU_FALLBACK", "SPARSE_WEIGHTS"]
    if not strongly_typed_only:
        flag_names += list(WEAK_FLAGS)
    trt.BuilderFlag = enum.Enum("BuilderFlag", flag_names)
    creation = ["EXPLICIT_BATCH"]
    if major >= 10:
        creation.append("STRONGLY_TYPED")
    trt.NetworkDefinitionCreationFlag = enum.IntEnum(
        "NetworkDefinitionCreationFlag", {name: i for i, name in enumerate(creation)}
    )
    trt.MemoryPoolType = enum.Enum("MemoryPoolType", ["WORKSPACE"])
    trt.LayerType = enum.Enum("LayerType", ["CONVOLUTION", "ELEMENTWISE", "PLUGIN_V2", "PLUGIN_V3", "CAST"])

    class Logger:
        WARNING = "warning"

        def __init__(self, severity=None) -> None:
            self.severity = severity

    trt.Logger = Logger
    trt.init_libnvinfer_plugins = lambda logger, namespace: True

    class Tensor:
        def __init__(self, name, shape, dtype) -> None:
            self.name, self.shape, self.dtype = name, shape, dtype

    class Layer:
        def __init__(self, network, name, layer_type, outputs) -> None:
            self._network = network
            self.name = name
            self.type = layer_type
            self._outputs = outputs
            self._precision = None
            self.output_types = {}

        @property
        def num_outputs(self) -> int:
            return len(self._outputs)

        def get_output(self, index):
            return self._outputs[index]

        @property
        def precision(self):
            return self._precision

        @precision.setter
        def precision(self, value) -> None:
            if self._network.strongly_typed:
                raise RuntimeError("strongly typed network: setting layer precision is not allowed")
            self._precision = value

        def set_output_type(self, index, dtype) -> None:
            if self._network.strongly_typed:
                raise RuntimeError("strongly typed network: setting layer output types is not allowed")
            self.output_types[index] = dtype

    class Network:
        def __init__(self, flags: int) -> None:
            typed_bit = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if major >= 10 else 0
            self.strongly_typed = strongly_typed_only or bool(flags & typed_bit)
            self.layers: list[Layer] = []
            self.inputs: list[Tensor] = []

        @property
        def num_layers(self) -> int:
            return len(self.layers)

        def get_layer(self, index):
            return self.layers[index]

        def get_input(self, index):
            return self.inputs[index]

    class OnnxParser:
        def __init__(self, network, logger) -> None:
            self.network = network
            self.num_errors = 0

        def parse_from_file(self, path: str) -> bool:
            record.parsed.append(Path(path))
            model = onnx.load(path, load_external_data=False)
            inferred = onnx.shape_inference.infer_shapes(model)
            types_ = {init.name: init.data_type for init in model.graph.initializer}
            for value in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
                types_[value.name] = value.type.tensor_type.elem_type
            initializers = {init.name for init in model.graph.initializer}
            for value in model.graph.input:
                if value.name in initializers:
                    continue
                dims = [
                    d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim
                ]
                self.network.inputs.append(Tensor(value.name, tuple(dims), DataType.FLOAT))
            for node in model.graph.node:
                layer_type = (
                    trt.LayerType.PLUGIN_V2 if node.op_type == "DeformConv" else trt.LayerType.ELEMENTWISE
                )
                outputs = [
                    Tensor(out, (), _ONNX_TO_TRT.get(types_.get(out, onnx.TensorProto.FLOAT), DataType.FLOAT))
                    for out in node.output
                ]
                self.network.layers.append(Layer(self.network, node.name, layer_type, outputs))
            return True

        def get_error(self, index):
            return ""

    trt.OnnxParser = OnnxParser

    class Profile:
        def __init__(self) -> None:
            self.shapes = {}

        def set_shape(self, name, low, opt, high) -> None:
            self.shapes[name] = (tuple(low), tuple(opt), tuple(high))

    class Config:
        def __init__(self) -> None:
            self.flags = {trt.BuilderFlag.TF32}  # TensorRT's default
            self.profiles = []
            self.calibration_profile = None
            self.memory = {}
            if not strongly_typed_only:
                self.int8_calibrator = None

        def set_memory_pool_limit(self, pool, size) -> None:
            self.memory[pool] = size

        def set_flag(self, flag) -> None:
            self.flags.add(flag)

        def clear_flag(self, flag) -> None:
            self.flags.discard(flag)

        def get_flag(self, flag) -> bool:
            return flag in self.flags

        def add_optimization_profile(self, profile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

    if not strongly_typed_only:

        def set_calibration_profile(self, profile) -> bool:
            self.calibration_profile = profile
            return True

        Config.set_calibration_profile = set_calibration_profile

    class Builder:
        def __init__(self, logger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0):
            record.network_flags.append(flags)
            self.network = Network(flags)
            return self.network

        def create_builder_config(self):
            config = Config()
            record.configs.append(config)
            return config

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            record.build_devices.append(current_device())
            calibrator = getattr(config, "int8_calibrator", None)
            if calibrator is not None and trt.BuilderFlag.INT8 in config.flags:
                _calibrate(calibrator, network)
            return memoryview(f"fake-engine trt{version} {len(network.layers)} layers".encode())

    def _calibrate(calibrator, network) -> None:
        if calibrator.read_calibration_cache():
            return
        name = network.get_input(0).name
        record.calibration_shapes.append(calibrator.get_batch_size())
        served = 0
        while calibrator.get_batch([name]) is not None:
            served += 1
        record.calibration_batches += served
        calibrator.write_calibration_cache(f"TRT-{major}{minor}0-EntropyCalibration2 {served}".encode())

    trt.Builder = Builder

    class Runtime:
        def __init__(self, logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, data):
            raise EngineRunNeedsGPUError(bytes(data))

    trt.Runtime = Runtime

    if not strongly_typed_only:

        class IInt8EntropyCalibrator2:
            def __init__(self) -> None:
                pass

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    return trt, record


class EngineRunNeedsGPUError(Exception):
    """The fake runtime stops here: running an engine needs a real GPU."""


class FakeCuda:
    """torch.cuda as seen by the build: `count` GPUs, a current device, `torch.cuda.device(i)`."""

    def __init__(self, count: int = 2) -> None:
        self.count = count
        self.current = 0
        self.entered: list[int] = []

    def device(self, index):
        cuda = self

        class _Context:
            def __enter__(self):  # torch.cuda.device(None) changes nothing, as torch's does
                self.previous = cuda.current
                if index is not None:
                    cuda.current = int(index)
                    cuda.entered.append(int(index))

            def __exit__(self, *exc):
                cuda.current = self.previous
                return False

        return _Context()

    def install(self, monkeypatch) -> None:
        import torch

        from centerpose_core.export.tensorrt import calibrator as tensorrt_calibrator

        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: self.count)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: self.current)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: f"Fake GPU {index}")
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: (8, 9))
        monkeypatch.setattr(torch.cuda, "device", self.device)
        self.buffers: list[str] = []

        def cpu_buffer(shape, device):  # a CUDA allocation where there is no GPU: record, use host memory
            self.buffers.append(str(device))
            return torch.empty(shape, dtype=torch.float32)

        monkeypatch.setattr(tensorrt_calibrator, "device_buffer", cpu_buffer)


def install_fake_tensorrt(
    monkeypatch, version: str, gpus: int = 2
) -> tuple[types.ModuleType, Record, FakeCuda]:
    """Put a fake `tensorrt` of `version` in sys.modules and fake `gpus` CUDA devices."""
    import sys

    cuda = FakeCuda(gpus)
    trt, record = make_fake_tensorrt(version, current_device=lambda: cuda.current)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    cuda.install(monkeypatch)
    return trt, record, cuda
