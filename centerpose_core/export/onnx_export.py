"""Export the pose network (backbone + neck + heads, no decode) to one self-contained ONNX file.

Two forms of the deformable convolutions:
  * `native`: ONNX `DeformConv` (opset 19; torch's dynamo exporter translates torchvision's
    `deform_conv2d` into it). ONNX Runtime >= 1.25 and TensorRT >= 10.1 run it. The opset is
    pinned and checked: at opset 18 the same graph would reference an op that does not exist.
  * `decomposed`: the same weights through `DecomposedDeformConv` (plain gathers and matmuls),
    exported at opset 17 so that TensorRT 8.5 / 8.6 parse it.

Batch and input height/width are fixed or dynamic (`ExportOptions.batch`, `.hw`); both DCN forms
run with dynamic height and width in ONNX Runtime (and OpenVINO).

The file carries everything a runtime needs in `metadata_props` (see `read_metadata`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from centerpose_core.atomic_write import atomic_path
from centerpose_core.constants import (
    ALL_HEADS,
    DOWN_RATIO,
    HEADS,
    KEYPOINT_NAMES,
    MEAN_BGR,
    STD_BGR,
    output_head_names,
)
from centerpose_core.export.decomposed_dcn import FP32_NODE_PREFIX, decompose_deform_convs
from centerpose_core.export.flatten import HeadsAsTuple
from centerpose_core.export.options import ExportOptions
from centerpose_core.export.tensorrt import CompatReport, check_tensorrt_compat
from centerpose_core.flip import FLIP_PAIRS
from centerpose_core.input_shape import ALIGN

INPUT_NAME = "input"
METADATA_PREFIX = "centerpose."
FORMAT_VERSION = "centerpose-onnx/1"


@dataclass
class ExportResult:
    path: Path
    options: ExportOptions
    compat: CompatReport
    deform_convs: int


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_onnx(
    model: nn.Module | str | Path,
    out_path: str | Path,
    options: ExportOptions | None = None,
    *,
    checkpoint_sha256: str | None = None,
) -> ExportResult:
    """Export `model` (a PoseNet or a checkpoint path) to `out_path`, validate it, return a report.

    Raises ValueError with the path named when the checkpoint is unusable or the exported file
    fails validation.
    """
    options = options or ExportOptions()
    source_name = None
    if not isinstance(model, nn.Module):
        source = Path(model)
        if not source.is_file():
            raise FileNotFoundError(f"checkpoint not found: {source}")
        from centerpose_core.model.checkpoint import load_model

        checkpoint_sha256 = checkpoint_sha256 or file_sha256(source)
        source_name = source.name
        model = load_model(source, map_location="cpu")
    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise ValueError(f"ONNX output path must end with .onnx: {out_path}")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    net = copy.deepcopy(model).float().eval().cpu()
    from centerpose_core.model.dcn import ModulatedDeformConv

    deform_convs = sum(isinstance(m, ModulatedDeformConv) for m in net.modules())
    if options.dcn == "decomposed":
        decompose_deform_convs(net)
    masks = bool(getattr(net, "has_masks", False))
    proto = _trace_to_onnx(HeadsAsTuple(net), options, output_head_names(masks))
    _mark_fp32_sampling_nodes(proto)
    if options.resolved_opset < 18:
        proto = _downgrade_opset(proto, options.resolved_opset)
    _validate_structure(proto, options, deform_convs, out_path, output_head_names(masks))
    compat = check_tensorrt_compat(proto)
    compat.source = str(out_path)
    _write_metadata(proto, options, checkpoint_sha256, source_name, compat, masks)
    try:  # full check (types and shapes inferred) before anything is written
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ValueError(
            f"the ONNX graph for {out_path} fails onnx.checker (nothing written): {exc}"
        ) from exc
    _save(proto, out_path, options.external_data)
    return ExportResult(out_path, options, compat, deform_convs)


def _trace_to_onnx(
    wrapper: nn.Module, options: ExportOptions, output_names: tuple[str, ...]
) -> onnx.ModelProto:
    # A batch of 2 when dynamic: torch.export specialises a dimension traced at size 1.
    example = torch.zeros(2 if options.batch == "dynamic" else 1, 3, options.size, options.size)
    dims: dict[int, object] = {}
    if options.batch == "dynamic":
        dims[0] = torch.export.Dim("batch", min=1, max=1024)
    if options.hw == "dynamic":  # multiples of 32 (the network's stride), up to 4096 pixels
        dims[2] = ALIGN * torch.export.Dim("height_32", min=1, max=4096 // ALIGN)
        dims[3] = ALIGN * torch.export.Dim("width_32", min=1, max=4096 // ALIGN)
    dynamic_shapes = (dims,) if dims else None
    opset = max(options.resolved_opset, 18)  # the dynamo exporter's floor; lowered afterwards
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exporter_log.setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(
                wrapper,
                (example,),
                dynamo=True,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=list(output_names),
                dynamic_shapes=dynamic_shapes,
                optimize=True,
                verbose=False,
            )
        finally:
            exporter_log.setLevel(level)
    return program.model_proto


def _mark_fp32_sampling_nodes(proto: onnx.ModelProto) -> None:
    """Prefix the names of the DCN sampling-coordinate nodes (see decomposed_dcn) and drop the
    exporter's per-node metadata (stack traces with local paths)."""
    for node in proto.graph.node:
        hierarchy = next(
            (p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.class_hierarchy"), ""
        )
        if "decomposed_dcn.SamplingPlan" in hierarchy:
            node.name = FP32_NODE_PREFIX + node.name
        del node.metadata_props[:]


def _downgrade_opset(proto: onnx.ModelProto, target: int) -> onnx.ModelProto:
    """Lower an opset-18 graph to `target` (17).

    onnx's version converter has no Split 18->17 adapter, so this does it: Split's `num_outputs`
    becomes explicit `split` sizes, and every other node must use an op whose schema did not change
    in opset 18 (checked against onnx's schema registry), otherwise the export is refused.
    """
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {
        v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    }
    for node in proto.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        if node.op_type == "Split":
            _split_sizes_as_input(proto, node, shapes, target)
            continue
        if onnx.defs.get_schema(node.op_type, 18).since_version > target:
            raise ValueError(
                f"cannot lower {node.op_type} ({node.name}) to opset {target}: its schema changed"
            )
    for opset in proto.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = target
    return proto


def _split_sizes_as_input(
    proto: onnx.ModelProto, node: onnx.NodeProto, shapes: dict[str, list[int | None]], target: int
) -> None:
    attrs = {a.name: a for a in node.attribute}
    if "num_outputs" not in attrs:
        return
    axis = attrs["axis"].i if "axis" in attrs else 0
    shape = shapes.get(node.input[0])
    if not shape or shape[axis] is None:
        raise ValueError(f"cannot lower Split {node.name} to opset {target}: unknown size on axis {axis}")
    parts = attrs["num_outputs"].i
    chunk = -(-shape[axis] // parts)
    sizes = [chunk] * (parts - 1) + [shape[axis] - chunk * (parts - 1)]
    name = f"{node.name}_split_sizes"
    proto.graph.initializer.append(onnx.numpy_helper.from_array(np.array(sizes, np.int64), name))
    node.input.append(name)
    node.attribute.remove(attrs["num_outputs"])


def _validate_structure(
    proto: onnx.ModelProto,
    options: ExportOptions,
    deform_convs: int,
    path: Path,
    expected_outputs: tuple[str, ...],
) -> None:
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset != options.resolved_opset:
        raise ValueError(f"{path}: exported opset {opset}, expected {options.resolved_opset}")
    outputs = [o.name for o in proto.graph.output]
    if outputs != list(expected_outputs):
        raise ValueError(f"{path}: exported outputs {outputs}, expected {list(expected_outputs)}")
    native = sum(n.op_type == "DeformConv" for n in proto.graph.node)
    expected = deform_convs if options.dcn == "native" else 0
    if native != expected:
        raise ValueError(
            f"{path}: {native} DeformConv nodes in the graph, expected {expected} ({options.dcn} form)"
        )


def _write_metadata(
    proto: onnx.ModelProto,
    options: ExportOptions,
    checkpoint_sha256: str | None,
    checkpoint_name: str | None,
    compat: CompatReport,
    masks: bool = False,
) -> None:
    entries = {
        "format": FORMAT_VERSION,
        "input_name": INPUT_NAME,
        "input_size": str(options.size),
        "input_hw": options.hw,
        "input_layout": "NCHW, BGR, (pixel/255 - mean) / std",
        "mean_bgr": json.dumps([_shortest(v) for v in MEAN_BGR]),
        "std_bgr": json.dumps([_shortest(v) for v in STD_BGR]),
        "down_ratio": str(DOWN_RATIO),
        "heads": json.dumps(ALL_HEADS if masks else HEADS),
        "masks": "true" if masks else "false",
        "keypoint_names": json.dumps(list(KEYPOINT_NAMES)),
        "flip_pairs": json.dumps([list(p) for p in FLIP_PAIRS]),
        "export_options": json.dumps({**asdict(options), "opset": options.resolved_opset}),
        "checkpoint_sha256": checkpoint_sha256 or "",
        "checkpoint_name": checkpoint_name or "",
        "minimum_tensorrt": compat.minimum_version or "none",
        "torch_version": torch.__version__,
    }
    del proto.metadata_props[:]
    for key, value in entries.items():
        proto.metadata_props.add(key=METADATA_PREFIX + key, value=value)
    proto.producer_name = "centerpose"
    proto.doc_string = "CenterNet DLA-34 multi-person pose: raw head logits (decode outside the graph)"


def _save(proto: onnx.ModelProto, path: Path, external_data: bool) -> None:
    data_file = path.with_name(path.name + ".data")
    if data_file.exists():
        data_file.unlink()  # never leave a stale weight file beside a self-contained model
    with atomic_path(path) as tmp:
        if external_data:  # the weights go to `data_file` (named relative to the model's folder)
            onnx.save_model(
                proto,
                str(tmp),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=data_file.name,
                size_threshold=1024,
            )
        else:
            onnx.save_model(proto, str(tmp))


def read_metadata(model: onnx.ModelProto | str | Path) -> dict[str, str]:
    """The `centerpose.*` metadata of an exported file, without the prefix ({} for a foreign file)."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    return {
        p.key[len(METADATA_PREFIX) :]: p.value
        for p in model.metadata_props
        if p.key.startswith(METADATA_PREFIX)
    }


def _shortest(value: np.floating) -> float:
    """The shortest decimal that reads back as the same float32 (no 0.4078965485... noise)."""
    return float(np.format_float_positional(np.float32(value)))
