"""Static TensorRT report: native file needs >= 10.1, decomposed passes 8.5, injected problems are named."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from centerpose_core.export.tensorrt.compat import PROFILES, check_tensorrt_compat


def test_native_file_needs_tensorrt_10_1(native_onnx):
    report = check_tensorrt_compat(native_onnx)
    assert report.minimum_version == "10.1"
    assert "needs TensorRT >= 10.1" in report.summary()
    assert any("DeformConv" in p for p in report.problems["10.0"])
    assert any("opset 19" in p for p in report.problems["8.5"])


def test_decomposed_file_parses_from_tensorrt_8_5(decomposed_onnx):
    report = check_tensorrt_compat(decomposed_onnx)
    assert all(report.supports(profile.version) for profile in PROFILES), report.summary()
    assert report.minimum_version == "8.5"


def test_an_injected_unsupported_op_is_reported(decomposed_onnx):
    model = onnx.load(str(decomposed_onnx))
    first_output = model.graph.output[0].name
    renamed = first_output + "_pre"
    for node in model.graph.node:
        for i, name in enumerate(node.output):
            if name == first_output:
                node.output[i] = renamed
    model.graph.node.append(helper.make_node("Hardmax", [renamed], [first_output], name="injected"))
    report = check_tensorrt_compat(model)
    assert report.minimum_version is None
    for version in ("8.5", "8.6", "10.0", "10.1"):
        assert report.problems[version] == ["op Hardmax is not supported"]
    assert "no profiled TensorRT release" in report.summary()


def _tiny_graph(node, inputs, opset=17):
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info(name, dtype, [4]) for name, dtype in inputs],
        [helper.make_tensor_value_info("y", inputs[0][1], [4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_integer_clip_is_only_a_problem_before_tensorrt_10():
    model = _tiny_graph(helper.make_node("Clip", ["x"], ["y"]), [("x", TensorProto.INT64)])
    report = check_tensorrt_compat(model)
    assert report.problems["8.5"] == ["Clip on an integer tensor (only FP32/FP16/INT8)"]
    assert report.supports("10.0")
    assert report.minimum_version == "10.0"
    assert check_tensorrt_compat(
        _tiny_graph(helper.make_node("Clip", ["x"], ["y"]), [("x", TensorProto.FLOAT)])
    ).supports("8.5")


@pytest.mark.parametrize("domain", ["com.microsoft", "custom.ops"])
def test_custom_domain_needs_a_plugin(domain):
    model = _tiny_graph(helper.make_node("Fancy", ["x"], ["y"], domain=domain), [("x", TensorProto.FLOAT)])
    model.opset_import.append(helper.make_opsetid(domain, 1))
    assert all("custom domain" in report[0] for report in check_tensorrt_compat(model).problems.values())


def test_bilinear_grid_sample_is_flagged():
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode="linear")
    model = _tiny_graph(node, [("x", TensorProto.FLOAT), ("g", TensorProto.FLOAT)], opset=20)
    problems = check_tensorrt_compat(model).problems
    assert any("opset 20" in p for p in problems["8.6"])
    assert any("GridSample mode 'linear'" in p for p in problems["10.1"])
