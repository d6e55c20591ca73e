"""Small-graph checks of the export helpers: opset lowering and self-contained vs external weights."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from centerpose_core.export.onnx_export import _downgrade_opset, _save


def _split_model():
    graph = helper.make_graph(
        [helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)],
        "split",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 2])],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, n, 2])
            for name, n in zip("abc", (3, 3, 2))
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_split_num_outputs_is_lowered_to_explicit_sizes():
    x = np.arange(16, dtype=np.float32).reshape(1, 8, 2)
    lowered = _downgrade_opset(_split_model(), 17)
    onnx.checker.check_model(lowered, full_check=True)
    assert lowered.opset_import[0].version == 17
    outputs = ort.InferenceSession(lowered.SerializeToString()).run(None, {"x": x})
    # ONNX Split-18 with num_outputs=3 over 8: ceil(8/3)=3, 3, and the rest 2 (as torch.chunk).
    expected = np.split(x, [3, 6], axis=1)
    for got, want in zip(outputs, expected):
        np.testing.assert_array_equal(got, want)


def test_ops_whose_schema_changed_in_18_are_refused():
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x", "axes"], ["y"])],
        "reduce",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([1], np.int64), "axes")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(ValueError, match="cannot lower ReduceMean"):
        _downgrade_opset(model, 17)


def _model_with_weights():
    weight = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("external", [False, True])
def test_self_contained_unless_asked(external, tmp_path):
    path = tmp_path / "m.onnx"
    stale = tmp_path / "m.onnx.data"
    stale.write_bytes(b"left over from an earlier export")
    _save(_model_with_weights(), path, external)
    assert stale.exists() == external
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["m.onnx", "m.onnx.data"] if external else ["m.onnx"]
    )
    onnx.checker.check_model(str(path), full_check=True)
    y = ort.InferenceSession(str(path)).run(None, {"x": np.ones((1, 64), np.float32)})[0]
    np.testing.assert_array_equal(y, np.full((1, 64), 64.0, np.float32))
