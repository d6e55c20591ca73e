"""The calibration methods of `export --calib-method` calibrate differently (issue 20).

A one-convolution graph fed a known heavy-tailed activation: 16,384 exponential values (mean 1)
and one outlier of exactly 1000. Independent truth: minmax's uint8 range is [0, 1000] (the known
extremes), so its scale is 1000 / 255; the entropy (KL) calibrator must clip the rare outlier, a
range far narrower than 1000 that still covers the bulk. ONNX Runtime's entropy calibrator with
its default 128 histogram bins has a single candidate threshold, the full range, so it returned
minmax's scale exactly: the bug this guards against.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from centerpose_core.export.options import QuantizeOptions
from centerpose_core.export.quantize import quantize_qdq

OUTLIER = 1000.0


class ArrayReader:
    """ONNX Runtime CalibrationDataReader over fixed arrays."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self.batches = batches
        self._iterator = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._iterator, None)
        return None if batch is None else {"x": batch}

    def rewind(self) -> None:
        self._iterator = iter(self.batches)


def heavy_tailed_batches() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    batches = [rng.exponential(1.0, size=(1, 1, 32, 32)).astype(np.float32) for _ in range(16)]
    batches[5][0, 0, 7, 9] = OUTLIER
    return batches


def one_conv_model(path) -> None:
    weight = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
        "one_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 32, 32])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def input_range(tmp_path, method: str, **options) -> float:
    """The real range (255 uint8 steps x scale) of the input's QuantizeLinear, calibrated by `method`."""
    source, out = tmp_path / "one_conv.onnx", tmp_path / f"{method}.onnx"
    one_conv_model(source)
    quantize_qdq(
        source,
        out,
        ArrayReader(heavy_tailed_batches()),
        QuantizeOptions(str(tmp_path), method=method, symmetric=False, **options),
        [],
    )
    model = onnx.load(str(out))
    scales = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    (node,) = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    return float(scales[node.input[1]]) * 255.0


def test_minmax_range_is_the_known_extremes(tmp_path):
    assert input_range(tmp_path, "minmax") == pytest.approx(OUTLIER, rel=1e-5)


@pytest.mark.parametrize(
    ("method", "options"),
    # 99.9 %: 16 values lie above it, the outlier among them (99.999 % of 16,385 keeps the outlier)
    [("entropy", {}), ("percentile", {"percentile": 99.9})],
)
def test_histogram_methods_clip_the_rare_outlier(tmp_path, method, options):
    values = np.concatenate([b.ravel() for b in heavy_tailed_batches()])
    clipped = input_range(tmp_path, method, **options)
    assert clipped < 0.2 * OUTLIER  # minmax: exactly 1000
    assert clipped >= np.percentile(values, 99.0)  # the bulk stays inside the range
