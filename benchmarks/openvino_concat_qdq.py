"""Does this OpenVINO run a signed int8 Q/DQ pair on a Concat correctly? (issue 20, item 3)

OpenVINO 2026.4's CPU plugin runs Concat -> QuantizeLinear/DequantizeLinear (int8, zero point 0)
-> INT8 convolution with the activation's scale lost, which is why the symmetric export keeps the
convolutions that read a concatenation fp32 (`export.quantize.concat_fed_convs`). This builds the
9-node graph (two convolution + ReLU branches, Concat, Q/DQ, a 1x1 convolution with int8 weights)
with signed and with unsigned Q/DQ, runs it in ONNX Runtime without graph optimizations (the
ONNX reference semantics) and in OpenVINO, and prints the mean relative difference. A signed
difference near the unsigned one (both ~0) means a newer OpenVINO fixed it and the roots could be
quantized again; measured here with 2026.4.1: int8 0.24, uint8 0.0000.

    .venv/bin/python benchmarks/openvino_concat_qdq.py
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS, SIDE, SCALE = 8, 16, 0.02


def concat_qdq_model(zero_point_type: type) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (CHANNELS, 3, 3, 3)).astype(np.float32), "wa"),
        numpy_helper.from_array(rng.normal(0, 0.5, (CHANNELS, 3, 3, 3)).astype(np.float32), "wb"),
        numpy_helper.from_array(np.array(SCALE, np.float32), "scale"),
        numpy_helper.from_array(np.zeros((), zero_point_type), "zero"),
        numpy_helper.from_array(rng.integers(-127, 128, (4, 2 * CHANNELS, 1, 1)).astype(np.int8), "wq"),
        numpy_helper.from_array(np.full(4, 0.01, np.float32), "wscale"),
        numpy_helper.from_array(np.zeros(4, np.int8), "wzero"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["x", "wb"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ra"]),
        helper.make_node("Relu", ["b"], ["rb"]),
        helper.make_node("Concat", ["ra", "rb"], ["joined"], axis=1),
        helper.make_node("QuantizeLinear", ["joined", "scale", "zero"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"]),
        helper.make_node("DequantizeLinear", ["wq", "wscale", "wzero"], ["w"], axis=0),
        helper.make_node("Conv", ["dq", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "concat_qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


def relative_difference(model: onnx.ModelProto) -> float:
    import onnxruntime as ort
    import openvino as ov

    x = np.random.default_rng(1).normal(0, 1, (1, 3, SIDE, SIDE)).astype(np.float32)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    reference = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    expected = reference.run(None, {"x": x})[0]
    core = ov.Core()
    model_ov = core.read_model(model.SerializeToString(), b"")
    compiled = core.compile_model(model_ov, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = np.array(compiled({0: x})[compiled.outputs[0]])
    return float(np.abs(got - expected).mean() / np.abs(expected).mean())


def main() -> int:
    import openvino as ov

    print(f"OpenVINO {ov.__version__}")
    for label, zero_point_type in (("int8 (signed, zero point 0)", np.int8), ("uint8", np.uint8)):
        difference = relative_difference(concat_qdq_model(zero_point_type))
        print(f"{label}: mean relative difference {difference:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
