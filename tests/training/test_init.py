"""Fine-tuning init: a CenterNet ctdet checkpoint (other heads) fills the backbone non-strictly."""

from __future__ import annotations

import pytest
import torch
from train_helpers import REPO

from centerpose_core.model.pose_net import build_pose_net
from centerpose_core.train.config import make_config
from centerpose_core.train.loop import Trainer


def test_init_from_ctdet_checkpoint_loads_matching_tensors(easy_set, tmp_path) -> None:
    torch.manual_seed(123)
    donor = build_pose_net().state_dict()
    # A ctdet model: same backbone/neck, an 80-class `hm`, `wh` and `reg`, no pose heads.
    ctdet = {k: v for k, v in donor.items() if not k.startswith(("hps.", "hm_hp.", "hp_offset."))}
    ctdet["hm.2.weight"] = torch.zeros(80, 256, 1, 1)
    ctdet["hm.2.bias"] = torch.zeros(80)
    path = tmp_path / "ctdet_dla_2x.pth"
    torch.save({"epoch": 230, "state_dict": {f"module.{k}": v for k, v in ctdet.items()}}, path)

    ann, images = easy_set
    config = make_config(
        {"train_ann": str(ann), "train_images": str(images), "out": str(tmp_path / "run"), "init": str(path)},
        {"input_size": 64, "batch_size": 2, "workers": 0, "device": "cpu", "epochs": 1},
    )
    model = Trainer(config).model.state_dict()
    torch.testing.assert_close(model["base.base_layer.0.weight"], donor["base.base_layer.0.weight"])
    torch.testing.assert_close(model["ida_up.proj_1.conv.weight"], donor["ida_up.proj_1.conv.weight"])
    torch.testing.assert_close(model["wh.2.weight"], donor["wh.2.weight"])
    assert model["hm.2.weight"].shape == (1, 256, 1, 1)  # mis-shaped: kept from the fresh model
    assert not torch.equal(model["hps.0.weight"], donor["hps.0.weight"])  # absent: fresh init


def test_yaml_config_then_flags_override(tmp_path) -> None:
    script = _script()
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text(
        "train_ann: a.json\ntrain-images: imgs\nepochs: 7\nbatch_size: 64\nlr_step: [3, 5]\n"
    )
    config = script.config_from_args(["--config", str(yaml_file), "--epochs", "9", "--lr-step", "4,6"])
    assert (config.train_ann, config.train_images, config.epochs, config.batch_size) == (
        "a.json",
        "imgs",
        9,
        64,
    )
    assert config.lr_step == (4, 6)
    assert config.learning_rate == 1.25e-4 * 64 / 32  # linear scaling of the original recipe
    assert script.config_from_args(["--train-ann", "a", "--train-images", "b", "--resume"]).resume == "last"


def _script():
    import importlib.util

    from train_helpers import TRAIN_SCRIPT

    spec = importlib.util.spec_from_file_location("train_script", TRAIN_SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_nested_sections_from_yaml_flags_and_flat_aliases(tmp_path) -> None:
    """augment / loss are nested mappings in YAML and dotted flags; the short flat names set the same
    options; later layers win; untouched fields keep the original's defaults."""
    script = _script()
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text(
        "train_ann: a.json\ntrain_images: imgs\naugment:\n  flip: 0.25\n  rand-crop: false\n"
        "loss:\n  wh: 0.2\n  offset: 2\ncolor_aug: false\n"
    )
    config = script.config_from_args(
        ["--config", str(yaml_file), "--loss.hm-hp", "3", "--rotate-prob", "0.5"]
    )
    assert (config.augment.flip, config.augment.rand_crop, config.augment.color) == (0.25, False, False)
    assert (config.augment.rotate_prob, config.augment.scale) == (0.5, 0.4)
    assert (config.loss.hm, config.loss.wh, config.loss.offset, config.loss.hp, config.loss.hm_hp) == (
        1.0,
        0.2,
        2.0,
        1.0,
        3.0,
    )
    flags = script.config_from_args(["--config", str(yaml_file), "--flip", "0", "--augment.shift", "0.3"])
    assert (flags.augment.flip, flags.augment.shift) == (0.0, 0.3)
    assert flags.to_dict()["augment"]["flip"] == 0.0 and flags.to_dict()["loss"]["wh"] == 0.2


@pytest.mark.parametrize(
    "text, message",
    [
        ("augment:\n  flipp: 0.5\n", r"run\.yaml: unknown option\(s\): augment\.flipp"),
        ("flip: 0.1\naugment:\n  flip: 0.5\n", r"run\.yaml: option augment\.flip is given twice"),
        ("augment: 0.5\n", r"run\.yaml: 'augment' must be a mapping"),
        ("loss:\n  off: 1\n", r"run\.yaml: key False was read as a boolean: quote it"),
        ("augment:\n  flip: 2\n", r"augment\.flip must be a probability in \[0, 1\], got 2"),
        ("loss:\n  wh: -1\n", r"loss\.wh must be >= 0, got -1"),
        ("augment:\n  color: 1\n", r"option augment\.color: expected true/false, got 1"),
    ],
)
def test_bad_section_options_are_named(tmp_path, text: str, message: str) -> None:
    script = _script()
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("train_ann: a.json\ntrain_images: imgs\n" + text)
    with pytest.raises(ValueError, match=message):
        script.config_from_args(["--config", str(yaml_file)])


def test_shipped_yaml_configs_load() -> None:
    script = _script()
    for name in ("train_coco.yaml", "train_synthetic.yaml"):
        config = script.config_from_args(["--config", str(REPO / "config" / name)])
        assert config.loss.wh == 0.1
    assert (
        script.config_from_args(["--config", str(REPO / "config" / "train_synthetic.yaml")]).augment.flip
        == 0.0
    )
