"""One frozen training config: defaults of CenterNet's DLA-34 multi-pose recipe, YAML + flag overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centerpose_core.data.augment import AugmentConfig

# The original recipe: lr 1.25e-4 for a batch of 32 images, scaled linearly with the batch size.
BASE_LR = 1.25e-4
BASE_BATCH = 32


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved into every checkpoint).

    batch_size is the global batch: under torchrun each of the N processes loads batch_size / N.
    micro_batches splits each process's batch into that many interleaved chunks whose gradients
    are accumulated (per-chunk loss normalisation and BatchNorm statistics, exactly as N data-parallel
    processes would compute them), e.g. to fit a large batch on a small GPU.
    lr None means BASE_LR * batch_size / 32. lr_step: epochs after which lr is multiplied by lr_factor.
    resume: path of a checkpoint to continue from, or "last" for `<out>/model_last.pth`.
    init: a CenterNet checkpoint to start from (loaded non-strictly: a ctdet model fills the backbone).
    max_steps_per_epoch: cap on optimiser steps per epoch (smoke tests, quick experiments).
    repeat: iterate the training images this many times per epoch (tiny datasets).
    shuffle: reshuffle the training order every epoch (False: file order, e.g. to overfit a few images
    with every batch holding the same images).
    """

    train_ann: str = ""
    train_images: str = ""
    val_ann: str | None = None
    val_images: str | None = None
    out: str = "runs/train"
    epochs: int = 140
    batch_size: int = 32
    micro_batches: int = 1
    input_size: int = 512
    lr: float | None = None
    lr_step: tuple[int, ...] = (90, 120)
    lr_factor: float = 0.1
    workers: int = 4
    device: str = "auto"
    amp: bool = True
    grad_clip: float | None = None
    init: str | None = None
    resume: str | None = None
    val_every: int = 5
    val_batch_size: int = 8
    flip_test: bool = False
    seed: int = 317
    max_steps_per_epoch: int | None = None
    repeat: int = 1
    shuffle: bool = True
    log_every: int = 10
    progress: bool = True
    # augmentation (train only): flat names for the command line, defaults from AugmentConfig
    rand_crop: bool = AugmentConfig.rand_crop
    aug_scale: float = AugmentConfig.scale
    aug_shift: float = AugmentConfig.shift
    rotate_prob: float = AugmentConfig.rotate_prob
    rotate: float = AugmentConfig.rotate
    flip: float = AugmentConfig.flip
    color_aug: bool = AugmentConfig.color
    # loss weights, as MultiPoseLoss
    hm_weight: float = 1.0
    wh_weight: float = 0.1
    off_weight: float = 1.0
    hp_weight: float = 1.0
    hm_hp_weight: float = 1.0

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else BASE_LR * self.batch_size / BASE_BATCH

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad option; returns self."""
        if not self.train_ann or not self.train_images:
            raise ValueError("train_ann and train_images are required (--train-ann, --train-images)")
        if (self.val_ann is None) != (self.val_images is None):
            raise ValueError("give both val_ann and val_images, or neither")
        for name in (
            "epochs",
            "batch_size",
            "micro_batches",
            "val_every",
            "val_batch_size",
            "log_every",
            "repeat",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.input_size <= 0 or self.input_size % 32:
            raise ValueError(f"input_size must be a positive multiple of 32, got {self.input_size}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.lr is not None and self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if list(self.lr_step) != sorted(self.lr_step):
            raise ValueError(f"lr_step must be increasing epochs, got {list(self.lr_step)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain, weights-only-loadable dict (for checkpoints and logs)."""
        data = dataclasses.asdict(self)
        data["lr_step"] = list(self.lr_step)
        return data


def config_fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(TrainConfig)}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Options from a YAML mapping; keys may use '-' or '_'; unknown keys raise naming them."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
    options = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(options) - set(config_fields()))
    if unknown:
        raise ValueError(f"{path}: unknown option(s): {', '.join(unknown)}")
    return options


_OPTIONAL_NUMBERS = {"lr": float, "grad_clip": float, "max_steps_per_epoch": int}


def make_config(*layers: dict[str, Any]) -> TrainConfig:
    """Merge option dicts (later wins, None values skipped) over the defaults and validate."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    if "lr_step" in merged:
        step = merged["lr_step"]
        if isinstance(step, str):
            step = [int(s) for s in step.split(",") if s.strip()]
        elif isinstance(step, int):
            step = [step]
        merged["lr_step"] = tuple(int(s) for s in step)
    defaults = TrainConfig()
    for name, value in merged.items():
        default = getattr(defaults, name)
        expected = type(default) if default is not None else _OPTIONAL_NUMBERS.get(name)
        if expected is bool and not isinstance(value, bool):
            raise ValueError(f"option {name}: expected true/false, got {value!r}")
        if expected in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"option {name}: expected a number, got {value!r}")
        if expected is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"option {name}: expected an integer, got {value!r}")
        if expected is int:
            merged[name] = int(value)
    return TrainConfig(**merged).validate()
