"""INT8 static quantization of an exported centerpose ONNX file with ONNX Runtime (QDQ format).

Weights: signed 8-bit, one scale per output channel. Activations (`symmetric`, the default):
signed 8-bit with zero point 0 on convolution inputs only, TensorRT's form and placement (see
SYMMETRIC_OP_TYPES), the one file ONNX Runtime, OpenVINO and TensorRT all take; or unsigned 8-bit
with a fitted zero point on every op of QUANTIZED_OP_TYPES (CPU runtimes only, faster there).
Ranges are measured on a folder of calibration images, pre-processed exactly as at inference
(`affine.preprocess`). The result is an ordinary ONNX file with QuantizeLinear/DequantizeLinear
pairs: ONNX Runtime fuses them into integer convolutions (VNNI / AMX where the CPU has them; the
uint8 placement only, see SYMMETRIC_OP_TYPES) and OpenVINO reads them as its own INT8 layers.

What stays fp32, and why:
  * the deformable convolutions (ONNX `DeformConv`; in the decomposed form its whole sampling
    subgraph) and the path that computes their offsets and masks (the offset convolution, chunk,
    concatenation, sigmoid): offsets are pixel coordinates with ranges of thousands on a trained
    net (quantized per tensor, their steps were 15-37 px on the reference model and INT8 AP fell
    to 0.01, where the same calibration gives 0.14 with them fp32), and no CPU runtime has an INT8
    kernel for the sampling;
  * the last 1x1 convolution of each head: its outputs are the heatmap logits and the pixel
    offsets (`hps`, up to tens of output pixels) that decode reads; 8 bits over that range would
    cost most of a pixel;
  * transposed convolutions (the fixed bilinear upsampling of the neck): ONNX Runtime has no INT8
    kernel for them, so they would only add conversions;
  * in the symmetric file, the convolutions that read a concatenation (DLA's 6 tree roots, about
    2 % of the FLOPs): OpenVINO mis-runs a signed Q/DQ on a Concat (`concat_fed_convs`).
The 3x3 head convolutions, the backbone and the neck convolutions (the bulk of the ~80 GFLOP at
512x512) run in INT8.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

from centerpose_core.export.decomposed_dcn import FP32_NODE_PREFIX
from centerpose_core.export.onnx_checks import inspect_pose_onnx
from centerpose_core.export.onnx_export import METADATA_PREFIX, read_metadata
from centerpose_core.export.options import QuantizeOptions
from centerpose_core.export.tensorrt import list_calibration_images
from centerpose_core.image_io import read_image

QUANTIZED_OP_TYPES = ("Conv", "Add", "Concat", "MaxPool", "Relu")
# Symmetric int8 (TensorRT's form) quantizes convolution inputs only. Measured on 605 held-out
# persons (README, "INT8 accuracy"): with every op of QUANTIZED_OP_TYPES quantized, signed int8
# (7 bits left for a ReLU output, and a Q/DQ pair on both sides of every ReLU, which unsigned
# zero-point-0 quantization folds away) moved 51 % of the persons by more than 1 px (median 2.6 px);
# with Q/DQ only on the tensors convolutions read (no requantized convolution outputs, sums or
# concatenations, so one rounding per tensor) 44 % (median 0.16 px). With the tree roots fp32
# (`concat_fed_convs`; before, OpenVINO ran the file at 4.0 px and +1.7 AP) it meets both targets on
# ONNX Runtime and OpenVINO (0.11 / 0.10 px) and is the default. Its cost: ONNX Runtime fuses a
# convolution into an integer one only with a Q on its output, so here it runs them in fp32 between
# Q/DQ pairs (1.5-1.7x slower than the uint8 file at 512x512, slower than fp32); OpenVINO 1.1-1.2x.
SYMMETRIC_OP_TYPES = ("Conv",)


@dataclass
class QuantizeResult:
    path: Path
    calibration_images: int
    quantized_nodes: int
    fp32_nodes: list[str]


def check_calibration_folder(options: QuantizeOptions) -> list[Path]:
    """The calibration images to use: FileNotFoundError for a missing folder, ValueError for one
    without images or with an image that does not decode (each naming the folder or the file)."""
    paths = list_calibration_images(options.calibration_folder, options.max_images)
    for path in paths:
        read_image(path, "calibration image")
    return paths


class FolderCalibrationReader:
    """ONNX Runtime's CalibrationDataReader over image files, one pre-processed image per batch.

    Every file is read before calibration starts, so an unreadable image fails at once, naming it.
    """

    def __init__(self, paths: list[Path], input_name: str, size: int) -> None:
        from centerpose_core.affine import preprocess

        self.input_name = input_name
        self.batches = [preprocess(read_image(path, "calibration image"), size)[0][None] for path in paths]
        self._iterator: Iterator[np.ndarray] = iter(self.batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._iterator, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self) -> None:
        self._iterator = iter(self.batches)


# Ops between a DCN's offset/mask convolution and the sampling: chunk, concatenation, sigmoid.
_OFFSET_PATH_OPS = ("Split", "Slice", "Concat", "Sigmoid", "Reshape", "Identity", "Cast")


def _is_sampler(node: onnx.NodeProto) -> bool:
    return node.op_type == "DeformConv" or node.name.startswith(FP32_NODE_PREFIX)


def offset_mask_nodes(model: onnx.ModelProto) -> list[str]:
    """Each DCN's offset/mask convolution and the nodes from it to the sampling (the chunk into
    offsets and mask, their concatenation, the sigmoid): a convolution whose output reaches a
    DeformConv or a decomposed sampling node through a Split/Slice. Its output is in pixels (and
    mask logits) with ranges of thousands on a trained net: one uint8 scale over that range moves
    every sampling point by tens of pixels."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    kept: list[str] = []
    for conv in (node for node in model.graph.node if node.op_type == "Conv"):
        path: list[onnx.NodeProto] = []
        frontier, seen, reaches = list(conv.output), set(), False
        while frontier:
            for consumer in consumers.get(frontier.pop(), []):
                if _is_sampler(consumer):
                    reaches = True
                elif consumer.op_type in _OFFSET_PATH_OPS and consumer.name not in seen:
                    seen.add(consumer.name)
                    path.append(consumer)
                    frontier.extend(consumer.output)
        if reaches and any(node.op_type in ("Split", "Slice") for node in path):
            kept += [conv.name, *(node.name for node in path)]
    return kept


