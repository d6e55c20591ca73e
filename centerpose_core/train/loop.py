"""The training loop, readable top to bottom: one process, one GPU, or N processes under torchrun.

Distributed runs are started by `torchrun` (never by this code): it sets RANK / WORLD_SIZE /
LOCAL_RANK, we join the process group (nccl on GPU, gloo on CPU), wrap the model in
DistributedDataParallel and shard the data with DistributedSampler. Only rank 0 writes logs and
checkpoints. Each rank computes the loss of its own shard with the original's per-batch
normalisation and its own BatchNorm statistics, and DDP averages the gradients; this is what the
original's DataParallel did, and a single process reproduces it with `micro_batches = N`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from centerpose_core.data.codec import TARGET_NAMES
from centerpose_core.data.dataset import CocoKeypointDataset
from centerpose_core.devices import resolve_device
from centerpose_core.losses import LOSS_TERMS, MultiPoseLoss
from centerpose_core.model.checkpoint import (
    load_checkpoint,
    load_state_dict,
    read_checkpoint,
    save_checkpoint,
)
from centerpose_core.model.pose_net import build_pose_net
from centerpose_core.train.config import TrainConfig

log = logging.getLogger("centerpose.train")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Join torchrun's process group when launched by it; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(
        rank=int(os.environ.get("RANK", "0")),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    device = resolve_device(device)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        torch_device = torch.device("cuda", info.local_rank) if info.distributed else torch.device(device)
        torch.cuda.set_device(torch_device)
    else:
        torch_device = torch.device(device)
    if info.distributed and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch_device.type == "cuda" else "gloo")
    return info, torch_device


def build_datasets(config: TrainConfig) -> tuple[CocoKeypointDataset, CocoKeypointDataset | None]:
    train_set = CocoKeypointDataset(
        config.train_ann,
        config.train_images,
        input_size=config.input_size,
        train=True,
        augment=config.augment,
        seed=config.seed,
        repeat=config.repeat,
        masks=config.masks,
    )
    val_set = None
    if config.val_ann:
        val_set = CocoKeypointDataset(
            config.val_ann, config.val_images, input_size=config.input_size, train=False
        )
    return train_set, val_set


def scheduler_state(scheduler: torch.optim.lr_scheduler.LRScheduler) -> dict[str, Any]:
    """The scheduler's state without `collections.Counter` (not weights-only loadable)."""
    state = scheduler.state_dict()
    return {k: (dict(v) if isinstance(v, collections.Counter) else v) for k, v in state.items()}


def load_scheduler_state(scheduler: torch.optim.lr_scheduler.LRScheduler, state: dict[str, Any]) -> None:
    state = dict(state)
    if "milestones" in state:
        state["milestones"] = collections.Counter({int(k): v for k, v in state["milestones"].items()})
    scheduler.load_state_dict(state)


def split_micro_batches(batch: dict[str, torch.Tensor], parts: int) -> list[dict[str, torch.Tensor]]:
    """Interleaved chunks (sample i goes to chunk i % parts), as DistributedSampler shards a batch."""
    if parts == 1:
        return [batch]
    return [{k: v[i::parts] for k, v in batch.items()} for i in range(parts)]


