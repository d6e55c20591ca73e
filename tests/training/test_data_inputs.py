"""Bad training data fails with a message naming the file and annotation; the targets command writes
exactly the original's arrays; augmentation is reproducible from the seed."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from centerpose_core.cli import main as cli_main
from centerpose_core.data.dataset import CocoKeypointDataset

EXPECTED_NPZ = {
    "input": (3, 512, 512),
    "hm": (1, 128, 128),
    "reg_mask": (32,),
    "ind": (32,),
    "wh": (32, 2),
    "hps": (32, 34),
    "hps_mask": (32, 34),
    "reg": (32, 2),
    "hm_hp": (17, 128, 128),
    "hp_offset": (544, 2),
    "hp_ind": (544,),
    "hp_mask": (544,),
}


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture()
def easy_json(easy_set) -> dict:
    return json.loads(easy_set[0].read_text())


def test_not_coco_json_is_named(tmp_path, easy_set) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json: not a COCO annotation file"):
        CocoKeypointDataset(bad, easy_set[1])
    listy = _write(tmp_path, {"images": []})
    with pytest.raises(ValueError, match=r"ann\.json: not a COCO annotation file"):
        CocoKeypointDataset(listy, easy_set[1])
    with pytest.raises(FileNotFoundError, match="missing.json"):
        CocoKeypointDataset(tmp_path / "missing.json", easy_set[1])


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("keypoints", [1, 2, 2] * 16, r"annotation id 1: 'keypoints' has 48 values, expected 51"),
        ("bbox", [5, 5, -3, 10], r"annotation id 1: negative box size"),
        ("bbox", [5, 5, 10], r"annotation id 1: 'bbox' must be \[x, y, width, height\]"),
        ("keypoints", None, r"annotation id 1: 'keypoints' has NoneType values"),
    ],
)
def test_bad_annotation_names_file_and_id(tmp_path, easy_set, easy_json, field, value, message) -> None:
    data = copy.deepcopy(easy_json)
    data["annotations"][0][field] = value
    with pytest.raises(ValueError, match=r"ann\.json: " + message):
        CocoKeypointDataset(_write(tmp_path, data), easy_set[1])


def test_degenerate_box_is_logged_and_gets_no_target(tmp_path, easy_set, easy_json, caplog) -> None:
    data = copy.deepcopy(easy_json)
    data["annotations"][0]["bbox"][2] = 0
    with caplog.at_level(logging.WARNING):
        ds = CocoKeypointDataset(_write(tmp_path, data), easy_set[1], input_size=64, train=False)
    assert "annotation id 1: degenerate box" in caplog.text
    sample = ds[0]
    assert sample["reg_mask"].sum() == 0 and sample["hm"].max() == 0 and sample["hp_mask"].sum() == 0


def test_missing_and_undecodable_images_are_named(tmp_path, easy_set, easy_json) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "000001.png").write_bytes(b"this is not a png")
    ds = CocoKeypointDataset(easy_set[0], images, input_size=64, train=False)
    with pytest.raises(ValueError, match=r"000001\.png: image could not be decoded \(image id 1\)"):
        ds[0]
    with pytest.raises(FileNotFoundError, match=r"000002\.png: image file not found \(image id 2\)"):
        ds[1]


def test_augmentation_is_reproducible_from_seed(easy_set) -> None:
    ann, images = easy_set
    a = CocoKeypointDataset(ann, images, input_size=64, seed=3)
    b = CocoKeypointDataset(ann, images, input_size=64, seed=3)
    c = CocoKeypointDataset(ann, images, input_size=64, seed=4)
    a.set_epoch(2)
    b.set_epoch(2)
    c.set_epoch(2)
    for key in ("input", "hm", "hps", "hm_hp"):
        np.testing.assert_array_equal(a[1][key], b[1][key])
    assert not np.array_equal(a[1]["input"], c[1]["input"])
    b.set_epoch(3)
    assert not np.array_equal(a[1]["input"], b[1]["input"])


def test_targets_command_writes_original_arrays(shared_data, tmp_path, capsys) -> None:
    root = shared_data / "coco_mini"
    ann = root / "annotations" / "person_keypoints_mini.json"
    out = tmp_path / "targets"
    code = cli_main(
        ["targets", "--ann", str(ann), "--images", str(root / "images"), "--out", str(out), "--draw"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["images"] == 4
    ds = CocoKeypointDataset(ann, root / "images", input_size=512, train=False)
    for index, record in enumerate(ds.records):
        stem = Path(record.file_name).stem
        with np.load(out / f"{stem}.npz") as npz:
            assert {k: npz[k].shape for k in npz.files} == EXPECTED_NPZ
            sample = ds[index]
            for key in EXPECTED_NPZ:
                np.testing.assert_array_equal(npz[key], sample[key])
        assert (out / f"{stem}_hm.png").is_file() and (out / f"{stem}_hm_hp.png").is_file()


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    code = cli_main(["targets", "--ann", str(bad), "--images", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.json: not a COCO annotation file" in err and "Traceback" not in err
    code = cli_main(
        ["eval", "--model", str(tmp_path / "nope.pth"), "--ann", str(bad), "--images", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "nope.pth" in err and len(err.strip().splitlines()) == 1