def fp32_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes that stay fp32 (see the module docstring): DeformConv, the decomposed
    DCN's sampling subgraph, each DCN's offset/mask path, and the convolutions that write the
    graph's outputs."""
    outputs = {o.name for o in model.graph.output}
    producers = {out: node for node in model.graph.node for out in node.output}
    kept = [node.name for node in model.graph.node if _is_sampler(node)]
    kept += offset_mask_nodes(model)
    for name in outputs:  # the head's last conv, possibly behind an Identity
        node = producers.get(name)
        while node is not None and node.op_type == "Identity":
            node = producers.get(node.input[0])
        if node is not None and node.op_type == "Conv":
            kept.append(node.name)
    return kept


def concat_fed_convs(model: onnx.ModelProto) -> list[str]:
    """Names of the convolutions that read a concatenation (DLA's tree roots), kept fp32 in the
    symmetric file. OpenVINO 2026.4's CPU plugin runs a signed-int8 Q/DQ pair on a Concat (on its
    output or on each of its inputs) feeding an INT8 convolution with the activation scale lost:
    the convolution sees the activation rounded to whole units (measured: every other placement of
    the symmetric file matches ONNX Runtime to 1e-4 relative, the root convolutions 0.27; unsigned
    Q/DQ there is exact). TensorRT takes the fp32 root convolutions as they are."""
    producers = {out: node for node in model.graph.node for out in node.output}
    kept = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        source = producers.get(node.input[0])
        while source is not None and source.op_type == "Identity":
            source = producers.get(source.input[0])
        if source is not None and source.op_type == "Concat":
            kept.append(node.name)
    return kept


def _name_unnamed_nodes(model: onnx.ModelProto) -> None:
    """Exclusion lists go by node name: give every node one."""
    taken = {node.name for node in model.graph.node if node.name}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{index}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)


