"""The neck's depthwise transposed convolutions (learned 2x / 4x upsampling) rewritten as
polyphase depthwise convolutions, for OpenVINO bf16.

OpenVINO's CPU plugin (2026.4) runs a depthwise `GroupConvolutionBackpropData` in bf16 with its
generic brgconv kernel: at 512x512 the 8 of them took 113 ms of 920 (12 %, per-layer counters,
under shared load) where its fp32 depthwise kernel takes 11 ms. An upsampling by stride s with
kernel k = s + 2p (CenterNet's IDAUp: k = 2s, p = s / 2) is, per output phase (a, b), a plain
depthwise convolution of the input with the taps ky = a + p (mod s), kx = b + p (mod s); the s*s
phases interleaved by `DepthToSpace` give the same sums, and bf16 depthwise convolutions run in
the plugin's depthwise kernel (about 5 ms for all 8). Any other transposed convolution stays as it is.
"""

from __future__ import annotations

import numpy as np

TRANSPOSED = "GroupConvolutionBackpropData"


def phase_taps(kernel: int, stride: int, pad: int, phase: int) -> list[tuple[int, int]]:
    """(d, k) pairs, d ascending: output row s*m + phase sums w[k] * x[m + d] over them."""
    pairs = [((phase + pad - k) // stride, k) for k in range(kernel) if (phase + pad - k) % stride == 0]
    return sorted(pairs)


def _constant_weights(node) -> np.ndarray | None:
    """The filter values when they are a constant (possibly reshaped, as the ONNX reader does)."""
    source = node.input_value(1).get_node()
    if source.get_type_name() == "Reshape":
        source = source.input_value(0).get_node()
    if source.get_type_name() != "Constant":
        return None
    return np.array(source.get_data(), dtype=np.float32)


def _polyphase_params(node) -> tuple[np.ndarray, int, int] | None:
    """(depthwise weights (C, k, k), stride, pad) when `node` is an upsampling this rewrite covers."""
    if node.get_type_name() != TRANSPOSED or node.get_input_size() != 2:
        return None
    shape = node.input_value(1).get_partial_shape()
    if shape.is_dynamic or len(shape) != 5:
        return None
    groups, out_per_group, in_per_group, kernel, kernel_w = shape.to_shape()
    attributes = node.get_attributes()
    strides, begin, end = attributes["strides"], attributes["pads_begin"], attributes["pads_end"]
    covered = (
        (out_per_group, in_per_group) == (1, 1)  # depthwise
        and kernel == kernel_w
        and len(set(strides)) == 1
        and len(set(begin)) == 1
        and list(begin) == list(end)
        and list(attributes["dilations"]) == [1, 1]
        and not any(attributes.get("output_padding", []))
        and attributes.get("auto_pad") in ("explicit", "notset")
        and kernel - 2 * begin[0] == strides[0]  # output exactly stride x input
    )
    weights = _constant_weights(node) if covered else None
    if weights is None:
        return None
    return weights.reshape(groups, kernel, kernel), int(strides[0]), int(begin[0])


def _polyphase(node, weights: np.ndarray, stride: int, pad: int):
    """The s*s depthwise convolutions and the DepthToSpace that replace `node`."""
    import openvino.opset8 as ops  # only reached with a model that OpenVINO read

    channels, kernel, _ = weights.shape
    data = node.input_value(0)
    phases = []
    for a in range(stride):
        rows = phase_taps(kernel, stride, pad, a)
        for b in range(stride):
            cols = phase_taps(kernel, stride, pad, b)
            taps = weights[:, [k for _, k in rows]][:, :, [k for _, k in cols]]
            filters = ops.constant(taps.reshape(channels, 1, 1, len(rows), len(cols)))
            begin, end = [-rows[0][0], -cols[0][0]], [rows[-1][0], cols[-1][0]]
            phases.append(ops.group_convolution(data, filters, [1, 1], begin, end, [1, 1]))
    return ops.depth_to_space(ops.concat(phases, 1), "blocks_first", stride)


def polyphase_depthwise_upsampling(model) -> int:
    """Rewrite, in place, each depthwise upsampling of an `openvino.Model` that this covers
    (`_polyphase_params`); returns how many were rewritten."""
    rewritten = 0
    for node in list(model.get_ordered_ops()):
        params = _polyphase_params(node)
        if params is None:
            continue
        replacement = _polyphase(node, *params)
        replacement.set_friendly_name(node.get_friendly_name() + "/polyphase")
        for target in list(node.output(0).get_target_inputs()):
            target.replace_source_output(replacement.output(0))
        rewritten += 1
    if rewritten:
        model.validate_nodes_and_infer_types()
    return rewritten