class Trainer:
    """Model, optimiser, schedule, data and the epoch loop for one `TrainConfig`."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.info, self.device = setup_distributed(config.device)
        self.out = Path(config.out)
        per_rank, rem = divmod(config.batch_size, self.info.world_size)
        if rem or per_rank % config.micro_batches:
            raise ValueError(
                f"batch_size {config.batch_size} must split evenly over {self.info.world_size} process(es) "
                f"x {config.micro_batches} micro-batch(es)"
            )
        self.per_rank_batch = per_rank
        self.use_amp = config.amp and self.device.type == "cuda"

        torch.manual_seed(config.seed)
        model = build_pose_net(masks=config.masks)
        if config.init and not config.resume:
            report, _ = load_checkpoint(config.init, model, strict=False)
            self._log(f"init from {config.init}: {len(report.loaded)} tensors loaded; {report.describe()}")
        self.model = model.to(self.device)
        self.ddp: nn.Module = self.model
        if self.info.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        self.criterion = MultiPoseLoss(config.loss)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(config.lr_step), gamma=config.lr_factor
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.start_epoch = 1
        self.best_ap = -1.0
        self.global_step = 0
        if config.resume:
            self._resume(self.out / "model_last.pth" if config.resume == "last" else Path(config.resume))

        self.train_set, self.val_set = build_datasets(config)
        self.sampler = DistributedSampler(
            self.train_set,
            num_replicas=self.info.world_size,
            rank=self.info.rank,
            shuffle=config.shuffle,
            seed=config.seed,
            drop_last=True,
        )
        self.loader = DataLoader(
            self.train_set,
            batch_size=self.per_rank_batch,
            sampler=self.sampler,
            num_workers=config.workers,
            pin_memory=self.device.type == "cuda",
            drop_last=True,
        )
        if len(self.loader) == 0:
            raise ValueError(
                f"{config.train_ann}: {len(self.train_set)} training image(s) with persons is fewer than "
                f"batch_size {config.batch_size}"
            )
        self.writer = None
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "logs"))
            (self.out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))

    # ------------------------------------------------------------------ main loop
    def fit(self) -> dict[str, Any]:
        config = self.config
        last_stats: dict[str, float] = {}
        losses: dict[str, float] = {}
        for epoch in range(self.start_epoch, config.epochs + 1):
            self.sampler.set_epoch(epoch)
            self.train_set.set_epoch(epoch)
            losses = self.train_epoch(epoch)
            self.scheduler.step()
            stats: dict[str, float] = {}
            if self.val_set is not None and (epoch % config.val_every == 0 or epoch == config.epochs):
                stats = self.validate(epoch)
                last_stats = stats
            if self.info.is_main:
                self.save(epoch, stats)
                self._log(
                    f"epoch {epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in {**losses, **stats}.items())
                )
            self._barrier()
        if self.writer is not None:
            self.writer.close()
        return {
            "best_ap": self.best_ap,
            "last_val": last_stats,
            "last_train": losses,
            "epochs": config.epochs,
        }

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Mean loss and terms over the epoch's steps (each averaged over all ranks)."""
        config = self.config
        self.ddp.train()
        steps = len(self.loader)
        if config.max_steps_per_epoch is not None:
            steps = min(steps, config.max_steps_per_epoch)
        totals = dict.fromkeys(("loss", *LOSS_TERMS), 0.0)
        bar = None
        if self.info.is_main and config.progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc=f"epoch {epoch}/{config.epochs}", unit="it", dynamic_ncols=True)
        for step, batch in enumerate(self.loader):
            if step >= steps:
                break
            loss, terms = self.train_step(batch, where=f"epoch {epoch} step {step}")
            self.global_step += 1
            totals["loss"] += loss
            for k, v in terms.items():
                totals[k] += v
            if bar is not None:
                bar.set_postfix(
                    {"loss": f"{loss:.3f}", **{k.replace("_loss", ""): f"{v:.3f}" for k, v in terms.items()}}
                )
                bar.update()
            if self.writer is not None and self.global_step % config.log_every == 0:
                self.writer.add_scalar("train/loss", loss, self.global_step)
                for k, v in terms.items():
                    self.writer.add_scalar(f"train/{k}", v, self.global_step)
                self.writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], self.global_step)
        if bar is not None:
            bar.close()
        return {k: v / max(steps, 1) for k, v in totals.items()}

    def train_step(self, batch: dict[str, torch.Tensor], where: str = "") -> tuple[float, dict[str, float]]:
        """One optimiser step over this rank's batch (micro-batches accumulated).

        Raises FloatingPointError before any backward pass when the loss of any chunk on any rank
        is not finite (the weights stay untouched). Returns the loss and its terms averaged over
        the micro-batches and over all ranks (what the whole global batch scored).
        """
        config = self.config
        names = ("input", *TARGET_NAMES, *(("seg",) if self.config.masks else ()))
        batch = {k: batch[k].to(self.device, non_blocking=True) for k in names}
        chunks = split_micro_batches(batch, config.micro_batches)
        self.optimizer.zero_grad(set_to_none=True)
        sums = torch.zeros(1 + len(LOSS_TERMS), dtype=torch.float64, device=self.device)
        for i, chunk in enumerate(chunks):
            sync = i == len(chunks) - 1 or not self.info.distributed
            context = self.ddp.no_sync() if not sync else contextlib.nullcontext()
            with context:
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                    outputs = self.ddp(chunk["input"])
                loss, terms = self.criterion(outputs, chunk)
                values = torch.stack([loss.detach(), *(terms[k].detach() for k in LOSS_TERMS)])
                self._check_finite(values, where)
                self.scaler.scale(loss / len(chunks)).backward()
            sums += values.double() / len(chunks)
        if config.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.info.distributed:
            dist.all_reduce(sums)
            sums /= self.info.world_size
        loss_value, *term_values = sums.tolist()
        return loss_value, dict(zip(LOSS_TERMS, term_values))

    def _check_finite(self, values: torch.Tensor, where: str) -> None:
        """Raise on every rank (so none waits in backward) when any rank's loss is not finite."""
        bad = (~torch.isfinite(values)).any().to(torch.int32).reshape(1)
        if self.info.distributed:
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        if bad.item():
            local = dict(zip(("loss", *LOSS_TERMS), values.tolist()))
            raise FloatingPointError(
                f"non-finite loss at {where or 'this step'} (on some rank; this rank's terms: {local})"
            )

    # ------------------------------------------------------------------ validation and checkpoints
    def validate(self, epoch: int) -> dict[str, float]:
        """COCO keypoint AP on the val set (rank 0 runs it, the others wait)."""
        stats: dict[str, float] = {}
        if self.info.is_main:
            from centerpose_core.train.evaluate import SEGM_SUMMARY_STATS, SUMMARY_STATS, evaluate_model

            stats = evaluate_model(
                self.model,
                self.config.val_ann,
                self.config.val_images,
                input_size=self.config.input_size,
                flip_test=self.config.flip_test,
                device=str(self.device),
                batch_size=self.config.val_batch_size,
            )
            self.model.train()
            if self.writer is not None:
                for name in SUMMARY_STATS + tuple(f"segm_{n}" for n in SEGM_SUMMARY_STATS):
                    if name in stats:
                        self.writer.add_scalar(f"val/{name}", stats[name], epoch)
        self._barrier()
        return stats

    def save(self, epoch: int, stats: dict[str, float]) -> None:
        improved = bool(stats) and stats["AP"] > self.best_ap
        if improved:
            self.best_ap = stats["AP"]
        extra = {
            "scheduler": scheduler_state(self.scheduler),
            "scaler": self.scaler.state_dict(),
            "best_ap": float(self.best_ap),
            "global_step": int(self.global_step),
            "config": self.config.to_dict(),
        }
        save_checkpoint(
            self.out / "model_last.pth", self.model, epoch=epoch, optimizer=self.optimizer, **extra
        )
        if improved:
            save_checkpoint(self.out / "model_best.pth", self.model, epoch=epoch, val=stats, **extra)

    def _resume(self, path: Path) -> None:
        checkpoint = read_checkpoint(path)
        load_state_dict(self.model, checkpoint["state_dict"], strict=True, source=str(path))
        missing = [k for k in ("optimizer", "scheduler", "epoch") if k not in checkpoint]
        if missing:
            raise ValueError(
                f"{path}: cannot resume: checkpoint lacks {', '.join(missing)} (use --init to fine-tune)"
            )
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        load_scheduler_state(self.scheduler, checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.start_epoch = int(checkpoint["epoch"]) + 1
        self.best_ap = float(checkpoint.get("best_ap", -1.0))
        self.global_step = int(checkpoint.get("global_step", 0))
        self._log(f"resumed from {path} after epoch {checkpoint['epoch']} (best AP {self.best_ap:.4f})")

    def _barrier(self) -> None:
        if self.info.distributed:
            dist.barrier()

    def _log(self, message: str) -> None:
        if self.info.is_main:
            log.info(message)


def train(config: TrainConfig) -> dict[str, Any]:
    """Run a whole training; returns the best val AP and the last val stats (rank 0's view)."""
    start = time.perf_counter()
    trainer = Trainer(config)
    try:
        result = trainer.fit()
    finally:
        if trainer.info.distributed and dist.is_initialized():
            dist.destroy_process_group()
    result["seconds"] = time.perf_counter() - start
    return result
