"""The FP16 copy TensorRT 11 builds from: FP16 compute, FP32 sampling positions, the same heads."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto

from centerpose_core.constants import HEAD_NAMES
from centerpose_core.export.decomposed_dcn import FP32_NODE_PREFIX
from centerpose_core.export.tensorrt.fp16 import cached_fp16_onnx, fp32_node_names

FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16)


def _value_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {init.name: init.data_type for init in model.graph.initializer}
    for value in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        types[value.name] = value.type.tensor_type.elem_type
    return types


@pytest.mark.parametrize("form", ["decomposed", "native"])
def test_sampling_nodes_stay_fp32_and_the_rest_is_fp16(form, decomposed_onnx, native_onnx, tmp_path):
    source = decomposed_onnx if form == "decomposed" else native_onnx
    path = cached_fp16_onnx(source, tmp_path)
    assert cached_fp16_onnx(source, tmp_path) == path  # converted once
    model = onnx.load(str(path))
    types = _value_types(model)
    # The source's sampling nodes (the converter adds boundary Casts named after them: FP16 in, FP32 out).
    wanted = set(fp32_node_names(onnx.load(str(source), load_external_data=False)))
    kept = [node for node in model.graph.node if node.name in wanted]
    assert len(kept) == len(wanted) > 0
    assert form == "decomposed" or len(kept) == 16  # the native form: its 16 DeformConv nodes
    assert form == "native" or all(name.startswith(FP32_NODE_PREFIX) for name in wanted)
    for node in kept:  # every float tensor into or out of a sampling node is FP32
        for name in [*node.input, *node.output]:
            if name and types.get(name) in FLOATS:
                assert types[name] == TensorProto.FLOAT, f"{node.op_type} {node.name}: {name} is FP16"
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    assert all(types[node.output[0]] == TensorProto.FLOAT16 for node in convs)
    io = [*model.graph.input, *model.graph.output]
    assert all(value.type.tensor_type.elem_type == TensorProto.FLOAT for value in io)


def test_fp16_copy_gives_the_fp32_heads_within_half_precision(decomposed_onnx, tmp_path):
    batch = np.random.default_rng(0).standard_normal((1, 3, 128, 128)).astype(np.float32)
    reference = ort.InferenceSession(str(decomposed_onnx)).run(list(HEAD_NAMES), {"input": batch})
    half = ort.InferenceSession(str(cached_fp16_onnx(decomposed_onnx, tmp_path)))
    outputs = half.run(list(HEAD_NAMES), {"input": batch})
    for name, expected, got in zip(HEAD_NAMES, reference, outputs):
        # FP16 activations through ~30 layers: ~1e-2 in a logit of spread 1.5 (measured 0.026 at most)
        assert got.dtype == np.float32
        assert np.abs(got - expected).max() < 0.1, name
        assert np.abs(got - expected).max() > 0 or name == "reg"  # it really computed in FP16
