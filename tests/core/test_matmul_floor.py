"""The matmul floor: the network's FLOPs scaled by the input's area, over a measured matmul rate."""

from __future__ import annotations

import pytest

from centerpose_core.runtime.matmul_floor import floor_ms, matmul_gflops, model_gflop


def test_model_flops_scale_with_the_input_area():
    assert model_gflop(512, 512) == 80.5
    assert model_gflop(512, 384) == pytest.approx(80.5 * 0.75)
    assert floor_ms("fp32", 512, 512, gflops=80.5) == pytest.approx(1000.0)  # 80.5 GFLOP at 80.5 GFLOP/s


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
def test_each_precision_measures_a_rate(precision):
    assert matmul_gflops(precision, n=64, repeats=1) > 0


def test_an_unknown_precision_is_one_error():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, int8, got 'fp16'"):
        matmul_gflops("fp16")
