"""Static TensorRT compatibility report for an ONNX file: learn at export time which TensorRT parses it.

The op lists below encode onnx-tensorrt's `docs/operators.md` support matrices of the named
releases (operators marked supported, highest opset) plus the few restrictions that matter for
this model family. The check is static (no TensorRT needed): every node's op type, domain,
opset and the attributes/types we know to be unsafe are checked against each profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import onnx

# onnx-tensorrt release/8.5-GA operator matrix, operators marked "Y".
_TRT_8_5_OPS = frozenset(
    """
    Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast
    Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
    DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
    GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
    GridSample GRU HardSwish HardSigmoid Identity If ImageScaler InstanceNormalization IsNaN
    LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max
    MaxPool Mean MeanVarianceNormalization Min Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or
    Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform
    RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
    ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence
    RNN RoiAlign Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid
    Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan
    Tanh ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
    """.split()  # noqa: SIM905 (a readable table)
)
_TRT_8_6_OPS = _TRT_8_5_OPS | {"LayerNormalization"}
_TRT_10_0_OPS = _TRT_8_6_OPS | {"GroupNormalization", "Gelu", "IsInf"}
# TensorRT 10.1 parses ONNX DeformConv into its ModulatedDeformConv2d plugin (JetPack 6.1+ has 10.3).
_TRT_10_1_OPS = _TRT_10_0_OPS | {"DeformConv"}

_INTEGER_TYPES = frozenset(
    {
        onnx.TensorProto.INT64,
        onnx.TensorProto.INT32,
        onnx.TensorProto.INT16,
        onnx.TensorProto.INT8,
        onnx.TensorProto.UINT8,
    }
)


@dataclass(frozen=True)
class TensorRTProfile:
    """What one TensorRT release's ONNX parser accepts."""

    version: str
    max_opset: int
    ops: frozenset[str]
    integer_clip: bool  # Clip on integer tensors (8.x: FP32/FP16/INT8 only)


PROFILES: tuple[TensorRTProfile, ...] = (
    TensorRTProfile("8.5", 17, _TRT_8_5_OPS, integer_clip=False),
    TensorRTProfile("8.6", 17, _TRT_8_6_OPS, integer_clip=False),
    TensorRTProfile("10.0", 20, _TRT_10_0_OPS, integer_clip=True),
    TensorRTProfile("10.1", 20, _TRT_10_1_OPS, integer_clip=True),
)


@dataclass
class CompatReport:
    """Problems per TensorRT version (empty list = the file parses there)."""

    source: str
    problems: dict[str, list[str]] = field(default_factory=dict)

    def supports(self, version: str) -> bool:
        return not self.problems[version]

    @property
    def minimum_version(self) -> str | None:
        """Oldest profiled TensorRT from which on every profiled release parses the file, else None."""
        minimum = None
        for profile in reversed(PROFILES):
            if not self.supports(profile.version):
                break
            minimum = profile.version
        return minimum

    def summary(self) -> str:
        minimum = self.minimum_version
        if minimum is None:
            head = (
                f"{self.source}: no profiled TensorRT release ({', '.join(self.problems)}) parses this file"
            )
        elif minimum == PROFILES[0].version:
            head = f"{self.source}: parses with TensorRT >= {minimum} (all profiled releases)"
        else:
            head = f"{self.source}: this file needs TensorRT >= {minimum}"
        lines = [head]
        for version, problems in self.problems.items():
            if problems:
                shown = "; ".join(problems[:4]) + (
                    f"; ... ({len(problems)} in all)" if len(problems) > 4 else ""
                )
                lines.append(f"  TensorRT {version}: {shown}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"minimum_tensorrt": self.minimum_version, "problems": self.problems}


def check_tensorrt_compat(model: onnx.ModelProto | str | Path) -> CompatReport:
    """Check an ONNX model (or file) against every TensorRT profile."""
    source = str(model) if isinstance(model, (str, Path)) else (model.graph.name or "<model>")
    if isinstance(model, (str, Path)):
        model = onnx.load(str(model), load_external_data=False)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    value_types = _value_types(model)
    nodes = list(_all_nodes(model.graph))
    local_functions = {(f.domain, f.name) for f in model.functions}
    report = CompatReport(source)
    for profile in PROFILES:
        problems: list[str] = []
        if opset is None or opset > profile.max_opset:
            problems.append(f"opset {opset} is above the parser's maximum {profile.max_opset}")
        unsupported: dict[str, int] = {}
        for node in nodes:
            for problem in _node_problems(node, profile, value_types, local_functions):
                unsupported[problem] = unsupported.get(problem, 0) + 1
        problems += [f"{p} (x{n})" if n > 1 else p for p, n in sorted(unsupported.items())]
        report.problems[profile.version] = problems
    return report


def _node_problems(
    node: onnx.NodeProto,
    profile: TensorRTProfile,
    value_types: dict[str, int],
    local_functions: set[tuple[str, str]],
) -> list[str]:
    if (node.domain, node.op_type) in local_functions:
        return [f"local function {node.domain}:{node.op_type} (inline functions before export)"]
    if node.domain not in ("", "ai.onnx"):
        return [f"op {node.domain}:{node.op_type} from a custom domain (needs a plugin)"]
    if node.op_type not in profile.ops:
        return [f"op {node.op_type} is not supported"]
    if (
        node.op_type == "Clip"
        and not profile.integer_clip
        and value_types.get(node.input[0]) in _INTEGER_TYPES
    ):
        return ["Clip on an integer tensor (only FP32/FP16/INT8)"]
    if node.op_type == "GridSample":
        mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "linear")
        if mode in ("linear", "bilinear"):
            return [f"GridSample mode {mode!r} (TensorRT may run it as nearest; use --dcn decomposed)"]
    return []


def _all_nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attribute.g)
            for sub in attribute.graphs:
                yield from _all_nodes(sub)


def _value_types(model: onnx.ModelProto) -> dict[str, int]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a report must still come out of a graph that fails inference
        inferred = model
    graph = inferred.graph
    types = {init.name: init.data_type for init in graph.initializer}
    for value in list(graph.value_info) + list(graph.input) + list(graph.output):
        if value.type.HasField("tensor_type"):
            types[value.name] = value.type.tensor_type.elem_type
    return types
