"""A mask model through export (issue 21): the ONNX file carries `seg_feat` and `seg`, and ONNX
Runtime and OpenVINO give torch's masks, because the dynamic convolution runs in the shared decode."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from decode_margins import clear_decisions
from seeded_nets import seeded_pose_net

from centerpose_core.constants import HEAD_NAMES
from centerpose_core.export.onnx_export import export_onnx, read_metadata
from centerpose_core.export.options import ExportOptions
from centerpose_core.runtime import Predictor

SIZE = 128
# Two fp32 computations differ by ~1e-5 in a probability: only pixels that close to the 0.5
# threshold can flip, a tiny fraction of any mask of this seeded net.
FP32_MASK_IOU = 0.99


@pytest.fixture(scope="module")
def mask_net():
    return seeded_pose_net(masks=True)


@pytest.fixture(scope="module")
def mask_onnx(mask_net, tmp_path_factory):
    path = tmp_path_factory.mktemp("mask_onnx") / "masks.onnx"
    export_onnx(mask_net, path, ExportOptions(size=SIZE, dcn="native", batch="dynamic"))
    return path


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def test_onnx_file_has_the_mask_outputs(mask_onnx):
    model = onnx.load(str(mask_onnx), load_external_data=False)
    assert [o.name for o in model.graph.output] == [*HEAD_NAMES, "seg_feat", "seg"]
    meta = read_metadata(model)
    assert meta["masks"] == "true" and '"seg": 432' in meta["heads"]


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_backends_give_torch_masks(mask_net, mask_onnx, real_images, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    reference = Predictor(mask_net, input_size=SIZE)
    # fp32 on both: OpenVINO's default is bf16 on CPUs that have it (the precision rule)
    other = Predictor(mask_onnx, backend=backend, input_size=SIZE, precision="fp32")
    compared = 0
    for image in real_images[:3]:
        ranked = clear_decisions(reference.head_maps([image]), 5).ranked
        expected = reference.predict(image, max_persons=ranked)
        got = other.predict(image, max_persons=ranked)
        for want, have in zip(expected, got):
            assert have.mask.shape == image.shape[:2]
            assert want.mask.any() and not want.mask.all()
            assert _mask_iou(want.mask, have.mask) > FP32_MASK_IOU
            compared += 1
    assert compared >= 3
