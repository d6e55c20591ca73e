"""An FP16 copy of an exported ONNX file for strongly typed TensorRT builds (TensorRT 11).

TensorRT 11 has no FP16 builder flag: a strongly typed network runs each layer in the type its
ONNX tensors have ("Migrating from Weak Typing to Strong Typing", TensorRT 11 migration guide), so
FP16 needs an FP16 graph. onnxconverter-common's `convert_float_to_float16` makes it, with inputs
and outputs kept FP32 and Casts around the nodes that must stay FP32:
  * the decomposed DCN's sampling-coordinate nodes (`decomposed_dcn.FP32_NODE_PREFIX`): a half
    float has a spacing of 1/16 px at 128 px, the error this prefix exists to prevent;
  * native `DeformConv` nodes, for the same reason inside the ModulatedDeformConv2d plugin;
  * the converter's default block list (shape arithmetic, Resize, ...).
The copy is cached beside the engines, named by the source file's hash.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx

from centerpose_core.atomic_write import atomic_path
from centerpose_core.errors import MissingDependencyError, import_optional
from centerpose_core.export.decomposed_dcn import FP32_NODE_PREFIX
from centerpose_core.export.onnx_export import file_sha256

FP32_OPS = ("DeformConv",)  # computed in FP32 in every FP16 engine (sampling coordinates)
FP16_FORMAT = "fp16/1"  # part of the cached file's name: bump when the conversion changes


def _float16_module():
    return import_optional(
        "onnxconverter_common.float16",
        "onnxconverter-common",
        "TensorRT 11 builds FP16 from an FP16 ONNX file: pip install onnxconverter-common, or build "
        "--precision fp32",
        MissingDependencyError,
    )


def fp32_node_names(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes whose computation must stay FP32 in an FP16 graph."""
    return [
        node.name
        for node in model.graph.node
        if node.name.startswith(FP32_NODE_PREFIX) or node.op_type in FP32_OPS
    ]


def convert_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with FP16 weights and activations, FP32 inputs/outputs and FP32 sampling nodes."""
    float16 = _float16_module()
    unnamed = [n for n in model.graph.node if not n.name and n.op_type in FP32_OPS]
    if unnamed:  # the converter blocks nodes by name
        raise ValueError(f"{len(unnamed)} {FP32_OPS[0]} node(s) without a name; re-export the ONNX file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "float32 number ... truncated": tiny weights, expected
        return float16.convert_float_to_float16(
            model,
            keep_io_types=True,
            node_block_list=fp32_node_names(model),
            op_block_list=sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(FP32_OPS)),
        )


def cached_fp16_onnx(onnx_path: str | Path, cache_dir: str | Path) -> Path:
    """Path of the FP16 copy of `onnx_path` in `cache_dir`, converted on the first call."""
    onnx_path = Path(onnx_path)
    digest = file_sha256(onnx_path)[:20]
    target = Path(cache_dir) / f"{onnx_path.stem}-{FP16_FORMAT.replace('/', '')}-{digest}.onnx"
    if target.is_file():
        return target
    model = convert_to_fp16(onnx.load(str(onnx_path)))
    with atomic_path(target) as tmp:
        onnx.save_model(model, str(tmp))
    return target
