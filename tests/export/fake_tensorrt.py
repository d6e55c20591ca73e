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

Every name comes from the recorded API surface of the real release (`tensorrt_surfaces`, the
bindings' own `dir()` and enum values in ../shared/data/tensorrt_api): module-level names (`int64`
only from 10.0), enums with their real values (`BuilderFlag`, `NetworkDefinitionCreationFlag`: on 11
no EXPLICIT_BATCH and STRONGLY_TYPED = 0, `LayerType`), and each fake class keeps only the members
its real class has (11's ILayer has no `precision` / `set_output_type`; setting a missing attribute
raises AttributeError as on the pybind11 objects). `IBuilderConfig.flags` is an int bit mask.
"""

from __future__ import annotations

import enum
import types
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from tensorrt_surfaces import load_surface


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
    """A `tensorrt` module of `version` ('8.6.1', '10.0.1', '10.3.0', '11.0.0', ...: the recorded
    release it starts like) and its record."""
    surface = load_surface(version)
    major, minor = (int(part) for part in version.split(".")[:2])
    strongly_typed_only = major >= 11
    record = Record()
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    dtypes = {
        "float32": DataType.FLOAT,
        "float16": DataType.HALF,
        "int32": DataType.INT32,
        "int64": DataType.INT64,
        "bool": DataType.BOOL,
        "int8": DataType.INT8,
    }
    for name, dtype in dtypes.items():
        if name in surface.module:
            setattr(trt, name, dtype)

    for enum_name in ("BuilderFlag", "NetworkDefinitionCreationFlag", "MemoryPoolType", "LayerType"):
        setattr(trt, enum_name, enum.IntEnum(enum_name, surface.enums[enum_name]))

    class Logger(_Real):
        WARNING = "warning"

        def __init__(self, severity=None) -> None:
            self._severity = severity

    trt.Logger = Logger
    trt.init_libnvinfer_plugins = lambda logger, namespace: True

    class Tensor(_Real):
        def __init__(self, name, shape, dtype) -> None:
            self.name, self.shape, self.dtype = name, shape, dtype

    class Layer(_Real):
        _state = ("output_types",)  # what the tests read back (set_output_type's record)

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

    class Network(_Real):
        _state = ("strongly_typed", "layers", "inputs")

        def __init__(self, flags: int) -> None:
            creation = trt.NetworkDefinitionCreationFlag
            typed_bit = 1 << int(creation.STRONGLY_TYPED) if hasattr(creation, "STRONGLY_TYPED") else 0
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

    class OnnxParser(_Real):
        _state = ("network",)

        def __init__(self, network, logger) -> None:
            self.network = network
            self._errors = 0

        @property
        def num_errors(self) -> int:
            return self._errors

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

    class Profile(_Real):
        _state = ("shapes",)

        def __init__(self) -> None:
            self.shapes = {}

        def set_shape(self, name, low, opt, high) -> None:
            self.shapes[name] = (tuple(low), tuple(opt), tuple(high))

    class Config(_Real):
        _state = ("profiles", "calibration_profile", "memory")
        flag_enum = trt.BuilderFlag  # for the tests: which bit is which flag

        def __init__(self) -> None:
            self.flags = 1 << int(trt.BuilderFlag.TF32)  # an int bit mask; TF32 on is TensorRT's default
            self.profiles = []
            self.calibration_profile = None
            self.memory = {}
            if "int8_calibrator" in self._real_members:
                self.int8_calibrator = None

        def set_memory_pool_limit(self, pool, size) -> None:
            self.memory[pool] = size

        def set_flag(self, flag) -> None:
            self.flags |= 1 << int(flag)

        def clear_flag(self, flag) -> None:
            self.flags &= ~(1 << int(flag))

        def get_flag(self, flag) -> bool:
            return bool(self.flags & (1 << int(flag)))

        def add_optimization_profile(self, profile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def set_calibration_profile(self, profile) -> bool:
            self.calibration_profile = profile
            return True

    class Builder(_Real):
        _state = ("network",)

        def __init__(self, logger) -> None:
            self._logger = logger

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
            if calibrator is not None and config.get_flag(trt.BuilderFlag.INT8):
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

    class Runtime(_Real):
        def __init__(self, logger) -> None:
            self._logger = logger

        def deserialize_cuda_engine(self, data):
            raise EngineRunNeedsGPUError(bytes(data))

    trt.Runtime = Runtime

    class IInt8EntropyCalibrator2(_Real):
        def __init__(self) -> None:
            pass

    if "IInt8EntropyCalibrator2" in surface.module:
        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    real_names = {
        Logger: "Logger",
        Tensor: "ITensor",
        Layer: "ILayer",
        Network: "INetworkDefinition",
        OnnxParser: "OnnxParser",
        Profile: "IOptimizationProfile",
        Config: "IBuilderConfig",
        Builder: "Builder",
        Runtime: "Runtime",
        IInt8EntropyCalibrator2: "IInt8EntropyCalibrator2",
    }
    for fake, real in real_names.items():
        _keep_real_members(fake, surface.classes.get(real, frozenset()))
    trt._fake_classes = {real: fake for fake, real in real_names.items()}  # for the surface test
    return trt, record


class _Real:
    """Base of the fake classes: like a pybind11 object, only its real class's members can be set
    (`_state` names the fake's own record attributes the tests read back); Python subclasses of
    the bindings' classes take any attribute, as they do on the real module."""

    _real_members: frozenset[str] = frozenset()
    _state: tuple[str, ...] = ()

    def __setattr__(self, name: str, value) -> None:
        bound = "_real_members" in type(self).__dict__  # a Python subclass (a calibrator) has a __dict__
        if bound and not name.startswith("_") and name not in self._real_members and name not in self._state:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        object.__setattr__(self, name, value)


def _keep_real_members(cls: type, real_members: frozenset[str]) -> None:
    """Drop the fake class's public members its real class lacks in this release."""
    for name in list(vars(cls)):
        if not name.startswith("_") and name not in real_members and name != "flag_enum":
            delattr(cls, name)
    cls._real_members = frozenset(real_members)


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
