"""torchrun with 2 CPU processes (gloo over loopback) trains exactly like the equivalent single process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import REPO, free_port, subprocess_env, train_command

from centerpose_core.model.pose_net import build_pose_net

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found next to the Python interpreter")
def test_torchrun_two_processes_equal_single_process(small_set, tmp_path) -> None:
    """Weights after 3 steps of `torchrun --nproc_per_node 2` equal a single process with micro_batches=2.

    BatchNorm choice: like the original's DataParallel, each process normalises with its own
    shard's BatchNorm statistics and normalises its loss by its own shard's positives; DDP then
    averages the gradients. A single process with the same global batch of 4 and `--micro-batches 2`
    splits each batch into the same interleaved shards (sample i -> shard i % 2, which is how
    DistributedSampler deals a permutation) and averages their gradients, so every trainable
    parameter and the Adam state must agree up to float summation order (allclose, rtol 1e-4,
    atol 1e-6). Comparing with an un-split single-process batch would be wrong: full-batch BN
    statistics and loss normalisation differ from the per-shard ones by design. BN running
    statistics are buffers, not trained weights: DDP keeps rank 0's (broadcast at every forward),
    the single process folds in both shards, so they are compared only for having moved and
    being finite.
    """
    ann, images = small_set
    common = ("--epochs", "1", "--batch-size", "4", "--max-steps-per-epoch", "3", "--seed", "5")
    common += ("--repeat", "2")
    common += ("--flip", "0.5", "--val-ann", str(ann), "--val-images", str(images), "--val-every", "1")
    env = subprocess_env()

    single_out = tmp_path / "single"
    single = subprocess.run(
        train_command(ann, images, single_out, *common, "--micro-batches", "2"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-3000:]

    ddp_out = tmp_path / "ddp"
    port = free_port()
    cmd = train_command(ann, images, ddp_out, *common)
    cmd = [
        TORCHRUN,
        "--nproc_per_node",
        "2",
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        f"127.0.0.1:{port}",
        "--max-restarts",
        "0",
        *cmd[1:],
    ]
    ddp = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert ddp.returncode == 0, ddp.stderr[-3000:]

    # Only rank 0 prints the result and writes files: one result line, one TensorBoard log, no temp files.
    results = [line for line in ddp.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 1, ddp.stdout
    assert json.loads(results[0])["epochs"] == 1
    written = sorted(p.name for p in ddp_out.iterdir())
    assert written == ["config.json", "logs", "model_best.pth", "model_last.pth"]
    assert len(list((ddp_out / "logs").iterdir())) == 1

    a, b = _state(single_out / "model_last.pth"), _state(ddp_out / "model_last.pth")
    assert a["epoch"] == b["epoch"] == 1
    torch.manual_seed(5)  # the trainer's seed: both runs started from these weights, and moved away from them
    init = build_pose_net().state_dict()
    moved = sum(not torch.allclose(init[k], a["state_dict"][k], atol=1e-5) for k in init)
    assert moved > 100
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    params = [k for k in a["state_dict"] if not k.endswith(buffers)]
    assert len(params) == 245  # every trainable tensor of the 410-entry state_dict
    for key in params:
        torch.testing.assert_close(b["state_dict"][key], a["state_dict"][key], rtol=1e-4, atol=1e-6, msg=key)
    for key in a["state_dict"]:
        if key.endswith("running_var") and ".project." not in key:  # DLA's unused `project` never runs
            assert torch.isfinite(b["state_dict"][key]).all()
            assert not torch.equal(b["state_dict"][key], torch.ones_like(b["state_dict"][key])), key
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        torch.testing.assert_close(sb["exp_avg"], sa["exp_avg"], rtol=1e-3, atol=1e-7)
        assert int(sa["step"]) == int(sb["step"]) == 3
