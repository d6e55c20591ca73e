"""torchrun with 2 CPU processes (gloo over loopback) trains exactly like the equivalent single process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import REPO, free_port, subprocess_env, train_command

from centerpose_core.model.pose_net import build_pose_net

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _logged(out: Path, tag: str) -> list[float]:
    """The values of a TensorBoard scalar the trainer wrote under `out/logs`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "logs"))
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


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
    common += ("--log-every", "1")
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
    # Logged losses are averages over the ranks: rank 0 computed only its own shard's loss, yet it
    # logs what the single process logs for the whole batch (the mean of its two micro-batches).
    single_loss, ddp_loss = _logged(single_out, "train/loss"), _logged(ddp_out, "train/loss")
    assert len(single_loss) == len(ddp_loss) == 3
    np.testing.assert_allclose(ddp_loss, single_loss, rtol=1e-4)
    np.testing.assert_allclose(
        _logged(ddp_out, "train/hm_loss"), _logged(single_out, "train/hm_loss"), rtol=1e-4
    )
    single_epoch = json.loads(single.stdout.strip().splitlines()[-1])["last_train"]
    assert json.loads(results[0])["last_train"]["loss"] == pytest.approx(single_epoch["loss"], rel=1e-4)
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


NAN_ON_RANK_ONE = """
import json, sys, torch
from centerpose_core.train.config import make_config
from centerpose_core.train.loop import Trainer

ann, images, out = sys.argv[1:4]
options = {"train_ann": ann, "train_images": images, "out": out, "input_size": 64, "batch_size": 4}
options |= {"workers": 0, "device": "cpu", "epochs": 1, "progress": False, "flip": 0.0}
trainer = Trainer(make_config(options))
rank = trainer.info.rank
batch = next(iter(trainer.loader))
if rank == 1:
    batch["hps"][0, 0] = float("nan")  # a broken target: only rank 1's loss goes NaN
before = [p.detach().clone() for p in trainer.model.parameters()]
try:
    trainer.train_step(batch, where="epoch 1 step 0")
    result = {"raised": None}
except FloatingPointError as exc:
    result = {"raised": str(exc)}
params = list(trainer.model.parameters())
result["untouched"] = all(torch.equal(a, b) for a, b in zip(before, params))
result["no_grad"] = all(p.grad is None for p in params)
with open(f"{out}/rank{rank}.json", "w") as f:
    json.dump(result, f)
torch.distributed.destroy_process_group()
"""


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not found next to the Python interpreter")
def test_non_finite_loss_on_one_rank_stops_every_rank_before_backward(small_set, tmp_path) -> None:
    """Rank 1's loss is NaN: both ranks raise (none hangs waiting in backward's all-reduce), and
    before any backward pass: no gradient exists and no weight changed on either rank."""
    ann, images = small_set
    script = tmp_path / "nan_step.py"
    script.write_text(NAN_ON_RANK_ONE)
    cmd = [TORCHRUN, "--nproc_per_node", "2", "--rdzv-backend", "c10d"]
    cmd += ["--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--max-restarts", "0"]
    cmd += [str(script), str(ann), str(images), str(tmp_path)]
    done = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result["raised"] and "non-finite loss at epoch 1 step 0" in result["raised"], result
        assert result["untouched"] and result["no_grad"], result
