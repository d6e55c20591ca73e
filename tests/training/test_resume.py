"""Resume: a run killed after epoch 1 and resumed ends exactly where an uninterrupted run ends.
Checkpoints are written atomically: killing a writer never leaves a truncated checkpoint."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from train_helpers import subprocess_env, train_command

from centerpose_core.model.checkpoint import read_checkpoint

# lr drops x0.1 after epoch 1: a resume that lost the schedule (or the Adam moments, or the
# epoch) would train epoch 2 differently and end with different weights.
RUN = ("--epochs", "2", "--batch-size", "2", "--max-steps-per-epoch", "2", "--lr-step", "1", "--seed", "9")


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"training exited early: {proc.communicate()[1][-3000:]}"
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.02)


def test_killed_and_resumed_run_equals_uninterrupted_run(small_set, tmp_path) -> None:
    ann, images = small_set
    env = subprocess_env()

    full_out = tmp_path / "full"
    full = subprocess.run(
        train_command(ann, images, full_out, *RUN), env=env, capture_output=True, text=True, timeout=600
    )
    assert full.returncode == 0, full.stderr[-3000:]

    # Same run, SIGKILLed as soon as the epoch-1 checkpoint lands (while epoch 2 trains).
    cut_out = tmp_path / "cut"
    proc = subprocess.Popen(
        train_command(ann, images, cut_out, *RUN),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(cut_out / "model_last.pth", proc, timeout=600)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert _load(cut_out / "model_last.pth")["epoch"] == 1

    resumed = subprocess.run(
        train_command(ann, images, cut_out, *RUN, "--resume"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr

    a, b = _load(full_out / "model_last.pth"), _load(cut_out / "model_last.pth")
    assert a["epoch"] == b["epoch"] == 2
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 2
    assert b["optimizer"]["param_groups"][0]["lr"] == a["optimizer"]["param_groups"][0]["lr"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        torch.testing.assert_close(b["state_dict"][key], a["state_dict"][key], rtol=0, atol=0, msg=key)
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        torch.testing.assert_close(sb["exp_avg_sq"], sa["exp_avg_sq"], rtol=0, atol=0)


WRITER = """
import sys, torch
from centerpose_core.model.checkpoint import save_checkpoint
from centerpose_core.model.pose_net import build_pose_net
model = build_pose_net()
optimizer = torch.optim.Adam(model.parameters())
for step in range(10_000):
    for p in model.parameters():
        p.data.add_(1.0)
    save_checkpoint(sys.argv[1], model, epoch=step, optimizer=None, note="x" * 1000)
    if step == 0:
        print("first", flush=True)
"""


def test_checkpoint_killed_mid_write_is_never_truncated(tmp_path) -> None:
    """SIGKILL a process that rewrites an 80 MB checkpoint in a loop, at several moments: the file
    always loads completely (the previous or the new version), never a truncated one."""
    path = tmp_path / "model_last.pth"
    env = subprocess_env()
    for delay in (0.05, 0.3, 0.7):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout.readline().strip() == "first"
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            proc.kill()
            proc.communicate()
        checkpoint = read_checkpoint(path)  # raises CheckpointError on a truncated file
        state = checkpoint["state_dict"]
        assert len(state) == 410
        # One consistent version: the head bias (initialised to -2.19) was shifted once per saved step.
        expected = torch.full_like(state["hm.2.bias"], -2.19 + checkpoint["epoch"] + 1)
        torch.testing.assert_close(state["hm.2.bias"], expected, rtol=0, atol=1e-3)
        assert checkpoint["note"] == "x" * 1000
