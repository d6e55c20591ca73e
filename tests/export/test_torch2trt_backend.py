"""torch2trt backend without a GPU: batches beyond the engine's limit run in chunks, and a .trtm file
is read without running code (a fake `torch2trt` stands in for the library, see fake_tensorrt.py).

The fake TRTModule keeps torch2trt's state-dict format (trt_module.py of NVIDIA-AI-IOT/torch2trt:
`engine` bytes, `input_names`, `output_names`, `input_flattener`/`output_flattener` as plain dicts)
and an engine with a static batch: a larger batch raises, as TensorRT's set_input_shape would.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_tensorrt import install_fake_tensorrt

from centerpose_core.constants import HEAD_NAMES, HEADS
from centerpose_core.runtime import torch2trt_backend
from centerpose_core.runtime.torch2trt_backend import (
    Torch2TRTBackend,
    Torch2TRTFileError,
    engine_batch_limit,
    load,
    read_trtm,
    save,
)


class FakeEngine:
    """A static-batch engine: input (batch, 3, S, S), or a dynamic one with a profile maximum."""

    def __init__(self, batch: int, dynamic_max: int | None = None) -> None:
        self.batch = batch
        self.dynamic_max = dynamic_max

    def get_tensor_shape(self, name):
        return (-1 if self.dynamic_max else self.batch, 3, 8, 8)

    def get_tensor_profile_shape(self, name, profile):
        return [(1, 3, 8, 8), (self.dynamic_max, 3, 8, 8), (self.dynamic_max, 3, 8, 8)]


def _fake_torch2trt(calls: list) -> types.ModuleType:
    module = types.ModuleType("torch2trt")

    class TRTModule(torch.nn.Module):
        def __init__(self, engine=None, input_names=None, output_names=None) -> None:
            super().__init__()
            self.engine, self.input_names, self.output_names = engine, input_names, output_names
            self.loaded = None

        def state_dict(self, *args, **kwargs):
            return {
                "engine": bytearray(b"serialized engine"),
                "input_names": list(self.input_names),
                "output_names": list(self.output_names),
                "input_flattener": {"schema": [0], "size": 1},
                "output_flattener": {"schema": [0, 1, 2, 3, 4, 5], "size": 6},
            }

        def load_state_dict(self, state, strict=True):
            self.loaded = dict(state)
            self.engine = FakeEngine(batch=2)
            self.input_names, self.output_names = state["input_names"], state["output_names"]

        def forward(self, x):
            calls.append(x.shape[0])
            limit = engine_batch_limit(self.engine, self.input_names[0])
            static = self.engine.get_tensor_shape(self.input_names[0])[0] != -1
            if x.shape[0] > limit or (static and x.shape[0] != limit):
                raise RuntimeError(f"engine takes batch {limit}, got {x.shape[0]}")
            # Each head: a per-image function of the input, so chunking errors show up.
            means = x.mean(dim=(1, 2, 3))
            return tuple(
                means.view(-1, 1, 1, 1).expand(-1, HEADS[name], 2, 2) * (i + 1)
                for i, name in enumerate(HEAD_NAMES)
            )

    module.TRTModule = TRTModule
    return module


@pytest.fixture
def fake_torch2trt(monkeypatch):
    calls: list[int] = []
    install_fake_tensorrt(monkeypatch, "10.3.0", gpus=1)
    monkeypatch.setitem(sys.modules, "torch2trt", _fake_torch2trt(calls))
    return calls


def _backend(module, max_batch=None):
    backend = Torch2TRTBackend(module, "cuda", max_batch=max_batch)
    backend.device = torch.device("cpu")  # the fake engine runs on the host
    return backend


def _expected(batch: np.ndarray) -> dict[str, torch.Tensor]:
    means = torch.from_numpy(batch).mean(dim=(1, 2, 3))
    return {
        name: means.view(-1, 1, 1, 1).expand(-1, HEADS[name], 2, 2) * (i + 1)
        for i, name in enumerate(HEAD_NAMES)
    }


@pytest.mark.parametrize("count", [1, 2, 5, 6])
def test_flip_and_batches_run_in_chunks_of_the_engine_batch(fake_torch2trt, count):
    module = sys.modules["torch2trt"].TRTModule(
        FakeEngine(batch=2), ["input_0"], [f"output_{i}" for i in range(6)]
    )
    batch = np.random.default_rng(count).standard_normal((count, 3, 8, 8)).astype(np.float32)
    heads = _backend(module, max_batch=2)(batch)
    assert fake_torch2trt == [2] * ((count + 1) // 2)  # the last odd image padded to the static batch
    for name, expected in _expected(batch).items():
        assert heads[name].shape[0] == count
        torch.testing.assert_close(heads[name], expected)


def test_a_dynamic_engine_gets_chunks_up_to_its_profile_maximum(fake_torch2trt):
    module = sys.modules["torch2trt"].TRTModule(FakeEngine(batch=0, dynamic_max=4), ["input_0"], ["o"] * 6)
    module.centerpose_max_batch = engine_batch_limit(module.engine, "input_0")
    batch = np.ones((10, 3, 8, 8), np.float32)
    _backend(module)(batch)
    assert fake_torch2trt == [4, 4, 2]  # no padding needed below the maximum


def test_save_and_load_round_trip_in_torch2trt_format(fake_torch2trt, tmp_path):
    module = sys.modules["torch2trt"].TRTModule(
        FakeEngine(batch=2), ["input_0"], [f"output_{i}" for i in range(6)]
    )
    module.centerpose_max_batch, module.centerpose_input_size = 2, 128
    path = save(module, tmp_path / "pose.trtm")
    state, meta = read_trtm(path)
    assert meta == {"max_batch": 2, "input_size": 128, "tensorrt_version": "10.3.0"}
    assert state["engine"] == bytearray(b"serialized engine") and state["input_names"] == ["input_0"]
    loaded = load(path)
    assert not any(key.startswith("centerpose_") for key in loaded.loaded)  # TRTModule gets its own keys
    assert (loaded.centerpose_max_batch, loaded.centerpose_input_size) == (2, 128)


def test_a_plain_torch2trt_file_runs_one_image_at_a_time(fake_torch2trt, tmp_path):
    module = sys.modules["torch2trt"].TRTModule(FakeEngine(batch=1), ["input_0"], ["o"] * 6)
    torch.save(module.state_dict(), tmp_path / "foreign.trtm")  # as torch2trt's README saves it
    assert load(tmp_path / "foreign.trtm").centerpose_max_batch == 1


class _Payload:
    """Unpickling this would create a marker file: a .trtm that tries to run code."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_trtm_that_runs_code_is_refused_before_it_runs(fake_torch2trt, tmp_path):
    _Payload.marker = tmp_path / "pwned"
    torch.save(
        {"engine": bytearray(b"x"), "input_names": ["input_0"], "output_names": ["o"], "hook": _Payload()},
        tmp_path / "evil.trtm",
    )
    with pytest.raises(Torch2TRTFileError, match=r"evil\.trtm: refused to load"):
        load(tmp_path / "evil.trtm")
    assert not _Payload.marker.exists()
    with open(tmp_path / "plain.trtm", "wb") as handle:
        pickle.dump({"engine": 1}, handle)
    with pytest.raises(Torch2TRTFileError, match=r"plain\.trtm"):
        load(tmp_path / "plain.trtm")
    torch.save({"engine": bytearray(), "input_names": "input_0"}, tmp_path / "empty.trtm")
    with pytest.raises(Torch2TRTFileError, match=r"empty\.trtm: not a TRTModule state dict \(no serialized"):
        load(tmp_path / "empty.trtm")


def test_loader_never_unpickles_with_weights_only_false():
    source = Path(torch2trt_backend.__file__).read_text()
    assert "weights_only=False" not in source
