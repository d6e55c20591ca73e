"""Checkpoint dialects, strictness and bad files (DESIGN.md, 'Checkpoints')."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from centerpose_core.model import build_pose_net
from centerpose_core.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
    read_checkpoint,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = build_pose_net()
    # Non-trivial buffers too, so a round trip that drops BN statistics would show.
    for name, buffer in net.named_buffers():
        if name.endswith("running_mean"):
            buffer.normal_()
    return net


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_save_load_round_trip_is_exact(model, tmp_path):
    path = save_checkpoint(tmp_path / "m.pth", model, epoch=7)
    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 7 and len(raw["state_dict"]) == 410  # CenterNet's format
    _assert_same_weights(model, load_model(path))


@pytest.mark.parametrize("wrap", ["bare", "module", "centernet_fc", "tensorboy"])
def test_key_dialects_load_strictly(model, tmp_path, wrap):
    sd = model.state_dict()
    if wrap == "module":
        payload = {"epoch": 1, "state_dict": {"module." + k: v for k, v in sd.items()}}
    elif wrap == "centernet_fc":  # real CenterNet files carry DLA's unused ImageNet classifier
        payload = {
            "epoch": 1,
            "state_dict": {
                **sd,
                "base.fc.weight": torch.zeros(1000, 512, 1, 1),
                "base.fc.bias": torch.zeros(1000),
            },
        }
    elif wrap == "tensorboy":
        renamed = {}
        for k, v in sd.items():
            top = k.split(".")[0]
            renamed[("backbone_model." if top in ("base", "dla_up", "ida_up") else "head_model.") + k] = v
        payload = {"state_dict": renamed}
    else:
        payload = dict(sd)
    torch.save(payload, tmp_path / "c.pth")
    _assert_same_weights(model, load_model(tmp_path / "c.pth"))


def test_strict_load_names_missing_unexpected_and_misshaped_keys(model, tmp_path):
    sd = dict(model.state_dict())
    del sd["hps.2.bias"]
    sd["extra.weight"] = torch.zeros(3)
    sd["wh.2.weight"] = torch.zeros(80, 256, 1, 1)
    torch.save({"state_dict": sd}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "bad.pth")
    message = str(info.value)
    assert str(tmp_path / "bad.pth") in message
    assert "hps.2.bias" in message and "extra.weight" in message
    assert "wh.2.weight: (80, 256, 1, 1) vs (2, 256, 1, 1)" in message


def test_non_strict_loads_a_detection_checkpoint_for_fine_tuning(model, tmp_path):
    # A ctdet checkpoint: same backbone/neck, heads hm (80 classes), wh, reg only.
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith(("hps", "hm_hp", "hp_offset"))}
    sd["hm.2.weight"] = torch.zeros(80, 256, 1, 1)
    sd["hm.2.bias"] = torch.zeros(80)
    torch.save({"epoch": 70, "state_dict": sd}, tmp_path / "ctdet.pth")
    fresh = build_pose_net()
    report, _ = load_checkpoint(tmp_path / "ctdet.pth", fresh, strict=False)
    assert sorted(report.missing) == sorted(
        f"{h}.{i}.{p}" for h in ("hps", "hm_hp", "hp_offset") for i in (0, 2) for p in ("weight", "bias")
    )
    assert [m.split(":")[0] for m in report.mismatched] == ["hm.2.weight", "hm.2.bias"]
    assert torch.equal(
        fresh.state_dict()["base.level5.root.conv.weight"], model.state_dict()["base.level5.root.conv.weight"]
    )
    assert torch.equal(fresh.state_dict()["hm.0.weight"], model.state_dict()["hm.0.weight"])


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pth: checkpoint file not found"):
        load_model(tmp_path / "missing.pth")


def test_truncated_file(model, tmp_path):
    path = save_checkpoint(tmp_path / "m.pth", model)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pth: not a readable PyTorch checkpoint"):
        load_model(truncated)


def test_random_bytes(tmp_path):
    (tmp_path / "noise.pth").write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="noise.pth"):
        load_model(tmp_path / "noise.pth")


def test_non_checkpoint_pickles(tmp_path):
    with open(tmp_path / "plain.pth", "wb") as handle:
        pickle.dump({"hello": [1, 2, 3]}, handle)
    with pytest.raises(CheckpointError, match="plain.pth: not a PyTorch checkpoint"):
        load_model(tmp_path / "plain.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="list.pth: not a model checkpoint"):
        load_model(tmp_path / "list.pth")


class _Payload:
    """Unpickling this would create a marker file: a checkpoint that tries to run code."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoint_that_runs_code_is_refused(tmp_path):
    _Payload.marker = tmp_path / "pwned"
    torch.save({"state_dict": {"w": _Payload()}}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="evil.pth: refused to load"):
        read_checkpoint(tmp_path / "evil.pth")
    assert not _Payload.marker.exists()


def test_other_architecture_is_rejected_by_name(tmp_path):
    torch.save({"state_dict": {"conv1.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError, match=r"resnet.pth: does not match .* 410 missing key\(s\)"):
        load_model(tmp_path / "resnet.pth")


def test_failed_write_keeps_the_previous_checkpoint(model, tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pth", model, epoch=1)
    before = path.read_bytes()

    def crash(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pth"]  # no temp file left behind
