"""One frozen training config: defaults of CenterNet's DLA-34 multi-pose recipe, YAML + flag overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centerpose_core.data.augment import AugmentConfig
from centerpose_core.devices import AUTO_DEVICE
from centerpose_core.loss_weights import LossWeights

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
    masks: train the seed's mask branch too (heads `seg_feat`, `seg`; targets from the annotations'
    `segmentation`; loss term `seg_loss` weighted by `loss.seg`); validation adds COCO segm AP.
    augment, loss: nested sections (YAML mappings `augment:` / `loss:`, flags `--augment.flip`,
    `--loss.wh`, ...): the augmentation (`AugmentConfig`) and the loss weights (`LossWeights`).
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
    device: str = AUTO_DEVICE
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
    masks: bool = False
    log_every: int = 10
    progress: bool = True
    augment: AugmentConfig = AugmentConfig()
    loss: LossWeights = LossWeights()

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
        for name in ("flip", "rotate_prob"):
            value = getattr(self.augment, name)
            if not 0 <= value <= 1:
                raise ValueError(f"augment.{name} must be a probability in [0, 1], got {value}")
        for name, value in dataclasses.asdict(self.loss).items():
            if value < 0:
                raise ValueError(f"loss.{name} must be >= 0, got {value}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain, weights-only-loadable dict (for checkpoints and logs)."""
        data = dataclasses.asdict(self)
        data["lr_step"] = list(self.lr_step)
        return data


# Nested sections of TrainConfig: option "section.field" sets field of the section's dataclass.
SECTIONS: dict[str, type] = {"augment": AugmentConfig, "loss": LossWeights}
# Flat names of nested options (the short flags, and the keys of earlier configs): flat -> dotted.
FLAT_ALIASES = {
    "rand_crop": "augment.rand_crop",
    "aug_scale": "augment.scale",
    "aug_shift": "augment.shift",
    "rotate_prob": "augment.rotate_prob",
    "rotate": "augment.rotate",
    "flip": "augment.flip",
    "color_aug": "augment.color",
    "hm_weight": "loss.hm",
    "wh_weight": "loss.wh",
    "off_weight": "loss.offset",
    "hp_weight": "loss.hp",
    "hm_hp_weight": "loss.hm_hp",
}
_OPTIONAL_NUMBERS = {"lr": float, "grad_clip": float, "max_steps_per_epoch": int}


def option_fields() -> dict[str, dataclasses.Field]:
    """Every option by its name: top-level fields by name, section fields as "section.field"."""
    options = {f.name: f for f in dataclasses.fields(TrainConfig) if f.name not in SECTIONS}
    for section, cls in SECTIONS.items():
        options.update({f"{section}.{f.name}": f for f in dataclasses.fields(cls)})
    return options


def _key(key: Any, source: str) -> str:
    """A mapping key as an option name ('-' -> '_'); YAML's boolean keys get a clear error."""
    if isinstance(key, bool):  # YAML 1.1 reads unquoted on/off/yes/no keys as booleans
        raise ValueError(f"{source}: key {key!r} was read as a boolean: quote it")
    return str(key).replace("-", "_")


def flatten_options(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A nested mapping (YAML) -> {option: value} with dotted section options; unknown keys raise.

    Keys may use '-' or '_'; flat aliases (`flip`) become their dotted option (`augment.flip`);
    an option given twice (`flip` and `augment: {flip}`) is an error.
    """
    flat: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if key in flat:
            raise ValueError(f"{source}: option {key} is given twice")
        flat[key] = value

    for key, value in data.items():
        name = _key(key, source)
        name = FLAT_ALIASES.get(name, name)
        if name in SECTIONS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ValueError(f"{source}: '{key}' must be a mapping of option: value, got {value!r}")
            for sub_key, sub_value in value.items():
                put(f"{name}.{_key(sub_key, source)}", sub_value)
        else:
            put(name, value)
    unknown = sorted(set(flat) - set(option_fields()))
    if unknown:
        raise ValueError(f"{source}: unknown option(s): {', '.join(unknown)}")
    return flat


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Options from a YAML mapping (sections as nested mappings); unknown keys raise naming them."""
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
    return flatten_options(data, str(path))


def _checked(name: str, value: Any, default: Any) -> Any:
    """`value` of option `name` converted to the type of its default; ValueError naming it otherwise."""
    expected = type(default) if default is not None else _OPTIONAL_NUMBERS.get(name)
    if expected is bool and not isinstance(value, bool):
        raise ValueError(f"option {name}: expected true/false, got {value!r}")
    if expected in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"option {name}: expected a number, got {value!r}")
    if expected is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"option {name}: expected an integer, got {value!r}")
    if expected is int:
        return int(value)
    if expected is float:
        return float(value)
    return value


def make_config(*layers: dict[str, Any]) -> TrainConfig:
    """Merge option layers (later wins, None values skipped) over the defaults and validate.

    A layer is a mapping as `flatten_options` reads it: flat, dotted or nested section keys.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in flatten_options(layer, "options").items() if v is not None})
    if "lr_step" in merged:
        step = merged["lr_step"]
        if isinstance(step, str):
            step = [int(s) for s in step.split(",") if s.strip()]
        elif isinstance(step, int):
            step = [step]
        merged["lr_step"] = tuple(int(s) for s in step)
    fields = option_fields()
    values = {name: _checked(name, value, fields[name].default) for name, value in merged.items()}
    top = {name: value for name, value in values.items() if "." not in name}
    for section, cls in SECTIONS.items():
        prefix = f"{section}."
        top[section] = cls(**{k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)})
    return TrainConfig(**top).validate()