def quantize_onnx(fp32_path: str | Path, out_path: str | Path, options: QuantizeOptions) -> QuantizeResult:
    """Write an INT8 (QDQ) copy of the exported file `fp32_path` to `out_path`.

    The calibration folder is checked first (missing, empty, unreadable image: an error naming
    it), so nothing is written when calibration cannot run. The centerpose metadata is carried
    over, with the quantization settings added under `quantization`.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {fp32_path}")
    if out_path.suffix != ".onnx":
        raise ValueError(f"quantized output path must end with .onnx: {out_path}")
    if out_path.resolve() == fp32_path.resolve():
        raise ValueError(f"{out_path}: the quantized file must not overwrite its fp32 source")
    info = inspect_pose_onnx(fp32_path)
    metadata = read_metadata(fp32_path)
    size = options.calibration_size or info.height or int(metadata.get("input_size", "512"))
    paths = list_calibration_images(options.calibration_folder, options.max_images)
    input_name = onnx.load(str(fp32_path), load_external_data=False).graph.input[0].name
    reader = FolderCalibrationReader(paths, input_name, size)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="centerpose-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Shape inference + ORT's graph optimisations (BatchNorm folding) before quantization, as
        # ONNX Runtime's quantization guide prescribes; symbolic inference does not know DeformConv.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        prepared_model = onnx.load(str(prepared))
        _name_unnamed_nodes(prepared_model)
        onnx.save(prepared_model, str(prepared))
        kept = fp32_nodes(prepared_model)
        if options.symmetric:
            kept += concat_fed_convs(prepared_model)
        quantize_qdq(prepared, Path(tmp) / "quantized.onnx", reader, options, kept)
        quantized = onnx.load(str(Path(tmp) / "quantized.onnx"))
    _copy_metadata(quantized, metadata, options, len(paths))
    onnx.checker.check_model(quantized)
    from centerpose_core.atomic_write import atomic_path

    with atomic_path(out_path) as tmp_out:
        onnx.save(quantized, str(tmp_out))
    quantized_nodes = sum(node.op_type == "DequantizeLinear" for node in quantized.graph.node)
    return QuantizeResult(out_path, len(paths), quantized_nodes, kept)


# Histogram size of the entropy and percentile calibrators. ONNX Runtime's entropy calibrator
# defaults to 128 bins searched for 128 quantized bins: one candidate threshold, the full range,
# i.e. minmax (88 of 88 scales equal on the pose net). 2048 is the size of TensorRT's KL search.
HISTOGRAM_BINS = 2048
ENTROPY_QUANTIZED_BINS = 128  # ONNX Runtime's default


def calibrator_options(options: QuantizeOptions) -> dict[str, object]:
    """`create_calibrator` extra options for the method; `quantize_static` passes no bin counts."""
    if options.method == "entropy":
        return {"num_bins": HISTOGRAM_BINS, "num_quantized_bins": ENTROPY_QUANTIZED_BINS}
    if options.method == "percentile":
        return {"num_bins": HISTOGRAM_BINS, "percentile": options.percentile}
    return {}


def calibrate(model_path: Path, reader, options: QuantizeOptions, work_dir: Path):
    """Activation ranges (ONNX Runtime `TensorsData`) of the tensors of QUANTIZED_OP_TYPES."""
    from onnxruntime.quantization import CalibrationMethod, create_calibrator

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    calibrator = create_calibrator(
        model_path,
        list(QUANTIZED_OP_TYPES),
        augmented_model_path=str(work_dir / "augmented.onnx"),
        calibrate_method=methods[options.method],
        extra_options=calibrator_options(options),
    )
    # All images in one pass: ONNX Runtime 1.32's MinMax calibrator with max_intermediate_outputs
    # drops each full chunk without merging its ranges; minmax keeps only per-tensor extremes
    # and the histogram methods one histogram per tensor, so holding every image is cheap.
    calibrator.collect_data(reader)
    return calibrator.compute_data()


def quantize_qdq(
    model_path: Path, out_path: Path, reader, options: QuantizeOptions, nodes_to_exclude: list[str]
) -> None:
    """ONNX Runtime `quantize_static` in QDQ form with the settings of the module docstring, on any
    ONNX file (`quantize_onnx` passes its pre-processed pose graph). Calibration runs here
    (`calibrate`, with the histogram size `quantize_static` cannot pass) and reaches
    `quantize_static` through its calibration cache."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import save_tensors_data

    with tempfile.TemporaryDirectory(prefix="centerpose-calib-") as tmp:
        ranges = calibrate(Path(model_path), reader, options, Path(tmp))
        cache = Path(tmp) / "ranges.json"
        save_tensors_data(ranges, cache)
        quantize_static(
            str(model_path),
            str(out_path),
            None,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(SYMMETRIC_OP_TYPES if options.symmetric else QUANTIZED_OP_TYPES),
            per_channel=True,
            activation_type=QuantType.QInt8 if options.symmetric else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=nodes_to_exclude,
            calibrate_method=ranges.calibration_method,
            extra_options=placement_options(options),
            calibration_cache_path=cache,
        )


def placement_options(options: QuantizeOptions) -> dict[str, object]:
    """`quantize_static` extra options. Symmetric: Q/DQ on convolution inputs only (activations and
    weights), the placement of TensorRT's explicit-quantization guide; convolution outputs, residual
    sums, concatenations and pooling are not requantized (see SYMMETRIC_OP_TYPES)."""
    extra: dict[str, object] = {"ActivationSymmetric": options.symmetric, "WeightSymmetric": True}
    if options.symmetric:
        extra["OpTypesToExcludeOutputQuantization"] = list(SYMMETRIC_OP_TYPES)
    return extra


def _copy_metadata(
    model: onnx.ModelProto, metadata: dict[str, str], options: QuantizeOptions, images: int
) -> None:
    settings = {
        **asdict(options),
        "calibration_images": images,
        "format": "QDQ",
        "weights": "int8 per channel",
        "activations": "int8 symmetric" if options.symmetric else "uint8",
    }
    del model.metadata_props[:]
    for key, value in {**metadata, "quantization": json.dumps(settings)}.items():
        model.metadata_props.add(key=METADATA_PREFIX + key, value=value)
    model.producer_name = "centerpose"
