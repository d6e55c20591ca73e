"""Share of forward time spent in the 16 deformable convolutions, per runtime, from each runtime's
own profiler (benchmarks/bench_runtimes.py).

"In the DCNs" means the deformable-convolution operators themselves (sampling and their matmul:
OpenVINO's `DeformableConvolution`, ONNX Runtime's `DeformConv`, torchvision's `deform_conv2d`),
not the ordinary convolutions that compute their offsets and masks. The share is over the
operators' own times (OpenVINO's per-layer counters `PERF_COUNT`, ONNX Runtime's session profiler,
torch's profiler), so it is comparable between rows measured under the same load.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np


def openvino_share(backend, batch: np.ndarray, runs: int = 3) -> dict[str, object]:
    """OpenVINO: the backend's model compiled again with PERF_COUNT, in its precision."""
    model = backend.model.clone()
    model.reshape({backend.input_name: list(batch.shape)})
    compiled = backend.core.compile_model(model, "CPU", {**backend.config, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    request.infer({0: batch})
    dcn = total = 0.0
    kinds: set[str] = set()
    for _ in range(runs):
        request.infer({0: batch})
        for layer in request.profiling_info:
            if layer.status != layer.Status.EXECUTED:
                continue
            ms = layer.real_time.total_seconds() * 1e3
            total += ms
            if layer.node_type == "DeformableConvolution":
                dcn += ms
                kinds.add(layer.exec_type)
    share = dcn / total
    return {"dcn_ms": dcn / runs, "layers_ms": total / runs, "share": share, "dcn_kernel": sorted(kinds)}


def onnxruntime_share(backend, batch: np.ndarray, runs: int = 3) -> dict[str, object]:
    """ONNX Runtime: a profiling session over the backend's file with its providers and threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp(prefix="ort_profile_")) / "run")
    threads = backend.session.get_session_options().intra_op_num_threads
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(backend.path), sess_options=options, providers=backend.providers)
    name = session.get_inputs()[0].name
    session.run(None, {name: batch})
    for _ in range(runs):
        session.run(None, {name: batch})
    events = json.loads(Path(session.end_profiling()).read_text())
    dcn = total = 0.0
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        total += event["dur"]
        if event.get("args", {}).get("op_name") == "DeformConv":
            dcn += event["dur"]
    # the warm-up run is in the trace too: shares are unaffected, ms are per run of runs + 1
    return {"dcn_ms": dcn / 1e3 / (runs + 1), "layers_ms": total / 1e3 / (runs + 1), "share": dcn / total}


def torch_share(backend, batch: np.ndarray, runs: int = 2) -> dict[str, object]:
    """torch eager: torchvision's deform_conv2d with what it calls (its im2col matmuls) over the
    sum of every operator's self time."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    inputs = torch.from_numpy(np.ascontiguousarray(batch))
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            backend.model(inputs)
    dcn = total = 0.0
    for event in prof.key_averages():
        total += event.self_cpu_time_total
        if event.key == "torchvision::deform_conv2d":
            dcn += event.cpu_time_total
    return {"dcn_ms": dcn / 1e3 / runs, "layers_ms": total / 1e3 / runs, "share": dcn / total}


def dcn_share(predictor, image: np.ndarray) -> dict[str, object] | None:
    """The share for this Predictor's backend on this image's network input (None: no profiler here)."""
    shape = next(iter(predictor._group_by_input([image])))
    batch, _ = predictor._prepare([image], shape)
    measure = {"openvino": openvino_share, "onnxruntime": onnxruntime_share, "torch": torch_share}
    function = measure.get(predictor.backend.name)
    return None if function is None else function(predictor.backend, batch.copy())
