"""Does the mask branch cost keypoint AP? (issue 21: "within 1 AP of the model without it").

Two CenterNet DLA-34 models trained from scratch on the CPU with the same seed, data, schedule and
steps, one with the mask branch (`--masks`: heads `seg_feat`, `seg` and the `seg_loss` term at its
default weight 1) and one without; both scored on one held-out synthetic set of >= 500 persons:
  * keypoint AP of each (pycocotools COCOeval, the code `centerpose eval` uses), and the paired
    bootstrap 95 % interval of AP(masks) - AP(no masks) (`train.paired_bootstrap`, images resampled);
  * COCO `segm` AP of the mask model (masks decoded as `centerpose eval` does).

Data (128x128, fixed grey background, 1-2 figures 55-90 % of the image height, as phase 1 of
`train_quant_reference.sh`): training set seed 11, held-out set seed 12. Both trainings run at once,
each `nice` and on one thread (2-core machine); checkpoints stay under --root (runs/ is ignored).

The interval is over held-out images, so more held-out persons narrow it without retraining:
`--extra-heldout N` adds a second held-out set of N images from the same generator and settings
with another seed (`--extra-seed`, default 13; never the training seed), and the evaluation scores
both models on the union of the sets. Predictions are kept per set and model under --root and
reused while the checkpoint is older than them, so more bootstrap rounds cost no new inference.

    .venv/bin/python benchmarks/mask_branch_ap.py                 # data, both trainings, evaluation
    .venv/bin/python benchmarks/mask_branch_ap.py --phase eval    # only the evaluation / table
    .venv/bin/python benchmarks/mask_branch_ap.py --phase eval --extra-heldout 700 --rounds 1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = {"no masks": "no_masks", "masks": "masks"}
TRAIN_SEED, HELDOUT_SEED = 11, 12


def synthetic_config():
    from centerpose_core.data.synthetic import SyntheticConfig

    return SyntheticConfig(
        image_size=(128, 128),
        persons=(1, 2),
        height_fraction=(0.55, 0.9),
        background="fixed",
        allow_outside=False,
        pose_jitter=0.6,
    )


def extra_set_name(seed: int) -> str:
    return f"heldout128_seed{seed}"


def make_data(root: Path, train_images: int, heldout_images: int) -> None:
    from centerpose_core.data.synthetic import write_synthetic_dataset

    if not (root / "train128" / "annotations.json").is_file():
        write_synthetic_dataset(root / "train128", train_images, synthetic_config(), seed=TRAIN_SEED)
    if not (root / "heldout128" / "annotations.json").is_file():
        write_synthetic_dataset(root / "heldout128", heldout_images, synthetic_config(), seed=HELDOUT_SEED)


def make_extra_heldout(root: Path, images: int, seed: int) -> None:
    """A further held-out set like heldout128 but from `seed` (not the training or first held-out seed)."""
    from centerpose_core.data.synthetic import write_synthetic_dataset

    if seed in (TRAIN_SEED, HELDOUT_SEED):
        raise SystemExit(f"--extra-seed {seed} is the training or first held-out seed; pick another")
    out = root / extra_set_name(seed)
    if (out / "annotations.json").is_file():
        existing = len(json.loads((out / "annotations.json").read_text())["images"])
        if existing != images:
            raise SystemExit(
                f"{out} holds {existing} images, not {images}: delete it or pass --extra-heldout {existing}"
            )
        return
    write_synthetic_dataset(out, images, synthetic_config(), seed=seed)


def shared_images(root: Path, names: list[str]) -> int:
    """How many held-out images are pixel-identical to a training image or to one another (should be 0)."""
    import hashlib

    from centerpose_core.image_io import read_image

    seen: set[str] = set()
    duplicates = 0
    for name in ["train128", *names]:
        folder = root / name / "images"
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.png")):
            digest = hashlib.sha1(read_image(path).tobytes()).hexdigest()
            duplicates += digest in seen
            seen.add(digest)
    return duplicates


def train_command(root: Path, out: str, masks: bool, args: argparse.Namespace) -> list[str]:
    """train.py with the reference model's phase-1 recipe (Adam 1e-3, batch 4, no augmentation)."""
    lr_step = max(1, round(args.epochs * 0.8))
    return [
        "nice",
        sys.executable,
        str(REPO / "training" / "train.py"),
        "--train-ann", str(root / "train128" / "annotations.json"),
        "--train-images", str(root / "train128" / "images"),
        "--out", str(root / out),
        "--input-size", "128",
        "--batch-size", "4",
        "--workers", "0",
        "--device", "cpu",
        "--progress", "false",
        "--lr", "1e-3",
        "--lr-step", str(lr_step),
        "--epochs", str(args.epochs),
        "--max-steps-per-epoch", str(args.steps_per_epoch),
        "--seed", str(args.seed),
        "--flip", "0",
        "--rand-crop", "false",
        "--aug-scale", "0",
        "--aug-shift", "0",
        "--color-aug", "false",
        "--log-every", "10",
        *(["--masks"] if masks else []),
    ]  # fmt: skip


