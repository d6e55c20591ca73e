#!/usr/bin/env python3
"""Training throughput numbers (printed, never asserted).

    python benchmarks/bench_training.py [--ann ANN.json --images DIR] [--size 512] [--batch 4]

Prints one JSON object:
- `data_samples_per_s_per_worker`: CocoKeypointDataset samples/s in one process (one loader worker's
  work) with the full training augmentation at `--size`;
- `train_step_s`: median wall time of one optimiser step (forward, MultiPoseLoss, backward, Adam)
  for a batch of `--batch` at `--size` on `--device` (`train_step_cpu_s`: its process CPU time,
  which stays meaningful when other jobs share the cores);
- `loader_worker_peak_rss_mb`: VmHWM of a real DataLoader worker process after `--worker-samples` samples.
Without `--ann` it uses ../shared/data/coco_mini when present, else a synthetic 640x480 set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch.utils.data import DataLoader

from centerpose_core.data.dataset import CocoKeypointDataset

SHARED_COCO = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco_mini"


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class _RssProbe(torch.utils.data.Dataset):
    """Wraps a dataset; every item also reports the loading process's peak RSS."""

    def __init__(self, dataset: CocoKeypointDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        sample = self.dataset[index]
        sample["peak_rss_mb"] = _vm_hwm_mb()
        return sample


def bench_data(dataset: CocoKeypointDataset, samples: int) -> float:
    dataset.set_epoch(0)
    for i in range(min(2, len(dataset))):
        dataset[i]
    start = time.perf_counter()
    for i in range(samples):
        if i % len(dataset) == 0:
            dataset.set_epoch(i // len(dataset) + 1)
        dataset[i % len(dataset)]
    return samples / (time.perf_counter() - start)


def bench_worker_rss(dataset: CocoKeypointDataset, samples: int) -> float:
    loader = DataLoader(_RssProbe(dataset), batch_size=1, num_workers=1, shuffle=False)
    peak = 0.0
    for i, batch in enumerate(loader):
        peak = max(peak, float(batch["peak_rss_mb"].max()))
        if i + 1 >= samples:
            break
    return peak


def bench_step(size: int, batch: int, device: str, steps: int) -> tuple[list[float], list[float]]:
    from centerpose_core.affine import get_affine_transform
    from centerpose_core.data.codec import PoseTargetCodec
    from centerpose_core.losses import MultiPoseLoss
    from centerpose_core.model.pose_net import build_pose_net

    torch.manual_seed(0)
    model = build_pose_net().to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1.25e-4)
    criterion = MultiPoseLoss()
    out = size // 4
    codec = PoseTargetCodec(output_size=out)
    boxes = torch.tensor([[40.0, 30.0, 200.0, 400.0], [250.0, 60.0, 420.0, 480.0]]).numpy()
    kps = torch.rand(2, 17, 3).numpy() * [[[160, 370, 0]], [[170, 420, 0]]] + [[[40, 30, 2]], [[250, 60, 2]]]
    targets = codec.encode(boxes, kps, get_affine_transform((256, 256), 512, 0, (out, out)))
    batch_targets = {
        k: torch.from_numpy(v).unsqueeze(0).repeat(batch, *([1] * v.ndim)).to(device)
        for k, v in targets.items()
    }
    inputs = torch.randn(batch, 3, size, size, device=device)
    times, cpu_times = [], []
    for _ in range(steps + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss, _ = criterion(model(inputs), batch_targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return times[1:], cpu_times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ann", help="COCO keypoint json (default: shared coco_mini or a synthetic set)")
    parser.add_argument("--images", help="image folder for --ann")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-samples", type=int, default=40)
    parser.add_argument("--worker-samples", type=int, default=20)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    tmp = None
    if args.ann:
        ann, images = Path(args.ann), Path(args.images)
    elif (SHARED_COCO / "annotations" / "person_keypoints_mini.json").is_file():
        ann, images = SHARED_COCO / "annotations" / "person_keypoints_mini.json", SHARED_COCO / "images"
    else:
        from centerpose_core.data.synthetic import SyntheticConfig, write_synthetic_dataset

        tmp = tempfile.TemporaryDirectory()
        ann = write_synthetic_dataset(tmp.name, 8, SyntheticConfig(image_size=(640, 480)), seed=0)
        images = Path(tmp.name) / "images"
    dataset = CocoKeypointDataset(ann, images, input_size=args.size, train=True)
    result = {
        "dataset": str(ann),
        "size": args.size,
        "torch_threads": torch.get_num_threads(),
        "data_samples_per_s_per_worker": round(bench_data(dataset, args.data_samples), 2),
        "loader_worker_peak_rss_mb": round(bench_worker_rss(dataset, args.worker_samples), 1),
    }
    step_times, cpu_times = bench_step(args.size, args.batch, args.device, args.steps)
    result.update(
        {
            "device": args.device,
            "batch": args.batch,
            "train_step_s": round(statistics.median(step_times), 3),
            "train_step_s_all": [round(t, 3) for t in step_times],
            "train_step_cpu_s": round(statistics.median(cpu_times), 3),
        }
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
