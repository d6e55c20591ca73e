"""TensorRT backend: a cached engine run on one CUDA stream with torch-owned device buffers.

Accepts an engine file (`model_formats.ENGINE_SUFFIXES`, checked against this machine's TensorRT and GPU),
an ONNX file (engine built once and cached), or a checkpoint / nn.Module (ONNX exported and
cached first, in the DCN form the installed TensorRT parses: decomposed below 10.1). Input and
output buffers are torch CUDA tensors (no pycuda); the outputs stay on the GPU for the shared
decode. Everything (deserialization, buffers, the stream, each execution) happens on the
requested GPU (`cuda:1` stays device 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from centerpose_core.constants import ALL_HEADS, DOWN_RATIO, HEAD_NAMES, MASK_HEAD_NAMES, output_head_names
from centerpose_core.export.onnx_checks import check_pose_onnx
from centerpose_core.export.options import BuildOptions
from centerpose_core.export.tensorrt import (
    EngineKey,
    build_or_load_engine,
    check_engine_key,
    dcn_form_for,
    device_index,
    gpu_identity,
    import_tensorrt,
    read_engine,
    require_cuda,
)
from centerpose_core.model_formats import ONNX, TENSORRT_ENGINE, model_format


def _torch_dtype(trt, dtype) -> torch.dtype:
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32}
    if dtype not in table:
        raise ValueError(f"unsupported TensorRT binding type {dtype}")
    return table[dtype]


class TensorRTBackend:
    """Runs a deserialized engine with TensorRT's tensor-address API (TensorRT >= 8.5)."""

    name = "tensorrt"

    def __init__(
        self, engine: bytes, *, device: str = "cuda", input_size: int, source: str = "<engine>"
    ) -> None:
        trt = import_tensorrt()
        self.device = torch.device(require_cuda(device))
        self.input_size = input_size
        self.source = source
        self._trt = trt
        self._logger = trt.Logger(trt.Logger.WARNING)
        trt.init_libnvinfer_plugins(self._logger, "")
        with torch.cuda.device(device_index(str(self.device))):
            self.runtime = trt.Runtime(self._logger)
            self.engine = self.runtime.deserialize_cuda_engine(engine)
            if self.engine is None:
                raise ValueError(
                    f"{source}: TensorRT {trt.__version__} cannot deserialize this engine (built by another "
                    "TensorRT version or for another GPU?); delete it and rebuild from the ONNX file"
                )
            self.context = self.engine.create_execution_context()
            self.stream = torch.cuda.Stream(device=self.device)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        missing = [h for h in HEAD_NAMES if h not in names]
        if len(inputs) != 1 or missing:
            raise ValueError(
                f"{source}: not a centerpose engine (inputs {inputs}, missing outputs {missing})"
            )
        self.input_name = inputs[0]
        # A mask model's engine also has seg_feat and seg (both, from its ONNX file).
        self.head_names = output_head_names(all(h in names for h in MASK_HEAD_NAMES))
        self.has_masks = len(self.head_names) > len(HEAD_NAMES)
        side = tuple(self.engine.get_tensor_shape(self.input_name))[-1]
        if side != input_size:
            raise ValueError(f"{source}: engine input is {side}x{side}, but {input_size} was requested")
        self.max_batch = self._max_batch()

    def _max_batch(self) -> int:
        shape = tuple(self.engine.get_tensor_shape(self.input_name))
        if shape[0] != -1:
            return shape[0]
        return tuple(self.engine.get_tensor_profile_shape(self.input_name, 0)[2])[0]

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        size = self.input_size
        if batch.ndim != 4 or batch.shape[1:] != (3, size, size):
            raise ValueError(f"{self.source}: input batch {batch.shape}, expected (B, 3, {size}, {size})")
        chunks = [batch[i : i + self.max_batch] for i in range(0, len(batch), self.max_batch)]
        parts = [self._run(np.ascontiguousarray(chunk, dtype=np.float32)) for chunk in chunks]
        if len(parts) == 1:
            return parts[0]
        return {name: torch.cat([p[name] for p in parts]) for name in self.head_names}

    def _run(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        trt = self._trt
        count = batch.shape[0]
        with torch.cuda.device(device_index(str(self.device))), torch.cuda.stream(self.stream):
            inputs = torch.from_numpy(batch).pin_memory().to(self.device, non_blocking=True)
            dtype = _torch_dtype(trt, self.engine.get_tensor_dtype(self.input_name))
            inputs = inputs.to(dtype)
            self.context.set_input_shape(self.input_name, tuple(inputs.shape))
            self.context.set_tensor_address(self.input_name, inputs.data_ptr())
            side = self.input_size // DOWN_RATIO
            outputs = {}
            for name in self.head_names:
                out_dtype = _torch_dtype(trt, self.engine.get_tensor_dtype(name))
                shape = (count, ALL_HEADS[name], side, side)
                outputs[name] = torch.empty(shape, dtype=out_dtype, device=self.device)
                self.context.set_tensor_address(name, outputs[name].data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError(f"{self.source}: TensorRT execution failed")
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        return {name: tensor.float() for name, tensor in outputs.items()}


def load_engine_file(
    path: str | Path, *, device: str, input_size: int, precision: str | None = None
) -> TensorRTBackend:
    """A user-supplied engine file; one built elsewhere (other TensorRT/GPU) is refused by name."""
    trt = import_tensorrt()
    device = require_cuda(device)
    key, engine = read_engine(path)
    if key is not None:
        gpu_name, capability = gpu_identity(device)
        expected = EngineKey(
            onnx_sha256=key.onnx_sha256,
            tensorrt_version=trt.__version__,
            gpu_name=gpu_name,
            compute_capability=capability,
            precision=precision or key.precision,
            input_size=input_size,
            max_batch=key.max_batch,
            calibration_sha256=key.calibration_sha256,
        )
        check_engine_key(path, key, expected, strict_onnx=False)
    return TensorRTBackend(engine, device=device, input_size=input_size, source=str(path))


def make_tensorrt_backend(
    model: str | Path | nn.Module,
    *,
    device: str = "cuda",
    input_size: int = 512,
    precision: str = "fp16",
    workspace_gib: float = 2.0,
    max_batch: int = 1,
    calibration_folder: str | None = None,
    calibration_cache: str | None = None,
    dcn: str = "auto",
    cache_dir: str | Path | None = None,
) -> TensorRTBackend:
    """Engine file -> load; ONNX -> cached build; checkpoint / module -> cached export, then build.

    dcn: the export form of a checkpoint / module: 'auto' (native from TensorRT 10.1, whose parser
    reads DeformConv; decomposed below, e.g. JetPack 5 / 6.0), 'native' or 'decomposed'.
    """
    trt = import_tensorrt()
    device = require_cuda(device)
    fmt = model_format(model)
    if fmt == TENSORRT_ENGINE:
        return load_engine_file(model, device=device, input_size=input_size)
    if fmt == ONNX:
        onnx_path = Path(model)
        if not onnx_path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {onnx_path}")
    else:
        from centerpose_core.export.cache import cached_onnx
        from centerpose_core.export.options import ExportOptions

        batch = "dynamic" if max_batch > 1 else "1"
        form = dcn_form_for(trt.__version__) if dcn == "auto" else dcn
        onnx_path = cached_onnx(model, ExportOptions(size=input_size, dcn=form, batch=batch))
    check_pose_onnx(onnx_path, input_size)
    options = BuildOptions(
        precision=precision,
        workspace_gib=workspace_gib,
        max_batch=max_batch,
        calibration_folder=calibration_folder,
        calibration_cache=calibration_cache,
    )
    engine, path, _ = build_or_load_engine(
        onnx_path, input_size=input_size, options=options, cache_dir=cache_dir, device=device
    )
    return TensorRTBackend(engine, device=device, input_size=input_size, source=str(path))