def train_both(root: Path, args: argparse.Namespace) -> None:
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    running = []
    for name, out in MODELS.items():
        cmd = train_command(root, out, name == "masks", args)
        log = open(root / f"{out}.log", "w")  # noqa: SIM115 (closed below)
        print("$", " ".join(cmd), flush=True)
        running.append((out, subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    for out, process, log in running:
        if process.wait() != 0:
            raise SystemExit(f"training {out} failed: see {root / (out + '.log')}")
        log.close()


def predict_all(model_path: Path, ann: Path, images: Path) -> tuple[list[dict], list[dict]]:
    """COCO keypoint and segm results of one checkpoint on every held-out image (torch fp32)."""
    from centerpose_core.data.dataset import load_coco
    from centerpose_core.image_io import read_image
    from centerpose_core.runtime import Predictor
    from centerpose_core.train.evaluate import persons_to_coco, persons_to_coco_segm

    coco = load_coco(ann)
    predictor = Predictor(str(model_path), input_size=128)
    keypoints, segm = [], []
    for image_id in sorted(coco.getImgIds()):
        image = read_image(images / coco.imgs[image_id]["file_name"])
        persons = predictor.predict(image)
        keypoints.extend(persons_to_coco(image_id, persons))
        segm.extend(persons_to_coco_segm(image_id, persons))
    return keypoints, segm


def cached_predictions(root: Path, set_name: str, out: str) -> tuple[list[dict], list[dict]]:
    """`predict_all` of `out` on `set_name`, cached in root/predictions while newer than the checkpoint."""
    model = root / out / "model_last.pth"
    cache = root / "predictions" / f"{set_name}__{out}.json"
    if cache.is_file() and cache.stat().st_mtime > model.stat().st_mtime:
        stored = json.loads(cache.read_text())
        return stored["keypoints"], stored["segm"]
    keypoints, segm = predict_all(model, root / set_name / "annotations.json", root / set_name / "images")
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(json.dumps({"keypoints": keypoints, "segm": segm}))
    return keypoints, segm


def top_per_image(results: list[dict], keep: int = 20) -> list[dict]:
    """Each image's `keep` highest-scoring results (ties: the earlier), in their order: all that
    keypoint COCOeval reads (it sorts each image's results by score, stably, and keeps maxDets=20),
    so the AP is unchanged and each bootstrap round loads a fifth of the results."""
    by_image: dict[int, list[tuple[int, dict]]] = {}
    for position, r in enumerate(results):
        by_image.setdefault(r["image_id"], []).append((position, r))
    kept = []
    for entries in by_image.values():
        kept += sorted(entries, key=lambda e: -e[1]["score"])[:keep]  # sorted() is stable
    return [r for _, r in sorted(kept, key=lambda e: e[0])]


def merged_ground_truth(root: Path, set_names: list[str]) -> tuple[dict, list[int]]:
    """One COCO dataset of all held-out sets, image and annotation ids shifted per set; the shifts."""
    merged: dict = {}
    offsets, next_image, next_ann = [], 0, 0
    for name in set_names:
        data = json.loads((root / name / "annotations.json").read_text())
        offsets.append(next_image)
        if not merged:
            merged = {**data, "images": [], "annotations": []}
        merged["images"] += [{**img, "id": img["id"] + next_image} for img in data["images"]]
        merged["annotations"] += [
            {**a, "id": a["id"] + next_ann, "image_id": a["image_id"] + next_image}
            for a in data["annotations"]
        ]
        next_image += max(img["id"] for img in data["images"])
        next_ann += max(a["id"] for a in data["annotations"])
    return merged, offsets


def evaluate(root: Path, rounds: int, set_names: list[str]) -> dict:
    from pycocotools.coco import COCO

    from centerpose_core.train.evaluate import coco_keypoint_stats
    from centerpose_core.train.paired_bootstrap import paired_ap_bootstrap

    dataset, offsets = merged_ground_truth(root, set_names)
    coco = COCO()
    coco.dataset = dataset
    coco.createIndex()
    ids = sorted(coco.getImgIds())
    persons = sum(1 for a in coco.dataset["annotations"] if a.get("num_keypoints", 1) > 0)
    table: dict = {
        "heldout_sets": set_names,
        "heldout_images": len(ids),
        "heldout_persons": persons,
        "rows": {},
    }
    results = {}
    for name, out in MODELS.items():
        start = time.perf_counter()
        keypoints, segm, per_set = [], [], {}
        for set_name, offset, next_offset in zip(set_names, offsets, [*offsets[1:], None]):
            set_keypoints, set_segm = cached_predictions(root, set_name, out)
            keypoints += [{**r, "image_id": r["image_id"] + offset} for r in set_keypoints]
            segm += [{**r, "image_id": r["image_id"] + offset} for r in set_segm]
            set_ids = [i for i in ids if i > offset and (next_offset is None or i <= next_offset)]
            per_set[set_name] = coco_keypoint_stats(coco, keypoints, set_ids)["AP"]
        results[name] = top_per_image(keypoints)
        row = {"AP": coco_keypoint_stats(coco, keypoints, ids)["AP"], "AP_per_set": per_set}
        if coco_keypoint_stats(coco, results[name], ids)["AP"] != row["AP"]:
            raise SystemExit(f"{name}: AP of each image's top 20 results differs from all results'")
        if name == "masks":
            row["segm_AP"] = coco_keypoint_stats(coco, segm, ids, iou_type="segm")["AP"]
        checkpoint = json.loads((root / out / "config.json").read_text())
        row["steps"] = checkpoint["epochs"] * checkpoint["max_steps_per_epoch"]
        row["eval_s"] = round(time.perf_counter() - start, 1)
        table["rows"][name] = row
    start = time.perf_counter()
    low, high = paired_ap_bootstrap(coco.dataset, results["masks"], results["no masks"], rounds=rounds)
    table["bootstrap_s"] = round(time.perf_counter() - start, 1)
    table["AP_difference"] = table["rows"]["masks"]["AP"] - table["rows"]["no masks"]["AP"]
    table["AP_difference_95"] = [low, high]
    table["bootstrap_rounds"] = rounds
    return table


def print_table(table: dict) -> None:
    sets = " + ".join(table.get("heldout_sets", ["heldout128"]))
    print(
        f"held-out ({sets}): {table['heldout_images']} images, {table['heldout_persons']} persons (128x128)"
    )
    print("| model | steps | keypoint AP | segm AP |")
    print("|---|---|---|---|")
    for name, row in table["rows"].items():
        segm = f"{row['segm_AP']:.3f}" if "segm_AP" in row else "-"
        print(f"| {name} | {row['steps']} | {row['AP']:.3f} | {segm} |")
    for name, row in table["rows"].items():
        print(
            f"{name}: AP per set " + ", ".join(f"{k} {v:.3f}" for k, v in row.get("AP_per_set", {}).items())
        )
    low, high = table["AP_difference_95"]
    print(
        f"AP(masks) - AP(no masks) = {table['AP_difference'] * 100:+.1f} AP, paired bootstrap 95 % "
        f"[{low * 100:+.1f}, {high * 100:+.1f}] ({table['bootstrap_rounds']} rounds)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=REPO / "runs" / "mask_ap")
    p.add_argument("--phase", choices=("all", "data", "train", "eval"), default="all")
    p.add_argument("--train-images", type=int, default=600)
    p.add_argument("--heldout-images", type=int, default=400, help="~1.5 persons per image")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=40)
    p.add_argument("--seed", type=int, default=317)
    p.add_argument("--extra-heldout", type=int, default=0, help="images of a further held-out set (0: none)")
    p.add_argument("--extra-seed", type=int, default=13, help="generator seed of the further held-out set")
    p.add_argument("--rounds", type=int, default=200, help="bootstrap rounds")
    args = p.parse_args()
    root = args.root
    root.mkdir(parents=True, exist_ok=True)
    set_names = ["heldout128"]
    if args.phase in ("all", "data"):
        make_data(root, args.train_images, args.heldout_images)
    if args.extra_heldout > 0:
        make_extra_heldout(root, args.extra_heldout, args.extra_seed)
        set_names.append(extra_set_name(args.extra_seed))
        print(
            "held-out images identical to a training or another held-out image:",
            shared_images(root, set_names),
        )
    if args.phase in ("all", "train"):
        train_both(root, args)
    if args.phase in ("all", "eval"):
        table = evaluate(root, args.rounds, set_names)
        (root / "table.json").write_text(json.dumps(table, indent=2))
        print_table(table)


if __name__ == "__main__":
    main()
