"""Checkpoint I/O in CenterNet's format: `{'epoch': int, 'state_dict': {...}, 'optimizer': ...}`.

`filter_state_dict` is the one place that knows the key dialects: upstream DataParallel
(`module.`), the unused ImageNet classifier (`base.fc.*`), and tensorboy/centerpose's
`backbone_model.` / `head_model.` prefixes. Loading never unpickles code
(`torch.load(weights_only=True)`).
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from centerpose_core.atomic_write import atomic_write_bytes
from centerpose_core.constants import MASK_HEADS
from centerpose_core.model.pose_net import PoseNet, build_pose_net

# Keys present in real CenterNet checkpoints that the model deliberately does not have: the
# ImageNet classifier of DLA-34 (CenterNet builds its backbone with pretrained=True).
IGNORED_KEYS = frozenset({"base.fc.weight", "base.fc.bias"})
_PREFIX_RENAMES = (
    (re.compile(r"^backbone_model\.(base|dla_up|ida_up)\."), r"\1."),
    (re.compile(r"^head_model\."), ""),
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


@dataclass
class LoadReport:
    """What a (possibly non-strict) load did with each key."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: checkpoint shape vs model shape"

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 12) -> str:
        parts = []
        for label, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("mis-shaped", self.mismatched),
        ):
            if keys:
                shown = ", ".join(keys[:limit]) + (
                    f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
                )
                parts.append(f"{len(keys)} {label} key(s): {shown}")
        return "; ".join(parts) if parts else "all keys matched"


def filter_state_dict(state_dict: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Normalise a CenterNet / tensorboy-centerpose state_dict to this model's key names."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        for pattern, replacement in _PREFIX_RENAMES:
            key = pattern.sub(replacement, key)
        if key in IGNORED_KEYS:
            continue
        out[key] = value
    return out


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint file safely; returns the whole dict with a normalised `state_dict`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before failing cleanly
            warnings.simplefilter("ignore", UserWarning)
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = _weights_only_detail(exc)
        if "GLOBAL" in detail:
            raise CheckpointError(
                f"{path}: refused to load: the file asks to import code or non-tensor objects "
                f"({detail}); only weights-only checkpoints are accepted"
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({detail})") from None
    except Exception as exc:  # torch.load on arbitrary bytes can raise almost anything
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupt?): "
            f"{type(exc).__name__}: {first_line}"
        ) from None
    if isinstance(raw, Mapping) and "state_dict" in raw:
        checkpoint = dict(raw)
        state_dict = raw["state_dict"]
    else:
        checkpoint, state_dict = {}, raw
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise CheckpointError(
            f"{path}: not a model checkpoint: expected a dict with 'state_dict' or a state_dict, "
            f"got {type(raw).__name__}"
        )
    bad = [k for k, v in state_dict.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: not a model checkpoint: non-tensor entries such as {bad[0]!r}")
    checkpoint["state_dict"] = filter_state_dict(state_dict)
    return checkpoint


def _weights_only_detail(exc: Exception) -> str:
    """The informative line of torch's weights-only unpickler error (it wraps it in boilerplate)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or "Unsupported" in line:
            return line.replace("WeightsUnpickler error: ", "")
    return lines[-1] if lines else type(exc).__name__


def load_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    strict: bool = True,
    source: str = "state_dict",
) -> LoadReport:
    """Copy matching tensors into `model`.

    Strict: any missing, unexpected or mis-shaped key raises a CheckpointError listing them by
    name and nothing is loaded. Non-strict (fine-tuning from e.g. a ctdet checkpoint): every key
    whose name and shape match is loaded and the report lists the rest.
    """
    state_dict = filter_state_dict(state_dict)
    own = model.state_dict()
    report = LoadReport()
    report.missing = [k for k in own if k not in state_dict]
    report.unexpected = [k for k in state_dict if k not in own]
    for key, value in state_dict.items():
        if key not in own:
            continue
        if tuple(value.shape) != tuple(own[key].shape):
            report.mismatched.append(f"{key}: {tuple(value.shape)} vs {tuple(own[key].shape)}")
        else:
            report.loaded.append(key)
    if strict and not report.complete:
        raise CheckpointError(f"{source}: does not match the multi-pose DLA-34 model: {report.describe()}")
    model.load_state_dict({k: state_dict[k] for k in report.loaded}, strict=False)
    return report


def load_checkpoint(
    path: str | Path, model: nn.Module, *, strict: bool = True
) -> tuple[LoadReport, dict[str, Any]]:
    """Load a checkpoint file into `model`; returns the report and the rest of the checkpoint."""
    checkpoint = read_checkpoint(path)
    report = load_state_dict(model, checkpoint["state_dict"], strict=strict, source=str(path))
    return report, checkpoint


def has_mask_heads(state_dict: Mapping[str, torch.Tensor], source: str = "state_dict") -> bool:
    """Whether a (normalised) state_dict carries the seed repo's mask branch (`seg_feat`, `seg`).

    Both heads or neither: one of them alone, or a head whose last layer has the wrong number of
    channels (`seg` must be 48 x 3 x 3 = 432 kernel weights), is a CheckpointError naming the key.
    """
    present = {name: any(k.startswith(f"{name}.") for k in state_dict) for name in MASK_HEADS}
    if not any(present.values()):
        return False
    for name, found in present.items():
        if not found:
            other = next(n for n in MASK_HEADS if n != name)
            raise CheckpointError(
                f"{source}: has the mask head '{other}' but not '{name}' (key '{name}.2.weight' "
                f"missing); a mask model needs both {' and '.join(MASK_HEADS)}"
            )
    for name, channels in MASK_HEADS.items():
        key = f"{name}.2.weight"
        weight = state_dict.get(key)
        if weight is None or weight.ndim != 4 or weight.shape[0] != channels:
            got = "missing" if weight is None else f"shape {tuple(weight.shape)}"
            raise CheckpointError(
                f"{source}: mask head key '{key}' is {got}; expected {channels} output channels"
                + (" (48 x 3 x 3 kernel weights per center)" if name == "seg" else "")
            )
    return True


def load_model(
    path: str | Path, map_location: str | torch.device = "cpu", *, require_masks: bool = False
) -> PoseNet:
    """Build the multi-pose network and strictly load a checkpoint into it (eval mode).

    A checkpoint with the mask heads `seg_feat` and `seg` builds a model with masks; one without
    builds CenterNet's six-head model (`require_masks` makes that a CheckpointError).
    """
    checkpoint = read_checkpoint(path)
    masks = has_mask_heads(checkpoint["state_dict"], source=str(path))
    if require_masks and not masks:
        raise CheckpointError(
            f"{path}: masks were asked for but the checkpoint has no mask heads "
            f"({' and '.join(MASK_HEADS)}); train one with `training/train.py --masks`"
        )
    model = build_pose_net(masks=masks)
    load_state_dict(model, checkpoint["state_dict"], strict=True, source=str(path))
    return model.to(map_location).eval()


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    epoch: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    **extra: Any,
) -> Path:
    """Write `{'epoch', 'state_dict', ['optimizer'], **extra}` atomically (`atomic_write`).

    A process dying mid-write leaves the previous file intact, never a truncated one. `extra`
    values must be weights-only-loadable (tensors, numbers, strings, lists, dicts).
    """
    module = model.module if hasattr(model, "module") else model
    payload: dict[str, Any] = {
        "epoch": int(epoch),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    payload.update(extra)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write_bytes(path, buffer.getbuffer())
