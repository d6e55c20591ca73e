"""Fine-tuning init: a CenterNet ctdet checkpoint (other heads) fills the backbone non-strictly."""

from __future__ import annotations

import torch

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
    import importlib.util

    from train_helpers import TRAIN_SCRIPT

    spec = importlib.util.spec_from_file_location("train_script", TRAIN_SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
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
